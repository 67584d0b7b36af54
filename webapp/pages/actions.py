"""User actions from the pages, through the command path the API uses (``webapp.commands``).

Each outcome says in words what happened, for a notification. The page's viewer is passed down:
another user's task is "not found", as over the API.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from nicegui import ui

from models.access import Viewer
from models.states import HELD, TaskStatus
from webapp import commands
from webapp.services import Services

DONE = {
    "start": "started",
    "pause": "paused",
    "resume": "resumed",
    "cancel": "cancelled",
    "retry": "queued again",
    "delete": "deleted",
    "mark-bought": "marked bought",
    "mark-not-bought": "marked not bought",
    "finish": "finished by hand",
}


@dataclass(frozen=True)
class Outcome:
    task_id: uuid.UUID
    action: str
    ok: bool
    message: str
    status: str | None = None  # the task's state afterwards (None when deleted or unknown)


async def run_action(
    services: Services,
    task_id: uuid.UUID,
    action: str,
    *,
    viewer: Viewer,
    name: str = "",
    order_number: str | None = None,
) -> Outcome:
    label = name or str(task_id)[:8]
    done = await commands.try_apply(services, task_id, action, viewer=viewer, order_number=order_number)
    if not done.ok:
        return Outcome(task_id, action, False, f"{label}: {done.error}", done.status)
    if done.task is None:
        return Outcome(task_id, action, True, f"{label}: deleted")
    status = done.task.status
    said = "cancel requested" if action == "cancel" and status in HELD else DONE[action]
    if action == "resume" and status == TaskStatus.RUNNING:
        said = "handed back to the bot"
    return Outcome(task_id, action, True, f"{label}: {said} ({status})", status)


async def run_bulk(
    services: Services, targets: Iterable[tuple[uuid.UUID, str]], action: str, *, viewer: Viewer
) -> list[Outcome]:
    """The action on each (id, name), one after another: each succeeds or fails on its own."""
    return [
        await run_action(services, task_id, action, viewer=viewer, name=name) for task_id, name in targets
    ]


def report(outcomes: list[Outcome], action: str) -> None:
    """One notification per task for a few; a summary with the failures listed for many."""
    if not outcomes:
        return
    if len(outcomes) <= 5:
        for o in outcomes:
            ui.notify(o.message, type="positive" if o.ok else "warning", position="bottom-right")
        return
    done = sum(o.ok for o in outcomes)
    failed = [o.message for o in outcomes if not o.ok]
    text = f"{action}: {done} of {len(outcomes)} tasks {DONE.get(action, 'done')}"
    if failed:
        text += "\n" + "\n".join(failed[:8]) + (f"\n… and {len(failed) - 8} more" if len(failed) > 8 else "")
    ui.notify(
        text,
        type="positive" if not failed else "warning",
        multi_line=True,
        position="bottom-right",
        classes="whitespace-pre-line",
        timeout=8000,
    )
