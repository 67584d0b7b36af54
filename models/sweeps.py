"""The sweeper's statements: stage due tasks, expire monitors, rescue stale runs, re-ring queued
tasks. Each is idempotent and safe in many processes at once; times come from the database's clock
(``models.clock.db_now``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, exists, literal, null, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models import watch_outcomes, webhooks
from models.claims import PURCHASES, checkpointed
from models.clock import db_now
from models.events import publish
from models.moves import status_in
from models.states import HELD, TaskStatus, sources_for
from models.tables import Task, TaskAttempt
from models.types import utcnow

S = TaskStatus
# Each sweep's source states, as ``models.states.MOVES`` allows them (narrowed to what the sweep means)
STAGE_FROM = sources_for(S.QUEUED) & {S.SCHEDULED, S.RETRYING}  # due → queued
EXPIRE_FROM = sources_for(S.FAILED) & {S.SCHEDULED, S.RETRYING, S.QUEUED}  # window closed → failed
RESCUE_TO = (S.COMPLETED, S.CANCELLED, S.FAILED, S.QUEUED)
RESCUE_FROM = HELD.intersection(*(sources_for(to) for to in RESCUE_TO))  # stale run → any of RESCUE_TO


async def stage_due(session: AsyncSession, *, limit: int = 500) -> list[uuid.UUID]:
    """scheduled/retrying tasks whose time has come (on the database's clock) → queued."""
    now = db_now()
    rows = await session.execute(
        update(Task)
        .where(
            status_in(STAGE_FROM),
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


def _due_ids(now: ColumnElement[datetime], limit: int) -> Any:
    return (
        select(col(Task.id))
        .where(status_in(STAGE_FROM), col(Task.run_at) <= now)
        .order_by(col(Task.run_at))
        .limit(limit)
        .scalar_subquery()
    )


async def expire_monitors(session: AsyncSession) -> list[uuid.UUID]:
    """Monitor tasks whose window closed while waiting, or queued for a claim that came too late
    → failed (the claim itself never takes a monitor past its window)."""
    now = db_now()
    rows = await session.execute(
        update(Task)
        .where(
            status_in(EXPIRE_FROM),
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
    await _outcome_webhooks(session, ids)
    await watch_outcomes.settle(session, ids)  # a listing's watch follows
    return ids


async def rescue_stale(session: AsyncSession, *, timeout: float) -> list[tuple[uuid.UUID, str]]:
    """Running tasks whose worker stopped heart-beating (on the database's clock) → queued, or
    failed without attempts left; completed when their purchase is recorded; cancelled when the
    user asked for that meanwhile. Those past a checkpoint without a purchase are left to
    ``models.doubt.adopt_stale`` (the store is asked first)."""
    now = utcnow()
    cutoff = db_now(-timeout)
    exhausted = col(Task.attempt) >= col(Task.max_attempts)
    bought = exists(select(PURCHASES.c.id).where(PURCHASES.c.task_id == col(Task.id)))
    cancel = col(Task.cancel_requested)
    rows = await session.execute(
        update(Task)
        .where(
            status_in(RESCUE_FROM),  # a run waiting for a person heart-beats too; a dead one is rescued
            col(Task.heartbeat_at) < cutoff,
            or_(~checkpointed(), bought),  # past a checkpoint without a purchase: recovery asks first
        )
        .values(
            status=case(
                (bought, S.COMPLETED.value),
                (cancel, S.CANCELLED.value),
                (exhausted, S.FAILED.value),
                else_=S.QUEUED.value,
            ),
            error=case(
                (bought, null()),
                (cancel, literal("cancelled by user")),
                (exhausted, literal("worker lost and no attempts left")),
                else_=literal("worker lost; queued again"),
            ),
            finished_at=case((bought | cancel | exhausted, now), else_=None),
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
        message = "worker lost; its purchase was recorded" if status == S.COMPLETED.value else "worker lost"
        await publish(session, task_id=task_id, kind="state", status=status, message=message)
    await _outcome_webhooks(session, [t for t, s in rescued if s in (S.COMPLETED.value, S.FAILED.value)])
    await watch_outcomes.settle(session, [t for t, _ in rescued])  # a listing's watch follows
    return rescued


async def _outcome_webhooks(session: AsyncSession, task_ids: list[uuid.UUID]) -> None:
    """``task.completed`` / ``task.failed`` deliveries for tasks a sweep ended (rare: only then
    is the task read)."""
    if not task_ids:
        return
    for task in await session.scalars(select(Task).where(col(Task.id).in_(task_ids))):
        event = webhooks.OUTCOME_EVENTS.get(S(task.status))
        if event is not None and task.owner_id is not None:
            payload = webhooks.task_payload(task, status=task.status, error=task.error)
            await webhooks.enqueue(session, event=event, payload=payload, owner_id=task.owner_id)


async def stale_queued(session: AsyncSession, *, after: float, limit: int) -> list[uuid.UUID]:
    """Queued tasks nobody claimed for ``after`` seconds: their doorbell is rung again."""
    now = db_now()
    ids = (
        select(col(Task.id))
        .where(col(Task.status) == S.QUEUED.value, col(Task.kicked_at) < db_now(-after))
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
