"""Every read of watches, filtered by the viewer (the owner rule of ``models/queries.py``): another
user's watch reads as missing (``WatchNotFound``, a 404), an admin sees everyone's."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models.access import Viewer, owned
from models.tables import Purchase, Task
from models.watch_tables import Watch, WatchListing, WatchObservation
from models.watches import WatchNotFound


@dataclass(frozen=True)
class WatchRow:
    """A watch with what its list shows: the lowest price in stock now and the last change."""

    watch: Watch
    best_price: Decimal | None
    last_change: datetime | None


@dataclass(frozen=True)
class ListingRow:
    listing: WatchListing
    task_status: str | None
    last_check_at: datetime | None


@dataclass(frozen=True)
class Observation:
    store: str
    product: str
    at: datetime
    price: Decimal | None
    in_stock: bool


def _summary() -> Any:
    """Per watch: the lowest last price among listings in stock, and the last change."""
    best = func.min(case((col(WatchListing.in_stock).is_(True), col(WatchListing.last_price))))
    return (
        select(
            col(WatchListing.watch_id),
            best.label("best"),
            func.max(col(WatchListing.changed_at)).label("last"),
        )
        .group_by(col(WatchListing.watch_id))
        .subquery("summary")
    )


async def list_watches(
    session: AsyncSession, *, viewer: Viewer, limit: int = 200, offset: int = 0
) -> tuple[list[WatchRow], int]:
    """A page of the viewer's watches, newest first, and how many there are."""
    filters = owned(viewer, col(Watch.owner_id))
    count = await session.scalar(select(func.count()).select_from(Watch).where(*filters)) or 0
    summary = _summary()
    rows = await session.execute(
        select(Watch, summary.c.best, summary.c.last)
        .outerjoin(summary, summary.c.watch_id == col(Watch.id))
        .where(*filters)
        .order_by(col(Watch.created_at).desc(), col(Watch.id))
        .limit(limit)
        .offset(offset)
    )
    return [WatchRow(watch, best, last) for watch, best, last in rows.all()], count


async def get_watch(session: AsyncSession, watch_id: uuid.UUID, *, viewer: Viewer) -> WatchRow:
    summary = _summary()
    row = (
        await session.execute(
            select(Watch, summary.c.best, summary.c.last)
            .outerjoin(summary, summary.c.watch_id == col(Watch.id))
            .where(col(Watch.id) == watch_id, *owned(viewer, col(Watch.owner_id)))
            .execution_options(populate_existing=True)
        )
    ).first()
    if row is None:
        raise WatchNotFound(f"no watch with id {watch_id}")
    return WatchRow(*row)


async def watch_listings(session: AsyncSession, watch_id: uuid.UUID, *, viewer: Viewer) -> list[ListingRow]:
    await get_watch(session, watch_id, viewer=viewer)
    rows = await session.execute(
        select(WatchListing, col(Task.status), col(Task.last_check_at))
        .outerjoin(Task, col(Task.id) == col(WatchListing.task_id))
        .where(col(WatchListing.watch_id) == watch_id)
        .order_by(col(WatchListing.position))
        .execution_options(populate_existing=True)
    )
    return [ListingRow(listing, status, checked) for listing, status, checked in rows.all()]


async def watch_purchase(session: AsyncSession, watch_id: uuid.UUID, *, viewer: Viewer) -> Purchase | None:
    return await session.scalar(
        select(Purchase).where(col(Purchase.watch_id) == watch_id, *owned(viewer, col(Purchase.owner_id)))
    )


async def watch_history(
    session: AsyncSession, watch_id: uuid.UUID, *, viewer: Viewer, limit: int = 10_000
) -> list[Observation]:
    """Every observation of the watch's listings, oldest first."""
    await get_watch(session, watch_id, viewer=viewer)
    rows = await session.execute(
        select(
            col(WatchListing.store),
            col(WatchListing.product),
            col(WatchObservation.at),
            col(WatchObservation.price),
            col(WatchObservation.in_stock),
        )
        .join(WatchListing, col(WatchListing.id) == col(WatchObservation.listing_id))
        .where(col(WatchListing.watch_id) == watch_id)
        .order_by(col(WatchObservation.at), col(WatchObservation.id))
        .limit(limit)
    )
    return [Observation(*row) for row in rows.all()]
