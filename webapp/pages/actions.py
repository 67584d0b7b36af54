"""User actions from the pages: the models' guarded moves, one transaction per task.

Each outcome says in words what happened, for a notification. A task that became ``queued`` gets
its doorbell (``services.kick``) after the commit; a deleted task loses its artifacts too.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from nicegui import ui

from models import tasks as task_ops
from models.errors import InvalidTransition, TaskNotFound
from models.states import TaskStatus
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
}


@dataclass(frozen=True)
class Outcome:
    task_id: uuid.UUID
    action: str
    ok: bool
    message: str
    status: str | None = None  # the task's state afterwards (None when deleted or unknown)


async def run_action(
    services: Services, task_id: uuid.UUID, action: str, *, name: str = "", order_number: str | None = None
) -> Outcome:
    label = name or str(task_id)[:8]
    try:
        async with services.db.begin() as session:
            task = await task_ops.apply_action(
                session, task_id=task_id, action=action, order_number=order_number
            )
    except ValueError as exc:  # mark-bought without a usable order number
        return Outcome(task_id, action, False, f"{label}: {exc}")
    except (InvalidTransition, TaskNotFound) as exc:
        return Outcome(task_id, action, False, f"{label}: {exc}", getattr(exc, "status", None))
    if task is None:
        await asyncio.to_thread(services.artifacts.delete, str(task_id))
        return Outcome(task_id, action, True, f"{label}: deleted")
    if task.status == TaskStatus.QUEUED:
        await services.kick(task_id)
    done = "cancel requested" if action == "cancel" and task.status == TaskStatus.RUNNING else DONE[action]
    return Outcome(task_id, action, True, f"{label}: {done} ({task.status})", task.status)


async def run_bulk(
    services: Services, targets: Iterable[tuple[uuid.UUID, str]], action: str
) -> list[Outcome]:
    """The action on each (id, name), one after another: each succeeds or fails on its own."""
    return [await run_action(services, task_id, action, name=name) for task_id, name in targets]


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
