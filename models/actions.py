"""A person's action on a task, by name (``POST /api/tasks/{id}/actions``, the pages' buttons,
the bulk actions): each goes to the one write that does it (``models.tasks``, the order-in-doubt
marks in ``models.doubt``, the hand-off's in ``models.attention``).
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from models import attention, doubt, tasks
from models.errors import InvalidTransition
from models.states import TaskStatus
from models.tables import Task

S = TaskStatus

ACTION_FUNCS = {
    "start": tasks.start_task,
    "pause": tasks.pause_task,
    "resume": tasks.resume_task,
    "cancel": tasks.cancel_task,
}


async def apply_action(
    session: AsyncSession, *, task_id: uuid.UUID, action: str, order_number: str | None = None
) -> Task | None:
    """Run a named action; ``delete`` returns None. ``mark-bought`` takes the order number."""
    if action in ("mark-bought", "mark-not-bought"):
        if action == "mark-bought":
            return await doubt.mark_bought(session, task_id=task_id, order_number=order_number or "")
        return await doubt.mark_not_bought(session, task_id=task_id)
    if action in ("resume", "finish"):
        if action == "finish":
            return await attention.finish_by_hand(session, task_id=task_id, order_number=order_number or "")
        try:
            return await tasks.resume_task(session, task_id=task_id)
        except InvalidTransition as exc:
            if exc.status != S.ACTION_NEEDED.value:
                raise
        return await attention.hand_back(session, task_id=task_id)
    if action == "delete":
        await tasks.delete_task(session, task_id=task_id)
        return None
    if action == "retry":
        return await tasks.start_task(session, task_id=task_id, action="retry")
    if action not in ACTION_FUNCS:
        raise ValueError(f"unknown action {action!r}")
    return await ACTION_FUNCS[action](session, task_id=task_id)
