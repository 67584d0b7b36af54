"""Read queries the JSON API needs beyond ``models.tasks``: bulk selection, recent events,
throughput, workers, purchases. All async, keyword-only, read-only.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models.states import TaskStatus
from models.tables import Profile, Purchase, Task, TaskEvent, Worker
from models.tasks import task_filters
from models.types import utcnow

S = TaskStatus


async def matching_task_ids(
    session: AsyncSession,
    *,
    statuses: Sequence[str] = (),
    store: str | None = None,
    search: str | None = None,
    limit: int,
) -> list[uuid.UUID]:
    """Ids of the tasks a filter selects, newest first, at most ``limit``."""
    rows = await session.scalars(
        select(col(Task.id))
        .where(*task_filters(statuses=statuses, store=store, search=search))
        .order_by(col(Task.created_at).desc(), col(Task.id))
        .limit(limit)
    )
    return list(rows)


async def recent_task_events(session: AsyncSession, *, task_id: uuid.UUID, limit: int) -> list[TaskEvent]:
    """The task's newest ``limit`` events, oldest first."""
    rows = await session.scalars(
        select(TaskEvent)
        .where(col(TaskEvent.task_id) == task_id)
        .order_by(col(TaskEvent.id).desc())
        .limit(limit)
    )
    return list(reversed(list(rows)))


async def profile_exists(session: AsyncSession, *, profile_id: uuid.UUID) -> bool:
    found = await session.scalar(select(col(Profile.id)).where(col(Profile.id) == profile_id))
    return found is not None


def _minute(column: Any, dialect: str) -> Any:
    if dialect == "postgresql":
        return func.date_trunc("minute", column)
    return func.strftime("%Y-%m-%d %H:%M:00", column)


async def throughput(
    session: AsyncSession, *, minutes: int = 60, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Tasks that reached ``completed``/``failed`` per minute, for the last ``minutes`` minutes.

    Counted from ``task_event`` state rows; every minute appears (oldest first), zeros included.
    """
    now = now or utcnow()
    end = now.replace(second=0, microsecond=0)
    start = end - timedelta(minutes=minutes - 1)
    dialect = session.get_bind().dialect.name
    minute = _minute(col(TaskEvent.at), dialect).label("minute")
    rows = await session.execute(
        select(minute, col(TaskEvent.status), func.count())
        .where(
            col(TaskEvent.kind) == "state",
            col(TaskEvent.status).in_([S.COMPLETED.value, S.FAILED.value]),
            col(TaskEvent.at) >= start,
        )
        .group_by(minute, col(TaskEvent.status))
    )
    buckets = {start + timedelta(minutes=i): {"completed": 0, "failed": 0} for i in range(minutes)}
    for at, status, count in rows.all():
        moment = at if isinstance(at, datetime) else datetime.fromisoformat(str(at))
        moment = moment.replace(tzinfo=now.tzinfo) if moment.tzinfo is None else moment.astimezone(now.tzinfo)
        bucket = buckets.get(moment.replace(second=0, microsecond=0))
        if bucket is not None:
            bucket[status] += count
    return [{"minute": minute_at, **counts} for minute_at, counts in sorted(buckets.items())]


async def list_workers(session: AsyncSession, *, gone_for: float = 3600.0, limit: int = 200) -> list[Worker]:
    """Workers that are up, stopping, or gone for less than ``gone_for`` seconds; newest first."""
    cutoff = utcnow() - timedelta(seconds=gone_for)
    rows = await session.scalars(
        select(Worker)
        .where(or_(col(Worker.status) != "gone", col(Worker.last_seen) >= cutoff))
        .order_by(col(Worker.started_at).desc(), col(Worker.id))
        .limit(limit)
    )
    return list(rows)


async def list_purchases(
    session: AsyncSession, *, store: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[Purchase], int]:
    """Purchases, newest first, as ``(page, total count)``."""
    filters: list[ColumnElement[bool]] = [col(Purchase.store) == store] if store else []
    count = await session.scalar(select(func.count()).select_from(Purchase).where(*filters)) or 0
    rows = await session.scalars(
        select(Purchase)
        .where(*filters)
        .order_by(col(Purchase.created_at).desc(), col(Purchase.id).desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows), count
