"""The engine's side of a watch: the buy-once claim, observations, and an outcome's effect.

- ``claim``: right before a listing's irreversible step (its first checkpoint) the run claims the
  watch with ONE conditional UPDATE (``watching`` → ``buying``, ``claimed_by`` = its task; the same
  task may claim again, e.g. a rerun). Zero rows: another listing holds it, or the watch ended.
- ``observe``: a check's price and stock; a row in ``watch_observation`` only when either changed.
- ``settle``: in the transaction that records a listing task's outcome — completed → ``bought``
  (and every other listing stops, ``watch.bought`` is emitted); unknown → ``unknown`` (others
  stop); a clean failure (not available: sold out at checkout, price changed; failed;
  cancelled) → the claim is released and watching goes on.
- ``expire``: watching watches past their ``until`` → ``expired`` (the sweeper's).

Beyond the claim, the database holds the rule: ``purchase.watch_id`` has a partial unique index.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models import tasks as task_ops
from models import webhooks
from models.clock import db_now
from models.events import publish
from models.states import TaskStatus
from models.tables import Purchase, Task
from models.types import utcnow
from models.watch_tables import Watch, WatchListing, WatchObservation, WatchStatus
from models.watches import stop_listings

S, W = TaskStatus, WatchStatus
RELEASING = frozenset({S.SCHEDULED, S.FAILED, S.CANCELLED})  # clean endings: the claim goes back


@dataclass(frozen=True)
class Listing:
    """What the engine needs of a task's listing."""

    id: uuid.UUID
    watch_id: uuid.UUID
    store: str
    product: str


async def listing_of(session: AsyncSession, task_id: uuid.UUID) -> Listing | None:
    """The listing this task watches, or None for a task of no watch."""
    row = (
        await session.execute(
            select(
                col(WatchListing.id),
                col(WatchListing.watch_id),
                col(WatchListing.store),
                col(WatchListing.product),
            ).where(col(WatchListing.task_id) == task_id)
        )
    ).first()
    return Listing(*row) if row is not None else None


async def claim(session: AsyncSession, *, task_id: uuid.UUID, watch_id: uuid.UUID) -> bool:
    """The watch for this task to buy: one conditional UPDATE; False when someone else has it."""
    claimed = await session.execute(
        update(Watch)
        .where(
            col(Watch.id) == watch_id,
            or_(
                col(Watch.status) == W.WATCHING.value,
                (col(Watch.status) == W.BUYING.value) & (col(Watch.claimed_by) == task_id),
            ),
        )
        .values(status=W.BUYING.value, claimed_by=task_id, updated_at=utcnow())
        .returning(col(Watch.id))
        .execution_options(synchronize_session=False)
    )
    return claimed.first() is not None


async def observe(
    session: AsyncSession, *, task_id: uuid.UUID, listing: Listing, price: Decimal | None, in_stock: bool
) -> bool:
    """Record the listing's price and stock if either changed since the last check (True then).
    (A listing is a monitor: turning in stock emits ``monitor.in_stock`` through ``models/stock.py``.)"""
    price = price.quantize(Decimal("0.01")) if price is not None else None
    before = (
        await session.execute(
            select(col(WatchListing.last_price), col(WatchListing.in_stock)).where(
                col(WatchListing.id) == listing.id
            )
        )
    ).first()
    if before is None or (before[0] == price and before[1] == in_stock):
        return False
    now = utcnow()
    await session.execute(
        update(WatchListing)
        .where(col(WatchListing.id) == listing.id)
        .values(last_price=price, in_stock=in_stock, changed_at=now)
        .execution_options(synchronize_session=False)
    )
    session.add(WatchObservation(listing_id=listing.id, at=now, price=price, in_stock=in_stock))
    await session.flush()
    shown = f"{price:.2f}" if price is not None else "no price"
    await publish(
        session,
        task_id=task_id,
        kind="log",
        message=f"{listing.store}/{listing.product}: {shown}, {'in stock' if in_stock else 'out of stock'}",
        data={
            "watch": str(listing.watch_id),
            "price": str(price) if price is not None else None,
            "inStock": in_stock,
        },
    )
    return True


def _listing_payload(task_id: uuid.UUID, listing: Listing) -> dict[str, Any]:
    return {
        "task": {"id": str(task_id), "store": listing.store, "product": listing.product},
        "watch": {"id": str(listing.watch_id)},
    }


async def settle(session: AsyncSession, *, task_id: uuid.UUID, listing: Listing) -> WatchStatus | None:
    """What the listing task's recorded outcome means for its watch (same transaction); returns
    the watch's new state when it changed."""
    status = await session.scalar(select(col(Task.status)).where(col(Task.id) == task_id))
    if status == S.COMPLETED.value:
        return await _bought(session, task_id=task_id, listing=listing)
    if status == S.UNKNOWN.value:
        moved = await _move(session, listing.watch_id, W.UNKNOWN, held_by=task_id, finished_at=utcnow())
        if moved is None:
            return None
        await session.execute(
            update(Watch)
            .where(col(Watch.id) == listing.watch_id)
            .values(error="an order may have been placed — check the store, then mark the task")
        )
        await stop_listings(session, watch_id=listing.watch_id, keep=task_id)
        return W.UNKNOWN
    if status in {s.value for s in RELEASING}:
        released = await _move(session, listing.watch_id, W.WATCHING, held_by=task_id, claimed_by=None)
        return W.WATCHING if released is not None else None
    return None


async def _move(
    session: AsyncSession, watch_id: uuid.UUID, to: WatchStatus, *, held_by: uuid.UUID, **values: Any
) -> uuid.UUID | None:
    """``buying`` (held by ``held_by``) → ``to``; None when the watch is not held by that task."""
    moved = await session.execute(
        update(Watch)
        .where(
            col(Watch.id) == watch_id,
            col(Watch.status) == W.BUYING.value,
            col(Watch.claimed_by) == held_by,
        )
        .values(status=to.value, updated_at=utcnow(), **values)
        .returning(col(Watch.id))
        .execution_options(synchronize_session=False)
    )
    return moved.scalar()


async def _bought(session: AsyncSession, *, task_id: uuid.UUID, listing: Listing) -> WatchStatus | None:
    """A purchase is the truth: the watch is ``bought`` from wherever it was (a cancel that came
    while the order was in flight included), every other listing stops."""
    now = utcnow()
    moved = await session.execute(
        update(Watch)
        .where(col(Watch.id) == listing.watch_id, col(Watch.status) != W.BOUGHT.value)
        .values(status=W.BOUGHT.value, claimed_by=task_id, updated_at=now, finished_at=now, error=None)
        .returning(col(Watch.owner_id), col(Watch.name))
        .execution_options(synchronize_session=False)
    )
    row = moved.first()
    if row is None:
        return None
    await stop_listings(session, watch_id=listing.watch_id, keep=task_id)
    owner, name = row
    if owner is not None:
        purchase = await session.scalar(select(Purchase).where(col(Purchase.task_id) == task_id))
        payload: dict[str, Any] = _listing_payload(task_id, listing)
        payload["watch"]["name"] = name
        if purchase is not None:
            payload["purchase"] = {
                "orderNumber": purchase.order_number,
                "quantity": purchase.quantity,
                "unitPrice": str(purchase.unit_price),
                "total": str(purchase.total),
                "currency": purchase.currency,
                "productName": purchase.product_name,
            }
        await webhooks.enqueue(session, event="watch.bought", payload=payload, owner_id=owner)
    return W.BOUGHT


async def expire(session: AsyncSession) -> list[uuid.UUID]:
    """Watching watches whose ``until`` passed (the database's clock) → ``expired``; their
    listing tasks stop (the sweeper fails waiting monitors past their window anyway)."""
    now = db_now()
    rows = await session.execute(
        update(Watch)
        .where(col(Watch.status) == W.WATCHING.value, col(Watch.until).is_not(None), col(Watch.until) <= now)
        .values(status=W.EXPIRED.value, finished_at=now, updated_at=now)
        .returning(col(Watch.id))
        .execution_options(synchronize_session=False)
    )
    ids = [r[0] for r in rows.all()]
    for watch_id in ids:
        await stop_listings(session, watch_id=watch_id)
    return ids


DECISIONS = frozenset({"mark-bought", "mark-not-bought", "finish"})  # a person settles a listing task


async def decided(session: AsyncSession, *, task_id: uuid.UUID) -> WatchStatus | None:
    """After a person marked a listing task bought / not bought or finished it by hand (same
    transaction as that action): bought → the watch is ``bought`` and the purchase names it; not
    bought → the watch watches again, its stopped listings started over."""
    listing = await listing_of(session, task_id)
    if listing is None:
        return None
    status = await session.scalar(select(col(Task.status)).where(col(Task.id) == task_id))
    if status == S.COMPLETED.value:
        await session.execute(
            update(Purchase)
            .where(col(Purchase.task_id) == task_id, col(Purchase.watch_id).is_(None))
            .values(watch_id=listing.watch_id)
            .execution_options(synchronize_session=False)
        )
        return await _bought(session, task_id=task_id, listing=listing)
    if status != S.FAILED.value:
        return None
    again = await session.execute(
        update(Watch)
        .where(
            col(Watch.id) == listing.watch_id,
            col(Watch.status) == W.UNKNOWN.value,
            col(Watch.claimed_by) == task_id,
        )
        .values(status=W.WATCHING.value, claimed_by=None, error=None, finished_at=None, updated_at=utcnow())
        .returning(col(Watch.id))
        .execution_options(synchronize_session=False)
    )
    if again.first() is None:
        return None
    rows = await session.scalars(
        select(col(WatchListing.task_id))
        .join(Task, col(Task.id) == col(WatchListing.task_id))
        .where(
            col(WatchListing.watch_id) == listing.watch_id,
            col(Task.status).in_([S.FAILED.value, S.CANCELLED.value]),
        )
    )
    for other in list(rows):
        if other is not None:
            await task_ops.start_task(session, task_id=other, action="retry")
    return W.WATCHING
