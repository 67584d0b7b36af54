"""What a worker's runs do to tasks while they hold them: claim, heartbeat, progress, checkpoints.

A run's ending (its outcome and its purchase row) is written by ``models.outcomes``.

The sweeper's statements live in ``models.sweeps``, the worker rows in ``models.worker_rows``.

Every claim gives the run a lease of its own (a fresh UUID in ``task.lease``, set by the claim
statement itself). A run owns its task while ``status='running' AND lease=:lease``; every write a
run makes (heartbeat, progress, checkpoint, outcome) is guarded by that, so a run that lost its
task (rescued after a stall, retried, or reclaimed by the very same worker) can never overwrite
what the next run does. Times that other processes compare come from the database's clock
(``models.clock.db_now``), never from a process's own.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Executable,
    Float,
    Integer,
    String,
    bindparam,
    cast,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.instrumentation import manager_of_class
from sqlmodel import col

from models.clock import NewLease, db_now
from models.events import CHANNEL, publish
from models.moves import TASKS, status_in
from models.pauses import claimable
from models.settings import StoreLimit
from models.states import HELD, TaskStatus, sources_for
from models.tables import Purchase, Task, TaskAttempt, TaskEvent
from models.types import utcnow

S = TaskStatus
CLAIM_LOCK = 0x7A5D_EC  # advisory lock key that serialises claims when store limits apply


def owned(task: Task) -> list[ColumnElement[bool]]:
    """The run's guard: the task is still held (running, or waiting for a person) under this
    run's lease."""
    return [status_in(HELD), col(Task.lease) == task.lease]


def _aware(value: Any) -> datetime:
    """A timestamp read by an aggregate (SQLite hands back text, Postgres an aware datetime)."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


async def blocked_stores(session: AsyncSession, limits: Mapping[str, StoreLimit]) -> set[str]:
    """Stores at their concurrency limit or inside their minimum interval (on the database's clock)."""
    if not limits:
        return set()
    rows = await session.execute(
        select(
            col(Task.store),
            func.count().filter(col(Task.status) == S.RUNNING.value),
            func.max(col(Task.started_at)),
            db_now(),
        )
        .where(col(Task.store).in_(list(limits)))
        .group_by(col(Task.store))
    )
    blocked = set()
    for store, running, last_start, now in rows.all():
        limit = limits[store]
        if limit.max_concurrent is not None and running >= limit.max_concurrent:
            blocked.add(store)
        elif limit.min_interval and last_start is not None:
            if _aware(now) - _aware(last_start) < timedelta(seconds=limit.min_interval):
                blocked.add(store)
    return blocked


def checkpointed() -> ColumnElement[bool]:
    """``checkpoints`` is a non-empty JSON list (Postgres and SQLite both have the function)."""
    return func.json_array_length(col(Task.checkpoints)) > 0


ATTEMPTS = TaskAttempt.metadata.tables["task_attempt"]
PURCHASES = Purchase.metadata.tables["purchase"]
CLAIM_FROM = sources_for(S.RUNNING) & {S.QUEUED}


def _claimed_values(lease: Any) -> dict[str, Any]:
    """What a claim sets: running under a fresh lease, the next attempt, the clocks started."""
    now = db_now()
    return {
        "status": S.RUNNING.value,
        "updated_at": now,
        "attempt": TASKS.c.attempt + 1,
        "worker_id": bindparam("c_worker", type_=TASKS.c.worker_id.type),
        "lease": lease,
        "heartbeat_at": now,
        "started_at": now,
        "finished_at": None,
        "progress": 0,
        "step": None,
    }


def _claimable_now() -> list[ColumnElement[bool]]:
    """Which queued tasks a claim may take (on the database's clock)."""
    t = TASKS
    return [
        status_in({S.QUEUED}),
        t.c.attempt < t.c.max_attempts,
        or_(t.c.until.is_(None), t.c.until > db_now()),  # a monitor past its window is expired, not run
        claimable(t.c.store),  # no hold on the queue or the task's store (models.pauses)
    ]


@lru_cache(maxsize=4)
def _claim_statement(postgres: bool, filtered: bool) -> Executable:
    """The claim, built once: one guarded UPDATE of the best due queued task, RETURNING the row.

    ``UPDATE task SET status='running', attempt=attempt+1, ... WHERE id = (best queued id
    [FOR UPDATE SKIP LOCKED]) AND status IN ('queued') RETURNING *``; on Postgres the attempt
    history row is inserted by the same statement (a data-modifying CTE over the claimed row).
    """
    t = TASKS
    candidate = select(t.c.id).where(*_claimable_now())
    if filtered:
        candidate = candidate.where(t.c.store.not_in(bindparam("c_blocked", expanding=True)))
    candidate = candidate.order_by(t.c.priority.desc(), t.c.queued_at, t.c.id).limit(1)
    if postgres:
        candidate = candidate.with_for_update(skip_locked=True)
    claim = (
        update(t)
        .where(t.c.id == candidate.scalar_subquery(), status_in(CLAIM_FROM))
        .values(_claimed_values(bindparam("c_lease", type_=t.c.lease.type)))
        .returning(*t.c)
    )
    if not postgres:
        return claim
    claimed = claim.cte("claimed")
    history = insert(ATTEMPTS).from_select(
        ["task_id", "number", "worker_id", "started_at"],
        select(claimed.c.id, claimed.c.attempt, claimed.c.worker_id, claimed.c.started_at),
    )
    return select(*claimed.c).add_cte(history.cte("attempt_row"))


_TASK_CLASS = manager_of_class(Task)


def _detached_task(values: Mapping[Any, Any]) -> Task:
    """A ``Task`` holding a row read by Core, as the ORM builds one it loads (fresh instance
    state, column values in ``__dict__``) but outside any session; ``Task(**values)`` would
    replay every attribute through SQLAlchemy's and pydantic's setters, ~40x slower."""
    task: Task = _TASK_CLASS.new_instance()
    task.__dict__.update(values)
    return task


_ATTEMPT_ROW = insert(ATTEMPTS).values(
    {
        name: bindparam(f"a_{name}", type_=ATTEMPTS.c[name].type)
        for name in ("task_id", "number", "worker_id", "started_at")
    }
)


async def claim_next(
    session: AsyncSession, *, worker_id: str, limits: Mapping[str, StoreLimit] | None = None
) -> Task | None:
    """Claim the best due queued task (priority, then age), skipping stores at their limit.

    The queue message only rings the bell: whichever task is best in Postgres order is taken,
    so priority holds whatever order the messages arrive in. Call inside a transaction.
    Returns the claimed row as a ``Task`` detached from the session.
    """
    limits = limits or {}
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres and limits:
        await session.execute(select(func.pg_advisory_xact_lock(CLAIM_LOCK)))
    blocked = await blocked_stores(session, limits)
    params: dict[str, Any] = {"c_worker": worker_id, "c_lease": uuid.uuid4()}
    if blocked:
        params["c_blocked"] = sorted(blocked)
    row = (await session.execute(_claim_statement(postgres, bool(blocked)), params)).first()
    if row is None:
        return None
    task = _detached_task(row._mapping)
    if not postgres:
        await session.execute(
            _ATTEMPT_ROW,
            {
                "a_task_id": task.id,
                "a_number": task.attempt,
                "a_worker_id": worker_id,
                "a_started_at": task.started_at,
            },
        )
    await publish(
        session,
        task_id=task.id,
        kind="state",
        status=task.status,
        message=f"claimed by {worker_id}",
        step=task.step,
        progress=task.progress,
        attempt=task.attempt,
    )
    return task


_EVENTS = TaskEvent.metadata.tables["task_event"]

# The claim's commit does not wait for its WAL flush (``synchronous_commit`` off for that one
# transaction: ``set_config(..., is_local => true)`` ends with it, the pooled connection keeps
# the server's setting). Why: a transaction that NOTIFYs holds Postgres's one notify lock from
# before its commit until after it, WAL flush included, so every NOTIFYing commit of every
# process waits for the others' fsyncs in turn; a claim that does not flush holds it for
# microseconds. What it costs: only a Postgres crash (not a worker's) can lose a claim
# acknowledged in the last few hundred ms, and the task is then queued again as if never
# claimed, and the run that held it is refused at its next write, before anything irreversible:
# every write of a run (progress, the place-order checkpoint, the outcome) is guarded by the
# claim's lease and commits synchronously, which flushes the WAL up to it, claim included.
_ASYNC_COMMIT = func.set_config(literal("synchronous_commit", String), literal("off", String), True).label(
    "async_commit"
)


@lru_cache(maxsize=1)
def _claim_many_statement() -> Executable:
    """Postgres: claim up to ``:c_limit`` tasks in one statement, with their attempt rows, their
    ``state`` event rows and one NOTIFY per claimed task, committed without waiting for the WAL
    flush (``_ASYNC_COMMIT``):

    ``WITH picked AS (SELECT id ... ORDER BY priority DESC, queued_at, id LIMIT :k FOR UPDATE SKIP
    LOCKED), claimed AS (UPDATE task SET status='running', lease=gen_random_uuid(), ... FROM picked
    WHERE task.id = picked.id AND status IN ('queued') RETURNING task.*), attempt_row AS (INSERT
    INTO task_attempt ...), event AS (INSERT INTO task_event ... RETURNING id, task_id) SELECT
    claimed.*, pg_notify(...), set_config('synchronous_commit', 'off', true) FROM claimed JOIN
    event``. One round trip, one implicit transaction.
    """
    t = TASKS
    picked = (
        select(t.c.id)
        .where(*_claimable_now())
        .order_by(t.c.priority.desc(), t.c.queued_at, t.c.id)
        .limit(bindparam("c_limit", type_=Integer()))
        .with_for_update(skip_locked=True)
        .cte("picked")
    )
    claimed = (
        update(t)
        .where(t.c.id == picked.c.id, status_in(CLAIM_FROM))
        .values(_claimed_values(NewLease()))
        .returning(*t.c)
        .cte("claimed")
    )
    history = insert(ATTEMPTS).from_select(
        ["task_id", "number", "worker_id", "started_at"],
        select(claimed.c.id, claimed.c.attempt, claimed.c.worker_id, claimed.c.started_at),
    )
    event = (
        insert(_EVENTS)
        .from_select(
            ["task_id", "at", "kind", "status", "progress", "message"],
            select(
                claimed.c.id,
                bindparam("c_at", type_=_EVENTS.c.at.type),
                literal("state", String),
                literal(S.RUNNING.value, String),
                literal(0, Integer),
                bindparam("c_message", type_=String),
            ),
        )
        .returning(_EVENTS.c.id, _EVENTS.c.task_id)
        .cte("event")
    )
    payload = func.json_build_object(
        literal("id", String), event.c.id,
        literal("owner", String), claimed.c.owner_id,
        literal("task", String), claimed.c.id,
        literal("kind", String), literal("state", String),
        literal("status", String), literal(S.RUNNING.value, String),
        literal("step", String), null(),
        literal("progress", String), literal(0, Integer),
        literal("ts", String), bindparam("c_ts", type_=Float()),
        literal("attempt", String), claimed.c.attempt,
    )  # fmt: skip
    notified = func.pg_notify(literal(CHANNEL, String), cast(payload, String)).label("notified")
    return (
        select(*claimed.c, notified, _ASYNC_COMMIT)
        .select_from(claimed.join(event, event.c.task_id == claimed.c.id))
        .add_cte(history.cte("attempt_row"))
    )


_TASK_COLUMNS = tuple(c.name for c in TASKS.c)


async def claim_many(
    session: AsyncSession, *, worker_id: str, limit: int, limits: Mapping[str, StoreLimit] | None = None
) -> list[Task]:
    """Claim up to ``limit`` of the best due queued tasks for this worker's free slots.

    Postgres without store limits: one statement (``_claim_many_statement``) claims them all,
    each with a lease of its own, its attempt row, its event and its NOTIFY. With store limits
    (or on SQLite) the claims are made one by one in this transaction, each seeing the ones
    before it, so a limit holds within the batch too. Call inside a transaction.
    """
    if limit <= 0:
        return []
    postgres = session.get_bind().dialect.name == "postgresql"
    if not postgres or limits:
        claimed: list[Task] = []
        for _ in range(limit):
            task = await claim_next(session, worker_id=worker_id, limits=limits)
            if task is None:
                break
            claimed.append(task)
        return claimed
    params: dict[str, Any] = {
        "c_worker": worker_id,
        "c_limit": limit,
        "c_at": utcnow(),
        "c_message": f"claimed by {worker_id}",
        "c_ts": round(time.time(), 3),
    }
    rows = (await session.execute(_claim_many_statement(), params)).all()
    tasks = [_detached_task({name: row[i] for i, name in enumerate(_TASK_COLUMNS)}) for row in rows]
    tasks.sort(key=lambda task: (-task.priority, task.queued_at, task.id))
    return tasks


# the rows are locked in id order first, as the group commit's outcome statement locks them
# (``models.outcome_batch``): two multi-row writes to the same runs never deadlock
_BEATING = (
    select(TASKS.c.id)
    .where(TASKS.c.id.in_(bindparam("h_ids", expanding=True)))
    .order_by(TASKS.c.id)
    .with_for_update(key_share=True)  # FOR NO KEY UPDATE: the lock the UPDATE takes anyway
)
_HEARTBEAT = (
    update(TASKS)
    .where(
        TASKS.c.id.in_(_BEATING.scalar_subquery()),  # the primary key finds the rows; the lease decides
        TASKS.c.lease.in_(bindparam("h_leases", expanding=True)),
        status_in(HELD),  # a run waiting for a person keeps its task alive too
    )
    .values(heartbeat_at=db_now())
    .returning(TASKS.c.lease, TASKS.c.cancel_requested)
)


async def heartbeat(session: AsyncSession, *, runs: Mapping[uuid.UUID, uuid.UUID]) -> dict[uuid.UUID, bool]:
    """Refresh the heartbeat of the runs (lease → task id) that still hold their lease
    → {lease: cancel_requested}.

    A lease missing from the answer is no longer held (rescued, finished, or claimed again by a
    newer run, this worker's own included): stop that run.
    """
    if not runs:
        return {}
    rows = await session.execute(_HEARTBEAT, {"h_ids": sorted(set(runs.values())), "h_leases": list(runs)})
    return {lease: bool(cancel) for lease, cancel in rows.all() if lease is not None}


def _owned_update(**values: Any) -> Any:
    """``UPDATE task SET <values> WHERE id = :r_id AND <held> AND lease = :r_lease RETURNING id``:
    a run's own write (``owned``), built once at import with bind parameters."""
    return (
        update(TASKS)
        .where(
            TASKS.c.id == bindparam("r_id", type_=TASKS.c.id.type),
            status_in(HELD),
            TASKS.c.lease == bindparam("r_lease", type_=TASKS.c.lease.type),
        )
        .values(**values)
        .returning(TASKS.c.id)
    )


_PROGRESS = _owned_update(
    step=bindparam("r_step", type_=TASKS.c.step.type),
    progress=bindparam("r_progress", type_=TASKS.c.progress.type),
    heartbeat_at=db_now(),
    updated_at=bindparam("r_at", type_=TASKS.c.updated_at.type),
)
_CHECKPOINT = _owned_update(
    checkpoints=bindparam("r_checkpoints", type_=TASKS.c.checkpoints.type), heartbeat_at=db_now()
)


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
    params = {"r_id": task.id, "r_lease": task.lease, "r_step": step[:100], "r_progress": percent}
    done = await session.execute(_PROGRESS, {**params, "r_at": utcnow()})
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
        _CHECKPOINT, {"r_id": task.id, "r_lease": task.lease, "r_checkpoints": names}
    )
    if done.first() is None:
        return False
    await publish(session, task_id=task.id, kind="checkpoint", step=name, message=f"checkpoint {name}")
    return True
