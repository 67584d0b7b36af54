"""How a run ends: its outcome (the guarded move, the attempt row closed, the owner's webhook in
the same statement) and its purchase row. The claim, heartbeat and checkpoints are in
``models.claims``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache
from typing import Any

from pydantic.alias_generators import to_camel
from sqlalchemy import (
    Executable,
    Update,
    bindparam,
    case,
    exists,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from models import watch_outcomes, webhooks
from models.claims import ATTEMPTS, PURCHASES
from models.moves import move
from models.states import HELD, TaskStatus
from models.tables import Task
from models.types import utcnow

S = TaskStatus


_CLOSE_ATTEMPT = (
    update(ATTEMPTS)
    .where(
        ATTEMPTS.c.task_id == bindparam("a_task_id"),
        ATTEMPTS.c.number == bindparam("a_number"),
        ATTEMPTS.c.finished_at.is_(None),
    )
    .values(
        finished_at=bindparam("a_finished_at", type_=ATTEMPTS.c.finished_at.type),
        outcome=bindparam("a_outcome", type_=ATTEMPTS.c.outcome.type),
        error=bindparam("a_error", type_=ATTEMPTS.c.error.type),
    )
)


def outcome_values(
    to: TaskStatus, worker_id: str, error: str | None, values: dict[str, Any] | None
) -> dict[str, Any]:
    values = dict(values or {})
    if to in (S.COMPLETED, S.FAILED, S.CANCELLED):
        values.setdefault("finished_at", utcnow())
    if to is not S.RUNNING:
        values.setdefault("worker_id", None if to in (S.QUEUED, S.SCHEDULED, S.RETRYING) else worker_id)
    return {"error": error, **values}


def _closing_attempt(moved: Update) -> Executable:
    """The outcome's guarded UPDATE plus, in the same statement, the attempt row closed (once the
    task row moved): ``WITH moved AS (UPDATE task ...), closed AS (UPDATE task_attempt ...)``."""
    return _closing(moved, outbox=False)


def _closing_attempt_outbox(moved: Update) -> Executable:
    """``_closing_attempt`` plus the owner's webhook deliveries (``models.webhooks.outbox_cte``),
    written only if the task reached the expected state: still one statement."""
    return _closing(moved, outbox=True)


def _closing(moved: Update, *, outbox: bool) -> Executable:
    row = moved.cte("moved")
    outcome = select(  # a pending cancel turned the outcome into "cancelled" (see _guarded_update)
        case((row.c.status == S.CANCELLED.value, literal("cancelled")), else_=bindparam("a_outcome"))
    ).scalar_subquery()
    closed = (
        update(ATTEMPTS)
        .where(
            ATTEMPTS.c.task_id == bindparam("a_task_id"),
            ATTEMPTS.c.number == bindparam("a_number"),
            ATTEMPTS.c.finished_at.is_(None),
            exists(select(row.c.status)),
        )
        .values(
            finished_at=bindparam("a_finished_at", type_=ATTEMPTS.c.finished_at.type),
            outcome=outcome,
            error=bindparam("a_error", type_=ATTEMPTS.c.error.type),
        )
    )
    stmt = select(*row.c).add_cte(closed.cte("closed"))
    if outbox:
        stmt = stmt.add_cte(webhooks.outbox_cte(row, status=None))
    return stmt


async def record_outcome(
    session: AsyncSession,
    *,
    task: Task,
    worker_id: str,
    to: TaskStatus,
    outcome: str,
    error: str | None = None,
    values: dict[str, Any] | None = None,
    message: str | None = None,
) -> None:
    """The run's outcome: its guarded move (``status IN HELD AND lease``; a pending cancel wins),
    the event, the attempt row closed, and the owner's webhook, through statements built once
    (on Postgres the attempt row and the webhook ride in the move's own statement)."""
    closing = {
        "a_task_id": task.id,
        "a_number": task.attempt,
        "a_finished_at": utcnow(),
        "a_outcome": outcome,
        "a_error": error,
    }
    postgres = session.get_bind().dialect.name == "postgresql"
    # webhooks (task.completed / task.failed): in the outcome's own statement on Postgres
    event = webhooks.OUTCOME_EVENTS.get(to) if task.owner_id is not None else None
    outbox = (
        webhooks.outbox_params(
            event, webhooks.task_payload(task, status=to.value, error=error), task.owner_id
        )
        if event
        else {}
    )
    moved = await move(
        session,
        task_id=task.id,
        to=to,
        sources=HELD,
        owner=task.lease,
        values=outcome_values(to, worker_id, error, values),
        message=message or error or outcome,
        wrap=(_closing_attempt_outbox if event else _closing_attempt) if postgres else None,
        extra={**closing, **outbox} if postgres else None,
    )
    if not postgres:
        if moved.status == S.CANCELLED.value:  # a pending cancel won (see _guarded_update)
            closing["a_outcome"] = "cancelled"
        await session.execute(_CLOSE_ATTEMPT, closing)
        if event and moved.status == to.value:
            await webhooks.enqueue(session, event=event, payload=outbox["w_payload"], owner_id=task.owner_id)
    if task.mode == "monitor":  # a watch's listing: its watch follows, in this transaction
        await watch_outcomes.settle(session, [task.id])


@lru_cache(maxsize=16)
def _purchase_statement(postgres: bool, keys: tuple[str, ...], outbox: bool = False) -> Executable:
    """``INSERT INTO purchase ... ON CONFLICT (task_id) DO NOTHING RETURNING id``, once per shape;
    with ``outbox`` (Postgres) the owner's ``purchase.created`` deliveries ride in the same
    statement, written only when the purchase row is new."""
    insert_ = pg_insert if postgres else sqlite_insert
    stmt = (
        insert_(PURCHASES)
        .values({key: bindparam(f"p_{key}", type_=PURCHASES.c[key].type) for key in keys})
        .on_conflict_do_nothing(index_elements=["task_id"])
        .returning(PURCHASES.c.id)
    )
    if not outbox:
        return stmt
    written = stmt.cte("bought")
    return select(written.c.id).add_cte(webhooks.outbox_cte(written))


def purchase_payload(task: Task, values: Mapping[str, Any]) -> dict[str, Any]:
    keep = ("store", "product", "product_name", "quantity", "unit_price", "total", "currency", "order_number")
    bought = {to_camel(k): str(v) if isinstance(v, Decimal) else v for k, v in values.items() if k in keep}
    return {"purchase": {"taskId": str(task.id), **bought}, "task": {"id": str(task.id), "name": task.name}}


def purchase_row(task: Task, purchase: Mapping[str, Any]) -> dict[str, Any]:
    """The purchase row of a run's purchase: it follows its task's owner, store and product."""
    return {
        "task_id": task.id,
        "owner_id": task.owner_id,  # a purchase follows its task's owner
        "store": task.store,
        "product": task.product,
        "created_at": utcnow(),
        **purchase,
    }


async def record_purchase(session: AsyncSession, *, task: Task, purchase: Mapping[str, Any]) -> bool:
    """Insert the purchase; False when one exists already (the unique key on the task holds)."""
    postgres = session.get_bind().dialect.name == "postgresql"
    values = purchase_row(task, purchase)
    keys = tuple(sorted(values))
    params = {f"p_{key}": values[key] for key in keys}
    outbox = {}
    if task.owner_id is not None:
        outbox = webhooks.outbox_params("purchase.created", purchase_payload(task, values), task.owner_id)
    stmt = _purchase_statement(postgres, keys, bool(outbox) and postgres)
    created = (await session.execute(stmt, {**params, **outbox} if postgres else params)).first() is not None
    if created and outbox and not postgres:
        await webhooks.enqueue(
            session, event="purchase.created", payload=outbox["w_payload"], owner_id=task.owner_id
        )
    return created
