"""Retention: finished tasks older than ``TASKDECK_RETENTION_DAYS`` go, with their events and
attempts (foreign keys cascade); purchases stay (their ``task_id`` becomes NULL: money spent is
a record to keep). Run by the sweeper in small batches, each its own short transaction, so a
large backlog never holds long locks; safe in many workers at once (``SKIP LOCKED`` on Postgres).
Tasks in doubt (``unknown``) wait for a person and are never pruned.
"""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models.clock import db_now
from models.states import TERMINAL
from models.tables import Task

BATCH = 200  # tasks per transaction


async def prune_finished(
    session: AsyncSession, *, older_than_days: float, limit: int = BATCH
) -> list[uuid.UUID]:
    """Delete up to ``limit`` finished tasks that finished more than ``older_than_days`` ago; their ids."""
    oldest = (
        select(col(Task.id))
        .where(
            col(Task.status).in_([s.value for s in TERMINAL]),
            col(Task.finished_at) < db_now(-older_than_days * 86400),
        )
        .order_by(col(Task.finished_at))
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        oldest = oldest.with_for_update(skip_locked=True)
    rows = await session.execute(delete(Task).where(col(Task.id).in_(oldest)).returning(col(Task.id)))
    return [r[0] for r in rows]
