"""Tasks whose purchase is in doubt: past the place-order checkpoint without a confirmation.

- ``adopt_stale``: a running task whose worker stopped heart-beating after a checkpoint is not
  requeued blindly; a live worker takes it over (same attempt, its own ``worker_id``) to ask the
  store first (``workers/recovery.py``).
- ``mark_bought`` / ``mark_not_bought``: what a person decides for an ``unknown`` task.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models import outcomes
from models.claims import checkpointed
from models.clock import NewLease, db_now
from models.events import publish
from models.moves import move
from models.states import ACTIONS, HELD, TaskStatus
from models.tables import Purchase, Task
from models.tasks import get_task
from models.types import utcnow

S = TaskStatus
ORDER_NUMBER_MAX = 100


async def adopt_stale(
    session: AsyncSession, *, worker_id: str, timeout: float, limit: int = 20
) -> list[Task]:
    """Take over running tasks with a stale heartbeat and a checkpoint; the caller asks the store."""
    now = utcnow()
    stale = [col(Task.status).in_([s.value for s in HELD]), col(Task.heartbeat_at) < db_now(-timeout)]
    ids = select(col(Task.id)).where(*stale, checkpointed()).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        ids = ids.with_for_update(skip_locked=True)
    rows = await session.execute(
        update(Task)
        .where(col(Task.id).in_(ids.scalar_subquery()), *stale)
        .values(worker_id=worker_id, lease=NewLease(), heartbeat_at=db_now(), updated_at=now)
        .returning(Task)
        .execution_options(populate_existing=True, synchronize_session=False)
    )
    adopted = list(rows.scalars().all())
    for task in adopted:
        await publish(
            session,
            task_id=task.id,
            kind="log",
            status=task.status,
            message=f"worker lost after the checkpoint; {worker_id} asks the store before anything else",
        )
    return adopted


async def purchase_of(session: AsyncSession, task_id: uuid.UUID) -> Purchase | None:
    return await session.scalar(select(Purchase).where(col(Purchase.task_id) == task_id))


def clean_order_number(value: Any) -> str:
    """The order number a person typed, trimmed; ``ValueError`` when empty or too long."""
    text = str(value or "").strip()
    if not text:
        raise ValueError("orderNumber: give the store's order number")
    if len(text) > ORDER_NUMBER_MAX:
        raise ValueError(f"orderNumber: at most {ORDER_NUMBER_MAX} characters")
    return text


async def complete_by_hand(
    session: AsyncSession,
    *,
    task_id: uuid.UUID,
    order_number: str,
    sources: frozenset[TaskStatus],
    action: str,
    message: str,
    mark: dict[str, Any],
    values: dict[str, Any] | None = None,
) -> Task:
    """The one by-hand purchase write (``mark_bought``, the hand-off's ``finish_by_hand``): the
    task moves to completed with ``{"orderNumber", **mark}`` as its result, and its purchase row
    is recorded — the same unique-by-task row a bot writes, so at most once; prices unknown to
    Taskdeck are 0 unless a purchase row exists already."""
    number = clean_order_number(order_number)
    task = await move(
        session,
        task_id=task_id,
        to=S.COMPLETED,
        sources=sources,
        values={
            "error": None,
            "progress": 100,
            "finished_at": utcnow(),
            "result": {"orderNumber": number, **mark},
            **(values or {}),
        },
        action=action,
        message=f"{message}: order {number}",
        entity=True,
    )
    bought = {
        "order_number": number,
        "quantity": task.quantity,
        "unit_price": Decimal(0),
        "total": Decimal(0),
    }
    await outcomes.record_purchase(session, task=task, purchase=bought)
    return await get_task(session, task_id)


async def mark_bought(session: AsyncSession, *, task_id: uuid.UUID, order_number: str) -> Task:
    """unknown → completed: a person found the order at the store; its purchase row is recorded
    (prices unknown to Taskdeck are recorded as 0 unless a purchase row exists already)."""
    return await complete_by_hand(
        session,
        task_id=task_id,
        order_number=order_number,
        sources=ACTIONS["mark-bought"],
        action="mark bought",
        message="marked bought by a person",
        mark={"markedBought": True},
    )


async def mark_not_bought(session: AsyncSession, *, task_id: uuid.UUID) -> Task:
    """unknown → failed: a person checked and no order exists. The checkpoint is cleared on their
    word, so a retry places the order again without asking the store first."""
    return await move(
        session,
        task_id=task_id,
        to=S.FAILED,
        sources=ACTIONS["mark-not-bought"],
        values={
            "error": "not bought (checked at the store by a person)",
            "finished_at": utcnow(),
            "checkpoints": [],
        },
        action="mark not bought",
        message="marked not bought by a person; retry is allowed",
        entity=True,
    )
