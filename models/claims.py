"""What workers and the sweeper do to tasks: claim, heartbeat, record outcomes, sweep.

A worker owns a task while ``status='running' AND worker_id=:me AND attempt=:n``; every write a
worker makes is guarded by that, so a worker that lost its task (rescued after a stall) can
never overwrite what the next owner does.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models.events import publish
from models.settings import StoreLimit
from models.states import TaskStatus
from models.tables import Purchase, Task, TaskAttempt, Worker
from models.tasks import move
from models.types import utcnow

S = TaskStatus
CLAIM_LOCK = 0x7A5D_EC  # advisory lock key that serialises claims when store limits apply


def owned(worker_id: str, attempt: int) -> list[ColumnElement[bool]]:
    return [col(Task.worker_id) == worker_id, col(Task.attempt) == attempt]


async def blocked_stores(session: AsyncSession, limits: Mapping[str, StoreLimit], now: datetime) -> set[str]:
    """Stores at their concurrency limit or inside their minimum interval."""
    if not limits:
        return set()
    rows = await session.execute(
        select(
            col(Task.store),
            func.count().filter(col(Task.status) == S.RUNNING.value),
            func.max(col(Task.started_at)),
        )
        .where(col(Task.store).in_(list(limits)))
        .group_by(col(Task.store))
    )
    blocked = set()
    for store, running, last_start in rows.all():
        limit = limits[store]
        if limit.max_concurrent is not None and running >= limit.max_concurrent:
            blocked.add(store)
        elif limit.min_interval and last_start is not None:
            if last_start.tzinfo is None:  # SQLite aggregate returns raw text/naive
                last_start = datetime.fromisoformat(str(last_start)).replace(tzinfo=now.tzinfo)
            if now - last_start < timedelta(seconds=limit.min_interval):
                blocked.add(store)
    return blocked


async def claim_next(
    session: AsyncSession, *, worker_id: str, limits: Mapping[str, StoreLimit] | None = None
) -> Task | None:
    """Claim the best due queued task (priority, then age), skipping stores at their limit.

    The queue message only rings the bell: whichever task is best in Postgres order is taken,
    so priority holds whatever order the messages arrive in. Call inside a transaction.
    """
    now = utcnow()
    limits = limits or {}
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres and limits:
        await session.execute(select(func.pg_advisory_xact_lock(CLAIM_LOCK)))
    blocked = await blocked_stores(session, limits, now)
    candidate = (
        select(col(Task.id))
        .where(col(Task.status) == S.QUEUED.value, col(Task.attempt) < col(Task.max_attempts))
        .order_by(col(Task.priority).desc(), col(Task.queued_at), col(Task.id))
        .limit(1)
    )
    if blocked:
        candidate = candidate.where(col(Task.store).not_in(blocked))
    if postgres:
        candidate = candidate.with_for_update(skip_locked=True)
    task_id = await session.scalar(candidate)
    if task_id is None:
        return None
    task = await move(
        session,
        task_id=task_id,
        to=S.RUNNING,
        sources={S.QUEUED},
        values={
            "attempt": col(Task.attempt) + 1,
            "worker_id": worker_id,
            "heartbeat_at": now,
            "started_at": now,
            "finished_at": None,
            "cancel_requested": False,
            "progress": 0,
            "step": None,
        },
        message=f"claimed by {worker_id}",
    )
    session.add(TaskAttempt(task_id=task.id, number=task.attempt, worker_id=worker_id, started_at=now))
    return task


async def heartbeat(
    session: AsyncSession, *, worker_id: str, task_ids: list[uuid.UUID]
) -> dict[uuid.UUID, bool]:
    """Refresh the heartbeat of the tasks this worker still owns → {id: cancel_requested}.

    An id missing from the answer is no longer ours (rescued or finished elsewhere): stop it.
    """
    if not task_ids:
        return {}
    rows = await session.execute(
        update(Task)
        .where(
            col(Task.id).in_(task_ids), col(Task.status) == S.RUNNING.value, col(Task.worker_id) == worker_id
        )
        .values(heartbeat_at=utcnow())
        .returning(col(Task.id), col(Task.cancel_requested))
        .execution_options(synchronize_session=False)
    )
    return {task_id: bool(cancel) for task_id, cancel in rows.all()}


async def progress(
    session: AsyncSession,
    *,
    task: Task,
    worker_id: str,
    step: str,
    percent: int,
    data: dict[str, Any] | None = None,
) -> bool:
    """Record a bot step; False when the task is no longer ours."""
    percent = max(0, min(100, int(percent)))
    done = await session.execute(
        update(Task)
        .where(col(Task.id) == task.id, col(Task.status) == S.RUNNING.value, *owned(worker_id, task.attempt))
        .values(step=step[:100], progress=percent, heartbeat_at=utcnow(), updated_at=utcnow())
        .returning(col(Task.id))
        .execution_options(synchronize_session=False)
    )
    if done.first() is None:
        return False
    await publish(
        session,
        task_id=task.id,
        kind="progress",
        status=S.RUNNING.value,
        step=step[:100],
        progress=percent,
        data=data,
    )
    return True


async def log(
    session: AsyncSession,
    *,
    task_id: uuid.UUID,
    message: str,
    kind: str = "log",
    step: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    await publish(session, task_id=task_id, kind=kind, message=message, step=step, data=data)


async def checkpoint(
    session: AsyncSession, *, task: Task, worker_id: str, name: str, known: list[str]
) -> bool:
    """Record that the bot is about to do something irreversible; False when not ours any more."""
    names = [*known, name] if name not in known else known
    done = await session.execute(
        update(Task)
        .where(col(Task.id) == task.id, col(Task.status) == S.RUNNING.value, *owned(worker_id, task.attempt))
        .values(checkpoints=names, heartbeat_at=utcnow())
        .returning(col(Task.id))
        .execution_options(synchronize_session=False)
    )
    if done.first() is None:
        return False
    await publish(session, task_id=task.id, kind="checkpoint", step=name, message=f"checkpoint {name}")
    return True


async def _close_attempt(session: AsyncSession, task: Task, outcome: str, error: str | None) -> None:
    await session.execute(
        update(TaskAttempt)
        .where(
            col(TaskAttempt.task_id) == task.id,
            col(TaskAttempt.number) == task.attempt,
            col(TaskAttempt.finished_at).is_(None),
        )
        .values(finished_at=utcnow(), outcome=outcome, error=error)
    )


async def finish(
    session: AsyncSession,
    *,
    task: Task,
    worker_id: str,
    to: TaskStatus,
    outcome: str,
    error: str | None = None,
    values: dict[str, Any] | None = None,
    message: str | None = None,
) -> Task:
    """Record the outcome of the attempt this worker owns (one guarded move)."""
    values = dict(values or {})
    if to in (S.COMPLETED, S.FAILED, S.CANCELLED):
        values.setdefault("finished_at", utcnow())
    if to is not S.RUNNING:
        values.setdefault("worker_id", None if to in (S.QUEUED, S.SCHEDULED, S.RETRYING) else worker_id)
    new = await move(
        session,
        task_id=task.id,
        to=to,
        sources={S.RUNNING},
        where=owned(worker_id, task.attempt),
        values={"error": error, **values},
        message=message or error or outcome,
    )
    await _close_attempt(session, task, outcome, error)
    return new


async def record_purchase(session: AsyncSession, *, task: Task, purchase: Mapping[str, Any]) -> bool:
    """Insert the purchase; False when one exists already (the unique key on the task holds)."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = (
        insert(Purchase)
        .values(task_id=task.id, store=task.store, product=task.product, created_at=utcnow(), **purchase)
        .on_conflict_do_nothing(index_elements=["task_id"])
        .returning(col(Purchase.id))
    )
    return (await session.execute(stmt)).first() is not None


async def existing_purchase(session: AsyncSession, task_id: uuid.UUID) -> Purchase | None:
    return await session.scalar(select(Purchase).where(col(Purchase.task_id) == task_id))


# ---- sweeps (idempotent; safe in many processes at once) ----------------------------------


async def stage_due(session: AsyncSession, *, limit: int = 500) -> list[uuid.UUID]:
    """scheduled/retrying tasks whose time has come → queued."""
    now = utcnow()
    rows = await session.execute(
        update(Task)
        .where(
            col(Task.status).in_([S.SCHEDULED.value, S.RETRYING.value]),
            col(Task.run_at) <= now,
            or_(col(Task.until).is_(None), col(Task.until) > now),
            col(Task.id).in_(_due_ids(now, limit)),
        )
        .values(status=S.QUEUED.value, queued_at=now, kicked_at=now, updated_at=now)
        .returning(col(Task.id))
        .execution_options(synchronize_session=False)
    )
    ids = [r[0] for r in rows.all()]
    for task_id in ids:
        await publish(session, task_id=task_id, kind="state", status=S.QUEUED.value, message="due")
    return ids


def _due_ids(now: datetime, limit: int) -> Any:
    return (
        select(col(Task.id))
        .where(col(Task.status).in_([S.SCHEDULED.value, S.RETRYING.value]), col(Task.run_at) <= now)
        .order_by(col(Task.run_at))
        .limit(limit)
        .scalar_subquery()
    )


async def expire_monitors(session: AsyncSession) -> list[uuid.UUID]:
    """Monitor tasks whose window closed while waiting → failed."""
    now = utcnow()
    rows = await session.execute(
        update(Task)
        .where(
            col(Task.status).in_([S.SCHEDULED.value, S.RETRYING.value]),
            col(Task.until).is_not(None),
            col(Task.until) <= now,
        )
        .values(status=S.FAILED.value, finished_at=now, updated_at=now)
        .returning(col(Task.id), col(Task.until))
        .execution_options(synchronize_session=False)
    )
    ids = []
    for task_id, until in rows.all():
        error = f"not available before {until.isoformat(timespec='seconds') if until else 'its end time'}"
        await session.execute(update(Task).where(col(Task.id) == task_id).values(error=error))
        await publish(session, task_id=task_id, kind="state", status=S.FAILED.value, message=error)
        ids.append(task_id)
    return ids


async def rescue_stale(session: AsyncSession, *, timeout: float) -> list[tuple[uuid.UUID, str]]:
    """Running tasks whose worker stopped heart-beating → queued, or failed without attempts left."""
    now = utcnow()
    cutoff = now - timedelta(seconds=timeout)
    exhausted = col(Task.attempt) >= col(Task.max_attempts)
    rows = await session.execute(
        update(Task)
        .where(col(Task.status) == S.RUNNING.value, col(Task.heartbeat_at) < cutoff)
        .values(
            status=case((exhausted, S.FAILED.value), else_=S.QUEUED.value),
            error=case(
                (exhausted, literal("worker lost and no attempts left")),
                else_=literal("worker lost; queued again"),
            ),
            finished_at=case((exhausted, now), else_=None),
            worker_id=None,
            queued_at=now,
            kicked_at=now,
            updated_at=now,
        )
        .returning(col(Task.id), col(Task.status), col(Task.attempt))
        .execution_options(synchronize_session=False)
    )
    rescued = [(task_id, status) for task_id, status, _ in rows.all()]
    for task_id, status in rescued:
        await session.execute(
            update(TaskAttempt)
            .where(col(TaskAttempt.task_id) == task_id, col(TaskAttempt.finished_at).is_(None))
            .values(finished_at=now, outcome="lost", error="worker stopped heart-beating")
        )
        await publish(session, task_id=task_id, kind="state", status=status, message="worker lost")
    return rescued


async def stale_queued(session: AsyncSession, *, after: float, limit: int) -> list[uuid.UUID]:
    """Queued tasks nobody claimed for ``after`` seconds: their doorbell is rung again."""
    now = utcnow()
    ids = (
        select(col(Task.id))
        .where(col(Task.status) == S.QUEUED.value, col(Task.kicked_at) < now - timedelta(seconds=after))
        .order_by(col(Task.priority).desc(), col(Task.queued_at))
        .limit(limit)
        .scalar_subquery()
    )
    rows = await session.execute(
        update(Task)
        .where(col(Task.id).in_(ids), col(Task.status) == S.QUEUED.value)
        .values(kicked_at=now)
        .returning(col(Task.id))
        .execution_options(synchronize_session=False)
    )
    return [r[0] for r in rows.all()]


async def queued_count(session: AsyncSession) -> int:
    return (
        await session.scalar(select(func.count()).select_from(Task).where(col(Task.status) == S.QUEUED.value))
        or 0
    )


# ---- worker rows --------------------------------------------------------------------------


async def worker_seen(
    session: AsyncSession, *, worker: Worker, running: list[str], processed: int, status: str
) -> None:
    now = utcnow()
    done = await session.execute(
        update(Worker)
        .where(col(Worker.id) == worker.id)
        .values(last_seen=now, running=running, processed=processed, status=status)
        .returning(col(Worker.id))
    )
    if done.first() is None:
        session.add(
            Worker(
                id=worker.id,
                host=worker.host,
                pid=worker.pid,
                version=worker.version,
                concurrency=worker.concurrency,
                running=running,
                processed=processed,
                status=status,
                started_at=worker.started_at,
                last_seen=now,
            )
        )


async def mark_gone_workers(session: AsyncSession, *, timeout: float) -> int:
    cutoff = utcnow() - timedelta(seconds=timeout)
    rows = await session.execute(
        update(Worker)
        .where(col(Worker.status) != "gone", col(Worker.last_seen) < cutoff)
        .values(status="gone", running=[])
        .returning(col(Worker.id))
    )
    return len(rows.all())
