"""What ``/metrics`` reports that the database knows: read at scrape time, so every web process
answers the same truth however many workers and web processes there are (operators' figures,
not viewer-filtered: only ``/metrics``'s own token or an admin reaches them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Float, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import col

from models.states import TaskStatus
from models.tables import Purchase, Task, TaskAttempt, Worker

# seconds: a bot run of a few seconds up to its timeout; a wait from instant to scheduled hours
RUN_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
WAIT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600)
SUCCESS = ("completed", "recovered")


class Seconds(FunctionElement[float]):
    """``end - start`` in seconds (its two arguments), on either database."""

    inherit_cache = True
    type = Float()
    name = "seconds_between"


@compiles(Seconds, "postgresql")
def _seconds_postgres(element: Seconds, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"EXTRACT(EPOCH FROM ({end} - {start}))"


@compiles(Seconds)
def _seconds_sqlite(element: Seconds, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"((julianday({end}) - julianday({start})) * 86400.0)"


@dataclass
class Histogram:
    buckets: list[tuple[float, int]]  # (upper bound, cumulative count), +Inf last
    count: int
    total: float


@dataclass
class Figures:
    tasks: dict[str, int]  # by state, every state present
    attempts: dict[tuple[str, str], int]  # (store, outcome) → attempts
    failures: dict[tuple[str, str], int]  # (store, kind) → attempts that did not succeed
    purchases: dict[str, int]  # currency → purchases
    spent: dict[str, Decimal]  # currency → money spent
    workers: dict[str, int]  # status → worker rows
    browsers: list[dict[str, Any]] = field(default_factory=list)  # per live worker
    run_time: Histogram | None = None
    wait_time: Histogram | None = None


def error_kind(outcome: Any, error: Any) -> ColumnElement[str]:
    """A short, bounded label for why an attempt did not succeed (never the free-text error)."""
    return case(
        (outcome == "lost", "worker lost"),
        (outcome == "handed back", "handed back"),
        (outcome == "cancelled", "cancelled"),
        (outcome == "not available", "not available"),
        (error.like("timed out%"), "timeout"),
        (error.like("not available%"), "not available"),
        (error.like("%order may have been placed%"), "order in doubt"),
        else_="error",
    )


async def _histogram(
    session: AsyncSession, seconds: ColumnElement[float], where: list[Any], bounds: tuple[float, ...]
) -> Histogram:
    columns = [func.sum(case((seconds <= b, 1), else_=0)) for b in bounds]
    row = (await session.execute(select(func.count(), func.sum(seconds), *columns).where(*where))).one()
    count, total, *cumulative = row
    buckets = [(float(b), int(c or 0)) for b, c in zip(bounds, cumulative, strict=True)]
    buckets.append((float("inf"), int(count or 0)))
    return Histogram(buckets=buckets, count=int(count or 0), total=float(total or 0.0))


async def figures(session: AsyncSession) -> Figures:
    tasks = {s.value: 0 for s in TaskStatus}
    for status, n in await session.execute(select(col(Task.status), func.count()).group_by(Task.status)):
        tasks[str(status)] = int(n)

    kind = error_kind(col(TaskAttempt.outcome), col(TaskAttempt.error))
    attempts: dict[tuple[str, str], int] = {}
    failures: dict[tuple[str, str], int] = {}
    rows = await session.execute(
        select(col(Task.store), col(TaskAttempt.outcome), kind, func.count())
        .join(Task, col(Task.id) == col(TaskAttempt.task_id))
        .where(col(TaskAttempt.outcome).is_not(None))
        .group_by(col(Task.store), col(TaskAttempt.outcome), kind)
    )
    for store, given, why, n in rows:
        outcome = str(given)
        attempts[(store, outcome)] = attempts.get((store, outcome), 0) + int(n)
        if outcome not in SUCCESS:
            failures[(store, why)] = failures.get((store, why), 0) + int(n)

    purchases: dict[str, int] = {}
    spent: dict[str, Decimal] = {}
    for currency, n, total in await session.execute(
        select(col(Purchase.currency), func.count(), func.sum(col(Purchase.total))).group_by(
            col(Purchase.currency)
        )
    ):
        purchases[currency] = int(n)
        spent[currency] = Decimal(total or 0)

    workers: dict[str, int] = {"up": 0, "stopping": 0, "gone": 0}
    browsers: list[dict[str, Any]] = []
    for row in (await session.execute(select(Worker).where(col(Worker.status) != "gone"))).scalars():
        workers[row.status] = workers.get(row.status, 0) + 1
        browsers.append(
            {
                "worker": row.id,
                "contexts": row.browser_contexts,
                "memory_mb": row.browser_memory_mb,
            }
        )
    workers["gone"] = int(
        (await session.execute(select(func.count()).where(col(Worker.status) == "gone"))).scalar_one()
    )

    run = Seconds(col(Task.started_at), col(Task.finished_at))
    wait = Seconds(col(Task.queued_at), col(Task.started_at))
    return Figures(
        tasks=tasks,
        attempts=attempts,
        failures=failures,
        purchases=purchases,
        spent=spent,
        workers=workers,
        browsers=browsers,
        run_time=await _histogram(
            session,
            run,
            [col(Task.finished_at).is_not(None), col(Task.started_at).is_not(None)],
            RUN_BUCKETS,
        ),
        wait_time=await _histogram(
            session,
            wait,
            [col(Task.started_at).is_not(None), col(Task.queued_at).is_not(None), wait >= 0],
            WAIT_BUCKETS,
        ),
    )
