"""A monitor's checks are not attempts.

A check that finds the product not available yet moves the task back to ``scheduled`` with its
attempt number unchanged (``workers/executor.py``); the attempt row its claim opened is removed
here, so ``attemptHistory`` lists real attempts only (a purchase, a failure, a retry) while a
monitor waits. What a check saw lives on the task: ``checks``, ``last_check``, ``last_check_at``,
and the next check is its ``run_at`` (``nextCheckAt`` in the API).
"""

from __future__ import annotations

import uuid

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models.tables import TaskAttempt

WAITING = "not available"  # the outcome a waiting check's attempt row was closed with


async def forget_check(session: AsyncSession, *, task_id: uuid.UUID, number: int) -> int:
    """Remove the attempt row of a check that found nothing (closed as ``WAITING``); how many went.
    A row of a newer claim (not finished yet) is never touched."""
    gone = await session.execute(
        delete(TaskAttempt)
        .where(
            col(TaskAttempt.task_id) == task_id,
            col(TaskAttempt.number) == number,
            col(TaskAttempt.outcome) == WAITING,
            col(TaskAttempt.finished_at).is_not(None),
        )
        .execution_options(synchronize_session=False)
    )
    return int(gone.rowcount or 0)  # type: ignore[attr-defined]
