"""The engine's side of a watch: the buy-once claim, observations, and an outcome's effect.

- ``claim``: right before a listing's irreversible step (its first checkpoint) the run claims the
  watch with ONE conditional UPDATE (``watching`` → ``buying``, ``claimed_by`` = its task; the same
  task may claim again, e.g. a rerun). Zero rows: another listing holds it, or the watch ended.
- ``observe``: a check's price and stock; a row in ``watch_observation`` only when either changed.
- ``held_elsewhere``: whether another listing holds the claim (a listing that sees its product in
  stock then ends its check instead of starting a checkout: the others keep checking while one
  buys, but never claim).
- ``expire``: watching watches past their ``until`` → ``expired`` (the sweeper's).

What a listing task's outcome means for its watch is ``models/watch_outcomes.py``. Beyond the
claim, the database holds the rule: ``purchase.watch_id`` has a partial unique index.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models.clock import db_now
from models.events import publish
from models.types import utcnow
from models.watch_tables import Watch, WatchListing, WatchObservation, WatchStatus
from models.watches import stop_listings

W = WatchStatus


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
            exists(  # still one of its listings (an edit may have removed it meanwhile)
                select(col(WatchListing.id)).where(
                    col(WatchListing.watch_id) == watch_id, col(WatchListing.task_id) == task_id
                )
            ),
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


async def held_elsewhere(session: AsyncSession, *, task_id: uuid.UUID, watch_id: uuid.UUID) -> bool:
    """True while another listing task of the watch holds its claim (the watch is ``buying``)."""
    held = await session.scalar(
        select(col(Watch.claimed_by)).where(col(Watch.id) == watch_id, col(Watch.status) == W.BUYING.value)
    )
    return held is not None and held != task_id


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
