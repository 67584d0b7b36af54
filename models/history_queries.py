"""A task's history as its viewer may read it: attempts, events, and the pages' catch-up reader.

Offered through ``models.queries`` (the one read layer), like every read of owned rows.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models import checks
from models.access import Viewer, owned
from models.tables import Task, TaskAttempt, TaskEvent


def _of_task(viewer: Viewer, task_column: Any, task_id: uuid.UUID) -> Any:
    """``task_id = :id AND the task is the viewer's``, as a subquery on the task."""
    visible = select(col(Task.id)).where(col(Task.id) == task_id, *owned(viewer, col(Task.owner_id)))
    return task_column.in_(visible.scalar_subquery())


async def task_attempts(session: AsyncSession, task_id: uuid.UUID, *, viewer: Viewer) -> list[TaskAttempt]:
    """The task's attempts, oldest first; a monitor's checks that found nothing are not attempts
    (``models/checks.py`` removes their rows; one not removed yet is never shown)."""
    rows = await session.scalars(
        select(TaskAttempt)
        .where(
            _of_task(viewer, col(TaskAttempt.task_id), task_id),
            or_(col(TaskAttempt.outcome).is_(None), col(TaskAttempt.outcome) != checks.WAITING),
        )
        .order_by(col(TaskAttempt.id))
    )
    return list(rows)


async def task_events(
    session: AsyncSession, task_id: uuid.UUID, *, viewer: Viewer, after: int = 0, limit: int = 500
) -> list[TaskEvent]:
    """The task's events after ``after``, oldest first."""
    rows = await session.scalars(
        select(TaskEvent)
        .where(_of_task(viewer, col(TaskEvent.task_id), task_id), col(TaskEvent.id) > after)
        .order_by(col(TaskEvent.id))
        .limit(limit)
    )
    return list(rows)


async def events_after(
    session: AsyncSession,
    *,
    viewer: Viewer,
    after: int,
    task_id: uuid.UUID | None = None,
    limit: int = 10_000,
) -> list[TaskEvent]:
    """Events of the viewer's tasks (or of one of them) with ids above ``after``, oldest first:
    what an event stream resumed with ``Last-Event-ID`` missed."""
    visible = select(col(Task.id)).where(*owned(viewer, col(Task.owner_id)))
    if task_id is not None:
        visible = visible.where(col(Task.id) == task_id)
    rows = await session.scalars(
        select(TaskEvent)
        .where(col(TaskEvent.task_id).in_(visible.scalar_subquery()), col(TaskEvent.id) > after)
        .order_by(col(TaskEvent.id))
        .limit(limit)
    )
    return list(rows)


RECENT_EVENTS = 300  # events a task page opens with


async def recent_events(
    session: AsyncSession, task_id: uuid.UUID, *, viewer: Viewer, limit: int = RECENT_EVENTS
) -> list[TaskEvent]:
    """The task's newest ``limit`` events, oldest first."""
    rows = await session.scalars(
        select(TaskEvent)
        .where(_of_task(viewer, col(TaskEvent.task_id), task_id))
        .order_by(col(TaskEvent.id).desc())
        .limit(limit)
    )
    return list(reversed(list(rows)))


@dataclass
class EventCatchUp:
    """A page's reader of one task's new events that misses none committed late.

    Event ids are not in commit order, so "ids after the last one seen, minus a margin" misses an
    event whose transaction stayed open while more ids than the margin were shown. Instead it
    reads the task's ids above the page's starting point (an index-only read of
    ``ix_task_event_task``) and fetches the rows of those not seen yet; the viewer's tasks only.
    """

    floor: int  # ids at or below this were never shown and are not read
    seen: set[int] = field(default_factory=set)

    @classmethod
    def starting_from(cls, shown: list[TaskEvent], *, limit: int = RECENT_EVENTS) -> EventCatchUp:
        """After ``recent_events``: everything of the task when it fit, else from the oldest shown."""
        ids = {e.id for e in shown if e.id is not None}
        return cls(floor=min(ids) - 1 if ids and len(shown) >= limit else 0, seen=ids)

    async def read(
        self, session: AsyncSession, task_id: uuid.UUID, *, viewer: Viewer, limit: int = 500
    ) -> list[TaskEvent]:
        event_id = col(TaskEvent.id)
        ids = await session.scalars(
            select(event_id).where(_of_task(viewer, col(TaskEvent.task_id), task_id), event_id > self.floor)
        )
        missing = sorted({i for i in ids if i is not None} - self.seen)[:limit]
        if not missing:
            return []
        rows = list(await session.scalars(select(TaskEvent).where(event_id.in_(missing)).order_by(event_id)))
        self.seen.update(e.id for e in rows if e.id is not None)
        return rows
