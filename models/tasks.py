"""Task operations a person (or the API) asks for: create, start, pause, resume, cancel, delete.

Each change of state is one ``models.moves.move`` (the guarded UPDATE, its event and
notification); ``apply_action`` maps an action's name to it. The worker's moves are in
``models.claims``, ``models.outcomes`` and ``models.attention``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models.clock import db_now
from models.errors import InvalidTransition, TaskNotFound
from models.events import notify, publish
from models.moves import move, status_in
from models.schemas import TaskCreate
from models.settings import Settings
from models.states import ACTIONS, FRESH_RUN_FROM, HELD, TaskStatus
from models.tables import Task
from models.types import utcnow

S = TaskStatus


def initial_state(data: TaskCreate, now: datetime) -> tuple[TaskStatus, datetime | None]:
    if data.start == "later":
        return S.PENDING, None
    if data.start == "at" and data.run_at is not None and data.run_at > now:
        return S.SCHEDULED, data.run_at
    return S.QUEUED, None


async def create_task(
    session: AsyncSession, *, data: TaskCreate, settings: Settings, owner_id: uuid.UUID | None = None
) -> Task:
    task = build_task(data, settings=settings, owner_id=owner_id)
    session.add(task)
    await session.flush()
    await publish(session, task_id=task.id, kind="state", status=task.status, message="created", created=True)
    return task


def build_task(data: TaskCreate, *, settings: Settings, owner_id: uuid.UUID | None = None) -> Task:
    """The new row (not yet added anywhere): its initial state from ``data.start``."""
    now = utcnow()
    status, run_at = initial_state(data, now)
    return Task(
        id=uuid.uuid4(),  # given, not from the defaults: pydantic inspects a default factory's
        checkpoints=[],  # signature on each call (``list``'s: parsed from its text, ≈ 8 % of a create)
        name=data.name,
        store=data.store,
        product=data.product,
        quantity=data.quantity,
        max_price=data.max_price,
        status=status.value,
        priority=data.priority,
        mode=data.mode,
        check_every=data.check_every,
        until=data.until,
        run_at=run_at,
        max_attempts=data.max_attempts or settings.max_attempts,
        backoff_base=data.backoff_seconds,
        backoff_cap=data.backoff_cap,
        profile_id=data.profile_id,
        trace=data.trace,
        owner_id=owner_id,
        queued_at=now if status is S.QUEUED else None,
        kicked_at=now if status is S.QUEUED else None,
        created_at=now,
        updated_at=now,
    )


async def get_task(session: AsyncSession, task_id: uuid.UUID) -> Task:
    task = await session.get(Task, task_id, populate_existing=True)
    if task is None:
        raise TaskNotFound(f"no task with id {task_id}")
    return task


# ---- user actions -------------------------------------------------------------------------


async def start_task(session: AsyncSession, *, task_id: uuid.UUID, action: str = "start") -> Task:
    """Queue now. From failed or cancelled (a retry) the numbering continues: the task gets as
    many attempts again as it was created with (``attempts_per_run``; ``max_attempts`` becomes the
    attempts used plus those), so attempt #2 follows #1 and every attempt's history, screenshots
    and trace stay apart."""
    return await move(
        session,
        entity=True,
        task_id=task_id,
        to=S.QUEUED,
        sources=start_sources(action),
        values=start_values(utcnow()),
        message=start_message(action),
        action=action,
    )


def start_sources(action: str) -> frozenset[TaskStatus]:
    """The states ``start``/``execute`` (or ``retry``) queue a task from."""
    return ACTIONS["retry"] if action == "retry" else ACTIONS["start"]


def start_message(action: str) -> str:
    return "queued again" if action == "retry" else "started"


def start_values(now: Any) -> dict[str, Any]:
    """The columns a start sets besides the state (``now``: a datetime or a bind parameter); from
    failed or cancelled, a fresh run of the task's budget."""
    budget = func.coalesce(col(Task.attempts_per_run), col(Task.max_attempts))
    fresh = status_in(FRESH_RUN_FROM)
    return {
        "max_attempts": case((fresh, col(Task.attempt) + budget), else_=col(Task.max_attempts)),
        "attempts_per_run": case((fresh, budget), else_=col(Task.attempts_per_run)),
        "error": case((fresh, None), else_=col(Task.error)),
        "finished_at": None,
        "cancel_requested": False,
        "queued_at": now,
        "kicked_at": now,
    }


async def pause_task(session: AsyncSession, *, task_id: uuid.UUID) -> Task:
    return await move(
        session,
        task_id=task_id,
        to=S.PAUSED,
        sources=ACTIONS["pause"],
        action="pause",
        message="paused",
        entity=True,
    )


async def resume_task(session: AsyncSession, *, task_id: uuid.UUID) -> Task:
    """Back to where it was: a monitor past its window → failed; a task that has a start time
    ahead → scheduled; one never queued or scheduled ("start later") → pending; else queued.
    Times are the database's."""
    now = utcnow()
    clock = db_now()
    expired = col(Task.until).is_not(None) & (col(Task.until) <= clock)
    ahead = col(Task.run_at).is_not(None) & (col(Task.run_at) > clock)
    never_queued = col(Task.run_at).is_(None) & col(Task.queued_at).is_(None)
    to = case(
        (expired, S.FAILED.value),
        (ahead, S.SCHEDULED.value),
        (never_queued, S.PENDING.value),
        else_=S.QUEUED.value,
    )
    queued = to == S.QUEUED.value
    return await move(
        session,
        entity=True,
        task_id=task_id,
        to=to,
        sources={S.PAUSED},  # from action_needed, resume is a hand-back (models.attention)
        values={
            "queued_at": case((queued, now), else_=col(Task.queued_at)),
            "kicked_at": case((queued, now), else_=col(Task.kicked_at)),
            "error": case((expired, "not available before its end time"), else_=col(Task.error)),
            "finished_at": case((expired, now), else_=col(Task.finished_at)),
        },
        action="resume",
        message="resumed",
    )


async def cancel_task(session: AsyncSession, *, task_id: uuid.UUID) -> Task:
    """Waiting tasks are cancelled at once; a running one is asked to stop (its worker ends it)."""
    try:
        return await move(
            session,
            entity=True,
            task_id=task_id,
            to=S.CANCELLED,
            sources=ACTIONS["cancel"] - HELD,
            values={"finished_at": utcnow(), "error": "cancelled by user"},
            action="cancel",
            message="cancelled",
        )
    except InvalidTransition as exc:
        if exc.status not in HELD:
            raise
    task = (
        (
            await session.execute(
                update(Task)
                .where(col(Task.id) == task_id, status_in(HELD))
                .values(cancel_requested=True, updated_at=utcnow())
                .returning(Task)
                .execution_options(populate_existing=True, synchronize_session=False)
            )
        )
        .scalars()
        .first()
    )
    if task is None:  # it finished in between
        current = await get_task(session, task_id)
        raise InvalidTransition(f"cannot cancel: task is {current.status}", status=current.status)
    await publish(session, task_id=task_id, kind="log", status=task.status, message="cancel requested")
    return task


async def delete_task(session: AsyncSession, *, task_id: uuid.UUID) -> None:
    deleted = await session.execute(
        delete(Task)
        .where(col(Task.id) == task_id, col(Task.status).not_in([s.value for s in HELD]))
        .returning(col(Task.id), col(Task.owner_id))
    )
    row = deleted.first()
    if row is None:
        current = await session.scalar(select(col(Task.status)).where(col(Task.id) == task_id))
        if current is None:
            raise TaskNotFound(f"no task with id {task_id}")
        raise InvalidTransition(f"cannot delete: task is {current}; cancel it first", status=current)
    # its event rows go with it, so this is a notification only: open pages drop the row
    owner = str(row.owner_id) if row.owner_id else None
    await notify(session, {"task": str(task_id), "owner": owner, "kind": "deleted", "status": None})
