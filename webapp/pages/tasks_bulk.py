"""Bulk actions of ``/tasks``: on the selected rows, or on every task matching the filters.

Ticking the header checkbox of a full page (more tasks match than the page shows) offers a banner
"Select all N matching"; taken, the bulk buttons act on every matching task through the API's
filter-based bulk path (``commands.apply_matching`` with the page's ``queries.TaskFilter``).
Acting on all matching tasks, or cancelling or deleting any, first asks in a dialog that says how
many tasks it touches. The outcome is one summary notification ("48 cancelled, 2 already
finished"), never one per task.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Awaitable, Callable

from nicegui import ui

from models import queries
from models.access import Viewer
from models.states import HELD, TERMINAL
from webapp import commands
from webapp.pages import theme
from webapp.pages.actions import DONE
from webapp.services import Services

BULK = ("start", "pause", "resume", "cancel", "retry", "delete")
ASK_FIRST = ("cancel", "delete")  # asked about even for a few selected rows


def summary(action: str, done: list[commands.Done]) -> str:
    """One line for a bulk action's outcomes: ``48 cancelled, 2 already finished``."""
    said: Counter[str] = Counter()
    for d in done:
        if d.ok and action == "cancel" and d.status in HELD:
            said["cancel requested"] += 1
        elif d.ok:
            said[DONE.get(action, "done")] += 1
        elif d.status in TERMINAL:
            said["already finished"] += 1
        elif d.status:
            said[f"skipped ({d.status})"] += 1
        else:
            said["not found"] += 1
    if not said:
        return f"{action}: no tasks"
    return ", ".join(f"{n} {what}" for what, n in said.items())


async def confirm(question: str, detail: str, button: str, *, danger: bool) -> bool:
    with ui.dialog() as dialog, ui.card().classes("p-5 gap-3").props('data-testid="confirm-dialog"'):
        ui.label(question).classes("text-lg font-semibold")
        ui.label(detail).classes("text-sm text-grey-8")
        with ui.row().classes("w-full justify-end"):
            ui.button("Cancel", on_click=lambda: dialog.submit(False)).props('flat data-testid="confirm-no"')
            ui.button(button, on_click=lambda: dialog.submit(True)).props(
                f'unelevated color={"negative" if danger else "primary"} data-testid="confirm"'
            )
    result = await dialog
    dialog.delete()
    return bool(result)


class BulkBar:
    """The bulk buttons, the selection count and the "all matching" banner of the tasks table."""

    def __init__(
        self,
        services: Services,
        *,
        viewer: Viewer,
        selected: Callable[[], list[tuple[uuid.UUID, str]]],
        where: Callable[[], queries.TaskFilter],
        done: Callable[[], Awaitable[None]],
    ) -> None:
        self.services = services
        self.viewer = viewer
        self.selected = selected  # the ticked rows of the page
        self.where = where  # the page's filter
        self.done = done  # after an action: clear the selection, re-read
        self.all_matching = False
        self.busy = False  # an action is running: the page holds its re-reads until it is done
        self.matching = 0
        self.on_page = 0
        self.label = ui.label("").classes("text-sm text-grey-7").props('data-testid="selected-count"')
        self.buttons: list[ui.button] = []
        with ui.row().classes("gap-1"):
            for action in BULK:
                button = (
                    ui.button(
                        action.capitalize(),
                        icon=theme.ACTION_ICONS[action],
                        on_click=lambda a=action: self.run(a),
                    )
                    .props(
                        f'flat no-caps dense size=sm data-testid="bulk-{action}"'
                        + (" color=negative" if action in ASK_FIRST else "")
                    )
                    .classes("px-2")
                )
                button.disable()
                self.buttons.append(button)

    def build_banner(self) -> None:
        """The banner row, placed above the table by the page."""
        self.banner = ui.row().classes("w-full items-center justify-center gap-2 py-2 bg-blue-1 text-sm")
        self.banner.props('data-testid="select-all-banner"')
        with self.banner:
            self.banner_text = ui.label("")
            self.banner_button = ui.button("", on_click=self._toggle_all).props(
                'flat dense no-caps color=primary data-testid="select-all-matching"'
            )
        self.banner.set_visibility(False)

    def show(self, *, ticked: int, on_page: int, matching: int) -> None:
        """Reflect the page's selection: ``ticked`` of ``on_page`` rows, ``matching`` in all."""
        self.matching = matching
        self.on_page = on_page
        whole_page = on_page > 0 and ticked == on_page
        if not whole_page:
            self.all_matching = False
        if self.all_matching:
            self.label.set_text(f"{theme.plural(matching, 'task')} selected")
            self.banner_text.set_text(f"All {theme.plural(matching, 'matching task')} are selected.")
            self.banner_button.set_text("Clear selection")
        else:
            self.label.set_text(f"{ticked} selected" if ticked else "")
            self.banner_text.set_text(f"All {theme.plural(on_page, 'task')} on this page are selected.")
            self.banner_button.set_text(f"Select all {matching} matching")
        self.banner.set_visibility(whole_page and matching > on_page)
        for button in self.buttons:
            button.set_enabled(bool(ticked) or self.all_matching)

    async def _toggle_all(self) -> None:
        self.all_matching = not self.all_matching
        if not self.all_matching:
            await self.done()
            return
        async with self.services.db.session() as session:
            matching = await queries.count_tasks(session, viewer=self.viewer, where=self.where())
        ticked = len(self.selected())
        self.show(ticked=ticked, on_page=ticked, matching=matching)

    def reset(self) -> None:
        self.all_matching = False

    async def run(self, action: str) -> None:
        if self.busy:
            return
        self.busy = True
        acted = False
        try:
            acted = await self._run(action)
        finally:
            self.busy = False
            if acted:
                await self.done()
            else:
                self.show(ticked=len(self.selected()), on_page=self.on_page, matching=self.matching)

    async def _run(self, action: str) -> bool:
        """Ask when it should, act, report; False when nothing was done."""
        verb = action.capitalize()
        if self.all_matching:
            where = self.where()
            async with self.services.db.session() as session:
                n = await queries.count_tasks(session, viewer=self.viewer, where=where)
            question = f"{verb} {theme.plural(n, 'task')}?"
            detail = f"This acts on every task matching the current filters: {theme.plural(n, 'task')}."
            if action == "delete":
                detail += " Deleting cannot be undone."
            if not n or not await confirm(question, detail, verb, danger=action in ASK_FIRST):
                return False
            done, _ = await commands.apply_matching(self.services, where, action, viewer=self.viewer, limit=n)
        else:
            targets = self.selected()
            if not targets:
                return False
            n = len(targets)
            if action in ASK_FIRST:
                detail = ", ".join(name for _, name in targets[:3]) + (f" and {n - 3} more" if n > 3 else "")
                if action == "delete":
                    detail += ". Deleting cannot be undone."
                if not await confirm(f"{verb} {theme.plural(n, 'task')}?", detail, verb, danger=True):
                    return False
            done = await commands.apply_many(
                self.services, [i for i, _ in targets], action, viewer=self.viewer
            )
        failed = any(not d.ok for d in done)
        ui.notify(
            summary(action, done),
            type="warning" if failed else "positive",
            position="bottom-right",
            timeout=8000,
        )
        self.all_matching = False
        return True
