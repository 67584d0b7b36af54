"""``/failures``: failing tasks grouped by cause (``models.failures``), one card per group, with
one click to act on the whole group through the command path (the API's bulk ``failure`` filter).

The buttons say what the state machine allows: **Retry** queues the group's failed tasks again;
**Cancel** stops its retrying tasks (a failed task has already stopped — failed → cancelled is not
a move — so it is left as it is); **Delete** removes them all. Live: a state change re-reads the
groups (throttled); the viewer's tasks only, an admin's everyone's.
"""

from __future__ import annotations

import asyncio
from datetime import tzinfo

from nicegui import ui
from sqlmodel import col

from models import failures, queries
from models.access import Viewer
from models.tables import Task
from webapp import commands
from webapp.api.schemas import MAX_BULK  # the API's bound on one bulk action
from webapp.pages import theme
from webapp.pages.tasks import confirm
from webapp.pages.updates import HubWatch, Throttle, reread_on_state_changes
from webapp.services import Services

CANCEL_TIP = (
    "Stops the tasks of this group that are still retrying. Failed ones have already stopped "
    "(a failed task cannot be cancelled): retry or delete them."
)
RETRY_TIP = "Queue the failed tasks of this group again (their attempt numbers continue)"
EMPTY = "No failing tasks. Failed and retrying tasks appear here, grouped by cause."
VERBS = {"retry": "queued again", "cancel": "cancelled", "delete": "deleted"}


def summary(action: str, done: list[commands.Done]) -> str:
    """One line for a group action: "2 queued again, 1 left as it was (failed)"."""
    ok = sum(d.ok for d in done)
    text = f"{ok} {VERBS[action]}"
    refused: dict[str, int] = {}
    for d in done:
        if not d.ok:
            refused[d.status or "gone"] = refused.get(d.status or "gone", 0) + 1
    if refused:
        text += ", " + ", ".join(f"{n} left as it was ({status})" for status, n in refused.items())
    return text


class FailuresView:
    def __init__(self, services: Services, tz: tzinfo, *, viewer: Viewer) -> None:
        self.services = services
        self.tz = tz
        self.viewer = viewer
        self.refresher = Throttle(self.refresh, interval=1.0)

    def build(self) -> None:
        ui.label("Failures").classes("text-2xl font-semibold text-grey-10")
        ui.label(
            "Failed and retrying tasks grouped by cause: the step and the error, with numbers, ids, "
            "URLs and times taken out."
        ).classes("text-sm text-grey-7")
        self.groups = ui.column().classes("w-full gap-3").props('data-testid="failure-groups"')
        reread_on_state_changes(self.services.hub, self.viewer, self.refresher)

    async def refresh(self) -> None:
        async with self.services.db.session() as session:
            filters = queries.owned(self.viewer, col(Task.owner_id))
            groups = await failures.failure_groups(session, filters=filters)
        shots = await asyncio.gather(*(self._sample(g) for g in groups))
        self.groups.clear()
        with self.groups:
            if not groups:
                with theme.card():
                    ui.label(EMPTY).props('data-testid="no-failures"')
            for group, shot in zip(groups, shots, strict=True):
                self._group(group, shot)

    async def _sample(self, group: failures.FailureGroup) -> str | None:
        """The newest screenshot of the group's most recent task, as a URL."""
        if group.sample_task_id is None:
            return None
        found = await asyncio.to_thread(self.services.artifacts.list, str(group.sample_task_id))
        pictures = [a for a in found if a.kind == "screenshot"]
        return f"/api/tasks/{group.sample_task_id}/artifacts/{pictures[-1].name}" if pictures else None

    def _group(self, group: failures.FailureGroup, shot: str | None) -> None:
        with (
            theme.card().classes("w-full").props(f'data-testid="failure-group" data-count="{group.count}"'),
            ui.row().classes("w-full gap-4 no-wrap items-start"),
        ):
            if shot:
                ui.image(shot).classes("w-44 h-28 rounded border").props(
                    'fit=cover data-testid="failure-shot"'
                )
            with ui.column().classes("gap-1 grow min-w-0"):
                with ui.row().classes("items-center gap-2 no-wrap w-full"):
                    ui.badge(f"× {group.count}", color="red-7").props('data-testid="failure-count"')
                    ui.label(group.signature).classes("td-mono text-sm truncate").props(
                        'data-testid="failure-signature"'
                    ).tooltip(group.signature)
                first, last = group.first_seen, group.last_seen
                facts = (
                    f"{group.failed} failed · {group.retrying} retrying · stores: {', '.join(group.stores)}"
                    f" · first seen {theme.fmt_ago(first)} · last seen {theme.fmt_ago(last)}"
                )
                ui.label(facts).classes("text-xs text-grey-7").props(
                    f'data-testid="failure-seen" title="first {theme.fmt_exact(first, self.tz)} · '
                    f'last {theme.fmt_exact(last, self.tz)}"'
                )
                if group.sample_task_id is not None:
                    ui.link("Most recent task", f"/tasks/{group.sample_task_id}").classes("text-xs")
            with ui.row().classes("gap-1 no-wrap"):
                self._button(group, "retry", f"Retry {group.failed}", group.failed, RETRY_TIP)
                self._button(group, "cancel", f"Cancel {group.retrying}", group.retrying, CANCEL_TIP)
                self._button(group, "delete", "Delete", group.count, "Delete every task of this group")

    def _button(self, group: failures.FailureGroup, action: str, label: str, n: int, tip: str) -> None:
        button = ui.button(label, icon=theme.ACTION_ICONS[action], on_click=lambda: self.act(group, action))
        button.props(
            f'flat no-caps dense data-testid="group-{action}"'
            + (" color=negative" if action in ("cancel", "delete") else "")
        ).tooltip(tip)
        if n == 0:
            button.disable()

    async def act(self, group: failures.FailureGroup, action: str) -> None:
        if action == "delete" and not await confirm(f"Delete the {group.count} tasks of this group?"):
            return
        async with self.services.db.session() as session:
            ids = await queries.matching_task_ids(
                session, viewer=self.viewer, where=queries.TaskFilter(failure=group.signature), limit=MAX_BULK
            )
        done = await commands.apply_many(self.services, ids, action, viewer=self.viewer)
        with self.groups:  # the group's own card may have been redrawn (and deleted) meanwhile
            ui.notify(summary(action, done), type="positive", position="bottom-right", multi_line=True)
        await self.refresh()


async def render(services: Services, watch: HubWatch, tz: tzinfo, *, viewer: Viewer) -> None:
    with theme.frame("Failures", watch):
        view = FailuresView(services, tz, viewer=viewer)
        view.build()
        await view.refresh()
