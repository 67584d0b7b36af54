"""The one transition primitive: every change of a task's state is ``move``.

``UPDATE task SET status=:to, updated_at, <values> WHERE id=:id AND status IN (:allowed)
[AND lease=:owner] RETURNING …``, with its event row and notification in the same transaction;
zero rows raises ``TaskNotFound`` or ``InvalidTransition`` naming the current state. The allowed
source states come from ``models.states.MOVES`` (narrowed by a caller's ``sources``), so a move
not in that table never happens.

The statement is built once per shape and reused (it keeps its compiled-cache key); values that
are SQL expressions make it a one-off of the same shape. It returns what the event needs
(status, step, progress, attempt), or with ``entity=True`` the task row itself (a person's
action, which answers with the task). The bulk sweeps (``models.sweeps``) and the claim
(``models.claims``) move many rows per statement; they take their source states from ``MOVES``
the same way, through ``status_in``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any, Literal, NoReturn, overload

from sqlalchemy import (
    ClauseElement,
    ColumnElement,
    Executable,
    Row,
    Update,
    bindparam,
    case,
    literal,
    literal_column,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from models.errors import InvalidTransition, TaskNotFound
from models.events import publish
from models.states import TaskStatus, sources_for
from models.tables import Task
from models.types import utcnow

S = TaskStatus

TASKS = Task.metadata.tables["task"]
# what a move reads back for its event (and hands to callers that need no entity)
MOVED = ("status", "step", "progress", "attempt")
# a run that ends in one of these states hands the task on: a cancel requested meanwhile wins
YIELDS_TO_CANCEL = frozenset({S.SCHEDULED.value, S.RETRYING.value, S.QUEUED.value})

Wrap = Callable[[Update], Executable]
Target = TaskStatus | ColumnElement[str]


def status_in(allowed: Iterable[str]) -> ColumnElement[bool]:
    """``status IN ('a', 'b')`` with the states written into the SQL: a fixed statement, no
    per-execution expansion of a list parameter. The states come from ``TaskStatus`` only."""
    states = sorted(TaskStatus(s).value for s in allowed)
    return TASKS.c.status.in_([literal_column(f"'{s}'") for s in states])


def _allowed(to: Target, sources: Iterable[TaskStatus] | None) -> frozenset[TaskStatus]:
    if isinstance(to, TaskStatus):
        return sources_for(to) if sources is None else frozenset(sources) & sources_for(to)
    assert sources is not None, "a computed target needs explicit sources"
    return frozenset(sources)


async def _refuse(session: AsyncSession, *, task_id: uuid.UUID, to: Target, action: str | None) -> NoReturn:
    """The guarded UPDATE matched no row: say why (no such task, or not from its state)."""
    current = await session.scalar(select(TASKS.c.status).where(TASKS.c.id == task_id))
    if current is None:
        raise TaskNotFound(f"no task with id {task_id}")
    what = action or f"move to {to.value if isinstance(to, TaskStatus) else 'next state'}"
    raise InvalidTransition(f"cannot {what}: task is {current}", status=current)


def _guarded_update(
    to: str | ColumnElement[str], allowed: tuple[str, ...], keys: tuple[str, ...], owned: bool, entity: bool
) -> Update:
    """``UPDATE task SET status=:to, updated_at, <keys> WHERE id AND status IN (allowed)
    [AND lease] RETURNING status, step, progress, attempt`` (every column for ``entity``).

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
    if owned and isinstance(to, str) and to in YIELDS_TO_CANCEL:
        cancel = TASKS.c.cancel_requested
        status = case((cancel, S.CANCELLED.value), else_=to)
        sets["error"] = case((cancel, literal("cancelled by user")), else_=sets.get("error", TASKS.c.error))
        sets["finished_at"] = case(
            (cancel, sets["updated_at"]), else_=sets.get("finished_at", TASKS.c.finished_at)
        )
    returned = TASKS.c if entity else [TASKS.c[name] for name in MOVED]
    return update(TASKS).where(*where).values(status=status, **sets).returning(*returned)


def _wrapped(stmt: Update, wrap: Wrap | None, entity: bool) -> Executable:
    if entity:  # the row as the session's Task (refreshed in its identity map)
        return select(Task).from_statement(stmt).execution_options(populate_existing=True)
    return wrap(stmt) if wrap is not None else stmt


@lru_cache(maxsize=256)
def _guarded_statement(
    to: str, allowed: tuple[str, ...], keys: tuple[str, ...], owned: bool, wrap: Wrap | None, entity: bool
) -> Executable:
    """The guarded UPDATE (wrapped), built once per shape: reused, it keeps its cache key."""
    return _wrapped(_guarded_update(to, allowed, keys, owned, entity), wrap, entity)


@overload
async def move(
    session: AsyncSession,
    *,
    task_id: uuid.UUID,
    to: Target,
    sources: Iterable[TaskStatus] | None = ...,
    values: Mapping[str, Any] | None = ...,
    owner: uuid.UUID | None = ...,
    message: str | None = ...,
    action: str | None = ...,
    wrap: Wrap | None = ...,
    extra: Mapping[str, Any] | None = ...,
    entity: Literal[False] = ...,
) -> Row[Any]: ...


@overload
async def move(
    session: AsyncSession,
    *,
    task_id: uuid.UUID,
    to: Target,
    sources: Iterable[TaskStatus] | None = ...,
    values: Mapping[str, Any] | None = ...,
    owner: uuid.UUID | None = ...,
    message: str | None = ...,
    action: str | None = ...,
    wrap: Wrap | None = ...,
    extra: Mapping[str, Any] | None = ...,
    entity: Literal[True],
) -> Task: ...


async def move(
    session: AsyncSession,
    *,
    task_id: uuid.UUID,
    to: Target,
    sources: Iterable[TaskStatus] | None = None,
    values: Mapping[str, Any] | None = None,
    owner: uuid.UUID | None = None,
    message: str | None = None,
    action: str | None = None,
    wrap: Wrap | None = None,
    extra: Mapping[str, Any] | None = None,
    entity: bool = False,
) -> Row[Any] | Task:
    """Move one task to ``to`` if its state allows it; record the event. Returns (status, step,
    progress, attempt), or the task row with ``entity=True``.

    ``values`` are column values (a SQL expression among them makes the statement one-off);
    ``owner`` = the run's lease adds the ownership guard. ``to`` may be a SQL CASE over legal
    targets (resume: queued or scheduled); then ``sources`` must be given and each target must be
    legal from each source. ``wrap`` may turn the UPDATE into a larger statement returning the
    same columns (a CTE that also writes a related row in the same round trip); it is part of the
    cache key, so pass a module-level function, and its own bind parameters in ``extra``.
    """
    values = values or {}
    params: dict[str, Any] = {**(extra or {}), "g_id": task_id, "v_updated_at": utcnow()}
    if owner is not None:
        params["o_lease"] = owner
    allowed = tuple(sorted(s.value for s in _allowed(to, sources)))
    plain = {key: value for key, value in values.items() if not isinstance(value, ClauseElement)}
    keys = tuple(sorted(plain))
    stmt: Executable
    if isinstance(to, TaskStatus) and len(plain) == len(values):
        stmt = _guarded_statement(to.value, allowed, keys, owner is not None, wrap, entity)
    else:  # SQL expressions (a computed target or values): a one-off statement of the same shape
        target = to.value if isinstance(to, TaskStatus) else to
        update_ = _guarded_update(target, allowed, keys, owner is not None, entity)
        update_ = update_.values({key: value for key, value in values.items() if key not in plain})
        stmt = _wrapped(update_, wrap, entity)
    params.update({f"v_{key}": value for key, value in plain.items()})
    result = await session.execute(stmt, params)
    row: Row[Any] | Task | None = result.scalars().first() if entity else result.first()
    if row is None:
        await _refuse(session, task_id=task_id, to=to, action=action)
    status, step, progress, attempt = (getattr(row, name) for name in MOVED)
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
