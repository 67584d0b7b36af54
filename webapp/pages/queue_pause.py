"""The queue page's pause panel: what is held (everyone sees it) and, for admins, the buttons to
pause or resume the whole queue or one store (``webapp.queue_control``, as the API's)."""

from __future__ import annotations

from nicegui import ui

from models import pauses
from models.access import Viewer
from webapp import queue_control
from webapp.errors import BadInput, Forbidden
from webapp.services import Services
from workers.bots import registry


class PausePanel:
    def __init__(self, services: Services, *, viewer: Viewer) -> None:
        self.services = services
        self.viewer = viewer

    def build(self) -> None:
        with ui.row().classes("w-full items-center gap-3 rounded-lg px-4 py-2 bg-white td-card") as self.box:
            ui.icon("pause_circle", size="22px").classes("text-grey-6")
            self.state = ui.label("").classes("text-sm font-medium").props('data-testid="queue-state"')
            ui.space()
            if self.viewer.is_admin:
                stores = [s for s in registry.names() if s != "noop"] or registry.names()
                self.store = (
                    ui.select(["all stores", *stores], value="all stores")
                    .props('dense outlined data-testid="pause-store"')
                    .classes("w-40")
                )
                ui.button("Pause", icon="pause", on_click=lambda: self.act("pause")).props(
                    'unelevated no-caps color=orange-8 data-testid="queue-pause"'
                ).tooltip("Workers claim nothing new (of this store); running tasks finish")
                ui.button("Resume", icon="play_arrow", on_click=lambda: self.act("resume")).props(
                    'unelevated no-caps data-testid="queue-resume"'
                ).tooltip("Let workers claim again; queued tasks start at once")

    async def act(self, verb: str) -> None:
        store = None if self.store.value == "all stores" else str(self.store.value)
        command = queue_control.pause if verb == "pause" else queue_control.resume
        try:
            await command(self.services, viewer=self.viewer, store=store)
        except (BadInput, Forbidden) as exc:
            ui.notify(str(exc), type="warning")
            return
        await self.refresh()

    async def refresh(self) -> None:
        async with self.services.db.session() as session:
            held = await pauses.holds(session)
        if any(h.everything for h in held):
            text = "Processing paused for every store: running tasks finish, nothing new starts"
        elif held:
            text = f"Paused for {', '.join(h.store for h in held)}: their tasks wait; other stores run"
        else:
            text = "Processing: workers take queued tasks as they come"
        self.state.set_text(text)
        self.box.classes(replace="w-full items-center gap-3 rounded-lg px-4 py-2 td-card " + (
            "bg-orange-1" if held else "bg-white"
        ))  # fmt: skip
