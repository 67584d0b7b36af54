"""Read-only queries of the dashboard that ``models.tasks`` has no verb for (async, keyword-only).

Throughput buckets are computed in SQL (``date_trunc`` on Postgres, ``strftime`` on SQLite), so
the queue page reads sixty rows, not an hour of tasks.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models.states import TaskStatus
from models.tables import Purchase, Task, TaskEvent, Worker

S = TaskStatus


RECENT_EVENTS = 300  # events a task page opens with


@dataclass
class EventCatchUp:
    """A page's reader of one task's new events that misses none committed late.

    Event ids are not in commit order, so "ids after the last one seen, minus a margin" misses an
    event whose transaction stayed open while more ids than the margin were shown. Instead it
    reads the task's ids above the page's starting point (an index-only read of
    ``ix_task_event_task``) and fetches the rows of those not seen yet.
    """

    floor: int  # ids at or below this were never shown and are not read
    seen: set[int] = field(default_factory=set)

    @classmethod
    def starting_from(cls, shown: list[TaskEvent], *, limit: int = RECENT_EVENTS) -> EventCatchUp:
        """After ``recent_events``: everything of the task when it fit, else from the oldest shown."""
        ids = {e.id for e in shown if e.id is not None}
        return cls(floor=min(ids) - 1 if ids and len(shown) >= limit else 0, seen=ids)

    async def read(self, session: AsyncSession, *, task_id: uuid.UUID, limit: int = 500) -> list[TaskEvent]:
        event_id = col(TaskEvent.id)
        ids = await session.scalars(
            select(event_id).where(col(TaskEvent.task_id) == task_id, event_id > self.floor)
        )
        missing = sorted({i for i in ids if i is not None} - self.seen)[:limit]
        if not missing:
            return []
        rows = list(await session.scalars(select(TaskEvent).where(event_id.in_(missing)).order_by(event_id)))
        self.seen.update(e.id for e in rows if e.id is not None)
        return rows


async def recent_events(
    session: AsyncSession, *, task_id: uuid.UUID, limit: int = RECENT_EVENTS
) -> list[TaskEvent]:
    """The task's newest ``limit`` events, oldest first."""
    rows = await session.scalars(
        select(TaskEvent)
        .where(TaskEvent.task_id == task_id)  # type: ignore[arg-type]
        .order_by(TaskEvent.id.desc())  # type: ignore[union-attr]
        .limit(limit)
    )
    return list(reversed(list(rows)))


async def purchase_for(session: AsyncSession, *, task_id: uuid.UUID) -> Purchase | None:
    return await session.scalar(select(Purchase).where(Purchase.task_id == task_id))  # type: ignore[arg-type]


async def list_purchases(
    session: AsyncSession, *, limit: int = 25, offset: int = 0
) -> tuple[list[tuple[Purchase, str | None]], int]:
    """Purchases newest first, each with its task's name (None when the task was deleted)."""
    count = await session.scalar(select(func.count()).select_from(Purchase)) or 0
    rows = await session.execute(
        select(Purchase, Task.name)  # type: ignore[call-overload]
        .outerjoin(Task, Task.id == Purchase.task_id)  # type: ignore[arg-type]
        .order_by(Purchase.created_at.desc(), Purchase.id.desc())  # type: ignore[attr-defined,union-attr]
        .limit(limit)
        .offset(offset)
    )
    return [(p, name) for p, name in rows.all()], count


async def spent(session: AsyncSession) -> dict[str, Decimal]:
    """Total spent per currency."""
    rows = await session.execute(
        select(Purchase.currency, func.sum(Purchase.total)).group_by(Purchase.currency)  # type: ignore[call-overload]
    )
    return {currency: Decimal(str(total or 0)) for currency, total in rows.all()}


async def list_workers(session: AsyncSession) -> list[Worker]:
    """Live workers first, then the most recently seen."""
    rows = await session.scalars(
        select(Worker).order_by((Worker.status == "gone").asc(), Worker.last_seen.desc())  # type: ignore[attr-defined]
    )
    return list(rows)


async def throughput(
    session: AsyncSession, *, minutes: int = 60, now: datetime | None = None
) -> tuple[list[datetime], dict[str, list[int]]]:
    """Tasks finished per minute (completed, failed) over the last ``minutes``, oldest first."""
    now = (now or datetime.now(UTC)).replace(second=0, microsecond=0)
    start = now - timedelta(minutes=minutes - 1)
    postgres = session.get_bind().dialect.name == "postgresql"
    bucket = (
        func.to_char(func.date_trunc("minute", func.timezone("UTC", Task.finished_at)), "YYYY-MM-DD HH24:MI")
        if postgres
        else func.strftime("%Y-%m-%d %H:%M", Task.finished_at)
    )
    rows = await session.execute(
        select(bucket.label("minute"), Task.status, func.count())  # type: ignore[call-overload]
        .where(
            Task.status.in_([S.COMPLETED.value, S.FAILED.value]),  # type: ignore[attr-defined]
            Task.finished_at >= start,  # type: ignore[operator,arg-type]
        )
        .group_by("minute", Task.status)
    )
    minutes_axis = [start + timedelta(minutes=i) for i in range(minutes)]
    index = {m.strftime("%Y-%m-%d %H:%M"): i for i, m in enumerate(minutes_axis)}
    series = {S.COMPLETED.value: [0] * minutes, S.FAILED.value: [0] * minutes}
    for minute, status, n in rows.all():
        i = index.get(minute)
        if i is not None and status in series:
            series[status][i] += n
    return minutes_axis, series
