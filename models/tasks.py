"""Task operations a person (or the API) asks for. Each change is one guarded statement.

``move`` is the single way a task changes state: ``UPDATE task SET status=:to ... WHERE
id=:id AND status IN (:allowed) RETURNING *``, with the event row and notification in the same
transaction; zero rows raises ``TaskNotFound`` or ``InvalidTransition`` naming the current state.
``move_row`` is the same move for callers that need no entity back (the worker's hot path): a
Core statement built once per shape, returning only what the event needs.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, NoReturn

from sqlalchemy import (
    ClauseElement,
    ColumnElement,
    Executable,
    Row,
    Update,
    bindparam,
    case,
    delete,
    func,
    literal,
    literal_column,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models.clock import db_now
from models.errors import InvalidTransition, TaskNotFound
from models.events import notify, publish
from models.schemas import TaskCreate
from models.settings import Settings
from models.states import ACTIONS, HELD, TaskStatus, sources_for
from models.tables import Task
from models.types import utcnow

S = TaskStatus


TASKS = Task.metadata.tables["task"]
# what a move reads back for its event (and hands to callers that need no entity)
MOVED = ("status", "step", "progress", "attempt")


def status_in(allowed: Iterable[str]) -> ColumnElement[bool]:
    """``status IN ('a', 'b')`` with the states written into the SQL: a fixed statement, no
    per-execution expansion of a list parameter. The states come from ``TaskStatus`` only."""
    states = sorted(TaskStatus(s).value for s in allowed)
    return TASKS.c.status.in_([literal_column(f"'{s}'") for s in states])


def _allowed(
    to: TaskStatus | ColumnElement[str], sources: Iterable[TaskStatus] | None
) -> frozenset[TaskStatus]:
    if isinstance(to, TaskStatus):
        return sources_for(to) if sources is None else frozenset(sources) & sources_for(to)
    assert sources is not None, "a computed target needs explicit sources"
    return frozenset(sources)


async def _refuse(
    session: AsyncSession, *, task_id: uuid.UUID, to: TaskStatus | ColumnElement[str], action: str | None
) -> NoReturn:
    """The guarded UPDATE matched no row: say why (no such task, or not from its state)."""
    current = await session.scalar(select(TASKS.c.status).where(TASKS.c.id == task_id))
    if current is None:
        raise TaskNotFound(f"no task with id {task_id}")
    what = action or f"move to {to.value if isinstance(to, TaskStatus) else 'next state'}"
    raise InvalidTransition(f"cannot {what}: task is {current}", status=current)


async def move(
    session: AsyncSession,
    *,
    task_id: uuid.UUID,
    to: TaskStatus | ColumnElement[str],
    sources: Iterable[TaskStatus] | None = None,
    values: dict[str, Any] | None = None,
    where: Sequence[ColumnElement[bool]] = (),
    message: str | None = None,
    action: str | None = None,
) -> Task:
    """Move one task to ``to`` if its state allows it; record the event. Returns the new row.

    ``to`` may be a SQL CASE over legal targets (resume: queued or scheduled); then ``sources``
    must be given and each target must be legal from each source.
    """
    allowed = _allowed(to, sources)
    now = utcnow()
    stmt = (
        update(Task)
        .where(col(Task.id) == task_id, col(Task.status).in_([s.value for s in allowed]), *where)
        .values(status=to.value if isinstance(to, TaskStatus) else to, updated_at=now, **(values or {}))
        .returning(Task)
        .execution_options(populate_existing=True, synchronize_session=False)
    )
    task = (await session.execute(stmt)).scalars().first()
    if task is None:
        await _refuse(session, task_id=task_id, to=to, action=action)
    await publish(
        session,
        task_id=task_id,
        kind="state",
        status=task.status,
        message=message,
        step=task.step,
        progress=task.progress,
        attempt=task.attempt,
    )
    return task


Wrap = Callable[[Update], Executable]


# a run that ends in one of these states hands the task on: a cancel requested meanwhile wins
YIELDS_TO_CANCEL = frozenset({S.SCHEDULED.value, S.RETRYING.value, S.QUEUED.value})


def _guarded_update(to: str, allowed: tuple[str, ...], keys: tuple[str, ...], owned: bool) -> Update:
    """``UPDATE task SET status=:to, updated_at, <keys> WHERE id AND status IN (allowed)
    [AND lease] RETURNING status, step, progress, attempt``.

    A run's own move to a waiting state (not in stock, retrying, handed back) becomes
    ``cancelled`` when the user's cancel is pending: a cancel answered 202 sticks, whenever the
    run ends.
    """
    where = [TASKS.c.id == bindparam("g_id"), status_in(allowed)]
    if owned:
        where.append(TASKS.c.lease == bindparam("o_lease", type_=TASKS.c.lease.type))
    sets: dict[str, Any] = {
        key: bindparam(f"v_{key}", type_=TASKS.c[key].type) for key in ("updated_at", *keys)
    }
    status: Any = to
    if owned and to in YIELDS_TO_CANCEL:
        cancel = TASKS.c.cancel_requested
        status = case((cancel, S.CANCELLED.value), else_=to)
        sets["error"] = case((cancel, literal("cancelled by user")), else_=sets.get("error", TASKS.c.error))
        sets["finished_at"] = case(
            (cancel, sets["updated_at"]), else_=sets.get("finished_at", TASKS.c.finished_at)
        )
    return (
        update(TASKS)
        .where(*where)
        .values(status=status, **sets)
        .returning(*(TASKS.c[name] for name in MOVED))
    )


@lru_cache(maxsize=256)
def _guarded_statement(
    to: str, allowed: tuple[str, ...], keys: tuple[str, ...], owned: bool, wrap: Wrap | None
) -> Executable:
    """The guarded UPDATE (wrapped), built once per shape: reused, it keeps its cache key."""
    stmt = _guarded_update(to, allowed, keys, owned)
    return wrap(stmt) if wrap is not None else stmt


async def move_row(
    session: AsyncSession,
    *,
    task_id: uuid.UUID,
    to: TaskStatus,
    sources: Iterable[TaskStatus] | None = None,
    values: Mapping[str, Any] | None = None,
    owner: uuid.UUID | None = None,
    message: str | None = None,
    action: str | None = None,
    wrap: Wrap | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Row[Any]:
    """``move`` for callers that need no entity back (the worker): the same guarded UPDATE and
    event, through a statement built once per shape; returns (status, step, progress, attempt).

    ``values`` are column values (a SQL expression among them makes the statement one-off);
    ``owner`` = the run's lease adds the ownership guard. ``wrap`` may turn the UPDATE into
    a larger statement returning the same columns (a CTE that also writes a related row in the
    same round trip); it is part of the cache key, so pass a module-level function, and its own
    bind parameters in ``extra``.
    """
    values = values or {}
    params: dict[str, Any] = {**(extra or {}), "g_id": task_id, "v_updated_at": utcnow()}
    if owner is not None:
        params["o_lease"] = owner
    allowed = tuple(sorted(s.value for s in _allowed(to, sources)))
    plain = {key: value for key, value in values.items() if not isinstance(value, ClauseElement)}
    stmt: Executable
    if len(plain) == len(values):
        stmt = _guarded_statement(to.value, allowed, tuple(sorted(plain)), owner is not None, wrap)
    else:  # SQL expressions among the values: a one-off statement of the same shape
        update_ = _guarded_update(to.value, allowed, tuple(sorted(plain)), owner is not None)
        update_ = update_.values({key: value for key, value in values.items() if key not in plain})
        stmt = wrap(update_) if wrap is not None else update_
    params.update({f"v_{key}": value for key, value in plain.items()})
    row = (await session.execute(stmt, params)).first()
    if row is None:
        await _refuse(session, task_id=task_id, to=to, action=action)
    status, step, progress, attempt = row
    await publish(
        session,
        task_id=task_id,
        kind="state",
        status=status,
        message=message,
        step=step,
        progress=progress,
        attempt=attempt,
    )
    return row


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
    await publish(session, task_id=task.id, kind="state", status=task.status, message="created")
    return task


def build_task(data: TaskCreate, *, settings: Settings, owner_id: uuid.UUID | None = None) -> Task:
    """The new row (not yet added anywhere): its initial state from ``data.start``."""
    now = utcnow()
    status, run_at = initial_state(data, now)
    return Task(
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
    now = utcnow()
    budget = func.coalesce(col(Task.attempts_per_run), col(Task.max_attempts))
    fresh = col(Task.status).in_([S.FAILED.value, S.CANCELLED.value])
    return await move(
        session,
        task_id=task_id,
        to=S.QUEUED,
        sources=ACTIONS["retry"] if action == "retry" else ACTIONS["start"],
        values={
            "max_attempts": case((fresh, col(Task.attempt) + budget), else_=col(Task.max_attempts)),
            "attempts_per_run": case((fresh, budget), else_=col(Task.attempts_per_run)),
            "error": case((fresh, None), else_=col(Task.error)),
            "finished_at": None,
            "cancel_requested": False,
            "queued_at": now,
            "kicked_at": now,
        },
        message="queued again" if action == "retry" else "started",
        action=action,
    )


async def pause_task(session: AsyncSession, *, task_id: uuid.UUID) -> Task:
    return await move(
        session, task_id=task_id, to=S.PAUSED, sources=ACTIONS["pause"], action="pause", message="paused"
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


ACTION_FUNCS = {
    "start": start_task,
    "pause": pause_task,
    "resume": resume_task,
    "cancel": cancel_task,
}


async def apply_action(
    session: AsyncSession, *, task_id: uuid.UUID, action: str, order_number: str | None = None
) -> Task | None:
    """Run a named action; ``delete`` returns None. ``mark-bought`` takes the order number."""
    if action in ("mark-bought", "mark-not-bought"):
        from models import doubt  # doubt builds on this module's moves

        if action == "mark-bought":
            return await doubt.mark_bought(session, task_id=task_id, order_number=order_number or "")
        return await doubt.mark_not_bought(session, task_id=task_id)
    if action in ("resume", "finish"):
        from models import attention  # the hand-off builds on this module's moves

        if action == "finish":
            return await attention.finish_by_hand(session, task_id=task_id, order_number=order_number or "")
        try:
            return await resume_task(session, task_id=task_id)
        except InvalidTransition as exc:
            if exc.status != S.ACTION_NEEDED.value:
                raise
        return await attention.hand_back(session, task_id=task_id)
    if action == "delete":
        await delete_task(session, task_id=task_id)
        return None
    if action == "retry":
        return await start_task(session, task_id=task_id, action="retry")
    if action not in ACTION_FUNCS:
        raise ValueError(f"unknown action {action!r}")
    return await ACTION_FUNCS[action](session, task_id=task_id)
