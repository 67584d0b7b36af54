"""The queue page's charts over 1 h, 24 h or 7 d, from stored rows (part of the read layer, with
the owner rule of ``models.queries``): tasks finished per bucket (completed, failed), the failure
rate, and the average wait (queued → started) and run (started → finished) time of those tasks —
the same durations ``/metrics`` histograms (``models.metrics.Seconds``), aggregated in SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Float, Integer, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import col

from models.access import Viewer, owned
from models.metrics import Seconds
from models.states import TaskStatus
from models.tables import Task
from models.types import UTCDateTime, utcnow

S = TaskStatus


@dataclass(frozen=True)
class Range:
    name: str
    span: timedelta
    bucket: timedelta

    @property
    def points(self) -> int:
        return int(self.span / self.bucket)


RANGES = {
    "1h": Range("1h", timedelta(hours=1), timedelta(minutes=1)),
    "24h": Range("24h", timedelta(hours=24), timedelta(hours=1)),
    "7d": Range("7d", timedelta(days=7), timedelta(hours=6)),
}


class Floor(FunctionElement[int]):
    """``floor(x)`` of a non-negative number, on either database (SQLite may lack ``floor``)."""

    inherit_cache = True
    type = Integer()
    name = "td_floor"


@compiles(Floor, "postgresql")
def _floor_postgres(element: Floor, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(floor({compiler.process(element.clauses, **kw)}) AS INTEGER)"


@compiles(Floor)
def _floor_default(element: Floor, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST({compiler.process(element.clauses, **kw)} AS INTEGER)"  # truncation = floor for x ≥ 0


@dataclass
class Point:
    start: datetime
    completed: int = 0
    failed: int = 0
    wait: float | None = None  # seconds, average
    run: float | None = None

    @property
    def failure_rate(self) -> float | None:
        done = self.completed + self.failed
        return round(100.0 * self.failed / done, 1) if done else None


async def series(
    session: AsyncSession, *, viewer: Viewer, range_name: str, now: datetime | None = None
) -> list[Point]:
    """Every bucket of the range, oldest first (empty ones included), for the viewer's tasks."""
    span = RANGES[range_name]
    end = (now or utcnow()).replace(second=0, microsecond=0) + timedelta(minutes=1)
    start = end - span.span
    finished = col(Task.finished_at)
    since = Seconds(literal(start, UTCDateTime()), finished)
    bucket = Floor(since / span.bucket.total_seconds()).label("bucket")
    run = Seconds(col(Task.started_at), finished)
    wait = Seconds(col(Task.queued_at), col(Task.started_at))
    timed = col(Task.started_at).is_not(None)
    queued = timed & col(Task.queued_at).is_not(None) & (wait >= 0)
    rows = await session.execute(
        select(
            bucket,
            func.sum(case((col(Task.status) == S.COMPLETED.value, 1), else_=0)),
            func.sum(case((col(Task.status) == S.FAILED.value, 1), else_=0)),
            func.avg(case((queued, wait), else_=None), type_=Float()),
            func.avg(case((timed, run), else_=None), type_=Float()),
        )
        .where(
            col(Task.status).in_([S.COMPLETED.value, S.FAILED.value]),
            finished >= start,
            finished < end,
            *owned(viewer, col(Task.owner_id)),
        )
        .group_by(bucket)
    )
    points = [Point(start=start + span.bucket * i) for i in range(span.points)]
    for index, completed, failed, avg_wait, avg_run in rows.all():
        if index is not None and 0 <= int(index) < len(points):
            point = points[int(index)]
            point.completed, point.failed = int(completed or 0), int(failed or 0)
            point.wait = round(float(avg_wait), 3) if avg_wait is not None else None
            point.run = round(float(avg_run), 3) if avg_run is not None else None
    return points
