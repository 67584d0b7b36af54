"""Editing a task's fields while no worker has it: one guarded statement and its event.

``UPDATE task SET <fields>, updated_at [, status] WHERE id=:id AND status IN (EDITABLE)
RETURNING *``: a task claimed in between is not touched (``InvalidTransition``, 409). A new
start time moves a pending or scheduled task to ``scheduled`` (a paused one keeps it for its
resume); the sweeper queues it when due. The event is ``state`` when the state changed, else
``edit``, naming the fields changed (never their values).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import case, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models.errors import InvalidTransition, TaskNotFound
from models.events import publish
from models.states import EDITABLE, RESCHEDULABLE, TaskStatus
from models.tables import Task
from models.types import utcnow

S = TaskStatus
COLUMNS = frozenset({"name", "quantity", "max_price", "priority", "run_at", "mode", "check_every", "until"})


async def edit_task(session: AsyncSession, *, task_id: uuid.UUID, changes: dict[str, Any]) -> Task:
    """Set ``changes`` (column → value, from ``COLUMNS``) if the task's state allows an edit."""
    assert changes and set(changes) <= COLUMNS, changes
    reschedule = "run_at" in changes
    sources = RESCHEDULABLE if reschedule else EDITABLE
    values: dict[str, Any] = {**changes, "updated_at": utcnow()}
    if reschedule:
        values["status"] = case((col(Task.status) == S.PAUSED.value, S.PAUSED.value), else_=S.SCHEDULED.value)
    before = await session.scalar(select(col(Task.status)).where(col(Task.id) == task_id))
    task = (
        (
            await session.execute(
                update(Task)
                .where(col(Task.id) == task_id, col(Task.status).in_([s.value for s in sources]))
                .values(values)
                .returning(Task)
                .execution_options(populate_existing=True, synchronize_session=False)
            )
        )
        .scalars()
        .first()
    )
    if task is None:
        current = await session.scalar(select(col(Task.status)).where(col(Task.id) == task_id))
        if current is None:
            raise TaskNotFound(f"no task with id {task_id}")
        what = "reschedule" if reschedule and current in EDITABLE else "edit"
        raise InvalidTransition(f"cannot {what}: task is {current}", status=current)
    fields = sorted(changes)
    await publish(
        session,
        task_id=task_id,
        kind="state" if task.status != before else "edit",
        status=task.status,
        message=f"edited: {', '.join(fields)}",
        data={"fields": fields},
    )
    return task
