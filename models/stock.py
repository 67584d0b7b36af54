"""A monitor's "back in stock" moment: one guarded write, and the ``monitor.in_stock`` webhook
with it, once per transition — not once per check.

``task.last_check`` says what the monitor's last check saw: the observation of a check that
found nothing ("out of stock; restock at …", written with the ``scheduled`` outcome), ``IN_STOCK``
once a check found the product, ``"bought"`` after the purchase. ``mark_in_stock`` moves it to
``IN_STOCK`` only from something else, guarded by the run's lease, and writes the owner's
deliveries (``models.webhooks.enqueue``) and a task event in the same transaction. A check that
finds the product again while ``last_check`` is still ``IN_STOCK`` (a retry after a checkout
error, a redelivered message) writes nothing; a check that finds nothing writes its observation,
so the next find is a new transition and tells the owner again.

A bot says it found the product with ``await ctx.in_stock()`` (``workers/bots/base.py``); a
monitor that buys without saying so is taken to have found it (``workers/executor.py``). Watches
and other emitters of ``monitor.in_stock`` share ``in_stock_payload``'s shape.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models import webhooks
from models.clock import db_now
from models.events import publish
from models.moves import status_in
from models.states import HELD
from models.tables import Task

EVENT = "monitor.in_stock"
IN_STOCK = "in stock"


def in_stock_payload(task: Task, *, observation: str | None = None) -> dict[str, Any]:
    """The event's body: the task as every task event tells it, and what this check (its
    number among the monitor's checks) saw."""
    return {
        **webhooks.task_payload(task, status=str(task.status)),
        "check": {"result": IN_STOCK, "observation": observation, "check": task.checks + 1},
    }


async def mark_in_stock(session: AsyncSession, *, task: Task, observation: str | None = None) -> bool:
    """Record that this run of monitor ``task`` found its product. True when that is news (the
    last check saw something else): ``last_check`` moved, and the event and the owner's
    ``monitor.in_stock`` deliveries are written; False when it was already known, when the
    task is not a monitor, or when the run no longer owns the task."""
    if task.mode != "monitor":
        return False
    moved = await session.execute(
        update(Task)
        .where(
            col(Task.id) == task.id,
            status_in(HELD),
            col(Task.lease) == task.lease,
            or_(col(Task.last_check).is_(None), col(Task.last_check) != IN_STOCK),
        )
        .values(last_check=IN_STOCK, last_check_at=db_now(), heartbeat_at=db_now())
        .returning(col(Task.id))
        .execution_options(synchronize_session=False)
    )
    if moved.first() is None:
        return False
    message = f"in stock: {observation}" if observation and observation != IN_STOCK else "in stock"
    await publish(session, task_id=task.id, kind="log", step="in stock", message=message[:500])
    await webhooks.enqueue(
        session, event=EVENT, payload=in_stock_payload(task, observation=observation), owner_id=task.owner_id
    )
    return True
