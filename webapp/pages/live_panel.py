"""The task page's live view: the bot's page as it runs, and taking over when it asks for a person.

While the task is held by a run (running or ``action_needed``) the page keeps the task's presence
key alive (every ``PRESENCE_REFRESH`` s) — that is what makes the worker screencast at all — and
points its ``ui.interactive_image`` at ``/api/tasks/{id}/live/frame`` whenever the worker's frame
counter moved. This is the one per-page timer of the dashboard: presence cannot be pushed, and it
stops when the task is no longer held. While a card or password is typed the frames pause and the
panel says "filling payment details". A late viewer sees the last frame at once; after the task
ended the last frame stays as a picture.

In ``action_needed`` the panel shows the bot's reason and "Take over"; the controller's clicks on
the image are sent as fractions of the frame, text and Enter through the fields below it; "Resume"
hands back to the bot and "Finish by hand" records a purchase they made themselves.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import ui
from nicegui.events import MouseEventArguments

from models.access import Viewer
from models.errors import InvalidTransition, TaskNotFound
from models.live_keys import CONTROL_TTL, PRESENCE_REFRESH
from models.states import HELD, TaskStatus
from webapp import handoff
from webapp.errors import NotFound
from webapp.services import Services

S = TaskStatus
TICK = 0.5  # seconds between looks at the worker's frame counter while the task is held
SECRET_TEXT = "filling payment details"
Act = Callable[..., Awaitable[None]]  # act(action, *, order_number=None)


class LivePanel:
    def __init__(self, services: Services, task_id: uuid.UUID, *, viewer: Viewer, act: Act) -> None:
        self.services = services
        self.relay = services.live
        self.id = task_id
        self.viewer = viewer
        self.act = act
        self.status = ""
        self.shown = -1  # the frame counter the image shows
        self.size: tuple[float, float] | None = None  # the frame's natural size, from the image
        self.control = False  # this page holds the control lease
        self._presence_at = 0.0
        self._control_at = 0.0
        self.card = ui.card().classes("td-card w-full p-4 gap-3").props('data-testid="live-view"')
        with self.card:
            with ui.row().classes("items-center gap-2 w-full"):
                ui.icon("live_tv", size="20px").classes("text-grey-7")
                ui.label("Live view").classes("text-base font-semibold text-grey-9")
                self.secret = ui.label(SECRET_TEXT).classes("text-sm text-orange-9")
                self.secret.props('data-testid="live-secret"')
            self.attention = ui.row().classes(
                "w-full items-center gap-3 p-3 rounded bg-orange-1 text-orange-10 border-l-4 border-orange-8"
            )
            with self.attention.props('data-testid="attention"'):
                ui.icon("front_hand", size="28px").classes("text-orange-8")
                with ui.column().classes("gap-0 grow"):
                    ui.label("The bot needs a person").classes("text-lg font-semibold")
                    self.reason = ui.label("").classes("text-sm").props('data-testid="attention-reason"')
                self.take = ui.button("Take over", icon="pan_tool_alt", on_click=self.take_over).props(
                    'unelevated no-caps color=deep-orange-7 data-testid="take-over"'
                )
                self.resume = ui.button("Resume", icon="play_circle", on_click=self.hand_back).props(
                    'unelevated no-caps color=primary data-testid="hand-back"'
                )
                ui.button("Finish by hand", icon="shopping_cart_checkout", on_click=self._ask_order).props(
                    'outline no-caps color=deep-orange-7 data-testid="finish"'
                )
            self.image = ui.interactive_image(events=["click"], on_mouse=self.click).classes("w-full")
            self.image.props('data-testid="live-image"').on("loaded", self._loaded)
            self.typing = ui.row().classes("w-full items-center gap-2")
            with self.typing:
                self.text = ui.input("Type into the page").props('data-testid="live-text"').classes("grow")
                ui.button("Send", on_click=self.send_text).props('flat no-caps data-testid="live-send"')
                ui.button("Enter", on_click=lambda: self.send({"type": "key", "key": "Enter"})).props(
                    "flat no-caps"
                )
        with ui.dialog() as self.dialog, ui.card().classes("w-96"):
            ui.label("Finish by hand").classes("text-lg font-semibold")
            ui.label("The order number of the purchase you made:").classes("text-sm text-grey-8")
            self.number = ui.input("Order number").props('autofocus data-testid="finish-number"')
            with ui.row().classes("w-full justify-end"):
                ui.button("Cancel", on_click=self.dialog.close).props("flat no-caps")
                ui.button("Finish", on_click=self._finish).props(
                    'unelevated no-caps color=deep-orange-7 data-testid="confirm-finish"'
                )
        self.card.set_visibility(False)
        self.timer = ui.timer(TICK, self.tick, active=False)

    # ---- state ------------------------------------------------------------------------------

    async def show(self, status: str, reason: str | None) -> None:
        """Called with each re-read of the task: what the panel shows follows its state."""
        self.status = status
        waiting = status == S.ACTION_NEEDED
        if not waiting:
            self.control = False
        self.attention.set_visibility(waiting)
        self.reason.set_text(reason or "")
        self.take.set_visibility(waiting and not self.control)
        self.resume.set_visibility(waiting and self.control)
        self.typing.set_visibility(waiting and self.control)
        if self.relay is None:
            return
        self.timer.active = status in HELD
        await self.tick()

    async def tick(self) -> None:
        """Presence while held; a new frame when the worker's counter moved; the lease renewed."""
        if self.relay is None:
            return
        now = time.monotonic()
        try:
            # a closed tab's client lingers for NiceGUI's reconnect_timeout: it is no viewer
            watching = self.image.client.has_socket_connection
            if self.status in HELD and watching and now - self._presence_at >= PRESENCE_REFRESH:
                self._presence_at = now
                await self.relay.watch(self.id)
            if self.control and now - self._control_at >= CONTROL_TTL / 3:
                self._control_at = now
                await handoff.take_over(self.services, self.id, viewer=self.viewer)
            state = await self.relay.state(self.id)
        except (InvalidTransition, TaskNotFound, NotFound):
            self.control = False
            return
        except Exception:  # Redis away: the page goes on without its live view
            return
        self.secret.set_visibility(state.secret)
        if state.produced and state.produced != self.shown:
            self.shown = state.produced
            self.image.set_source(f"/api/tasks/{self.id}/live/frame?n={state.produced}")
            self.card.set_visibility(True)
        elif self.status in HELD:
            self.card.set_visibility(True)
        if self.status not in HELD:
            self.timer.active = False

    def _loaded(self, e: Any) -> None:
        args = e.args or {}
        if args.get("width") and args.get("height"):
            self.size = (float(args["width"]), float(args["height"]))

    # ---- taking over ------------------------------------------------------------------------

    async def take_over(self) -> None:
        try:
            await handoff.take_over(self.services, self.id, viewer=self.viewer)
        except (InvalidTransition, TaskNotFound, NotFound) as exc:
            ui.notify(str(exc), type="warning")
            return
        self.control, self._control_at = True, time.monotonic()
        await self.show(self.status, self.reason.text)

    async def click(self, e: MouseEventArguments) -> None:
        if not self.control or self.size is None:
            return
        width, height = self.size
        x, y = min(max(e.image_x / width, 0.0), 1.0), min(max(e.image_y / height, 0.0), 1.0)
        await self.send({"type": "click", "x": round(x, 4), "y": round(y, 4)})

    async def send_text(self) -> None:
        text = self.text.value or ""
        self.text.set_value("")
        if text:
            await self.send({"type": "text", "text": text[:1000]})

    async def send(self, event: dict[str, Any]) -> None:
        try:
            await handoff.send_input(self.services, self.id, event, viewer=self.viewer)
        except (InvalidTransition, TaskNotFound, NotFound) as exc:
            ui.notify(str(exc), type="warning")

    async def hand_back(self) -> None:
        await self.act("resume")

    def _ask_order(self) -> None:
        self.number.set_value("")
        self.dialog.open()

    async def _finish(self) -> None:
        number = (self.number.value or "").strip()
        if not number:
            ui.notify("Give the store's order number", type="warning")
            return
        self.dialog.close()
        await self.act("finish", order_number=number)
