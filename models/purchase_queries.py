"""Reads of purchases, for ``/api/purchases``, ``/api/purchases.csv`` and the purchases page.

Part of the one read layer: ``models.queries`` re-exports these, and callers use them from there.
The owner rule is the same (the viewer's own rows; an admin's: everyone's, or ``owner``'s), and
every read takes one ``PurchaseFilter``: a store and a time range (``since`` inclusive, ``before``
exclusive; the caller turns days in a time zone into these instants).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models.access import Viewer
from models.tables import Purchase, Task

EXPORT_BATCH = 1000  # rows per read while an export walks every match


@dataclass(frozen=True)
class PurchaseFilter:
    """Which purchases: one store, one owner (admins), a range of ``created_at``."""

    store: str | None = None
    owner: uuid.UUID | None = None
    since: datetime | None = None
    before: datetime | None = None

    @classmethod
    def days(
        cls,
        *,
        first: date | None,
        last: date | None,
        tz: tzinfo,
        store: str | None = None,
        owner: uuid.UUID | None = None,
    ) -> PurchaseFilter:
        """From the start of day ``first`` to the end of day ``last`` (both included) in ``tz``."""
        since = datetime.combine(first, time(), tz) if first else None
        before = datetime.combine(last + timedelta(days=1), time(), tz) if last else None
        return cls(store=store or None, owner=owner, since=since, before=before)


@dataclass(frozen=True)
class StoreTotal:
    """Orders and money spent at one store in one currency."""

    store: str
    currency: str
    orders: int
    total: Decimal


def purchase_filters(viewer: Viewer, where: PurchaseFilter) -> list[ColumnElement[bool]]:
    filters = [viewer.owner_filter(col(Purchase.owner_id))]
    if where.owner is not None:
        filters.append(col(Purchase.owner_id) == where.owner)
    if where.store:
        filters.append(col(Purchase.store) == where.store)
    if where.since is not None:
        filters.append(col(Purchase.created_at) >= where.since)
    if where.before is not None:
        filters.append(col(Purchase.created_at) < where.before)
    return filters


async def list_purchases(
    session: AsyncSession,
    *,
    viewer: Viewer,
    where: PurchaseFilter | None = None,
    store: str | None = None,
    owner: uuid.UUID | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[tuple[Purchase, str | None]], int]:
    """The viewer's purchases newest first, each with its task's name (None once the task is
    deleted), as ``(page, total count)``. ``store``/``owner`` are shorthands for ``where``'s."""
    where = where or PurchaseFilter(store=store, owner=owner)
    filters = purchase_filters(viewer, where)
    count = await session.scalar(select(func.count()).select_from(Purchase).where(*filters)) or 0
    rows = await session.execute(
        select(Purchase, col(Task.name))
        .outerjoin(Task, col(Task.id) == col(Purchase.task_id))
        .where(*filters)
        .order_by(col(Purchase.created_at).desc(), col(Purchase.id).desc())
        .limit(limit)
        .offset(offset)
    )
    return [(p, name) for p, name in rows.all()], count


async def each_purchase(
    session: AsyncSession, *, viewer: Viewer, where: PurchaseFilter
) -> AsyncIterator[tuple[Purchase, str | None]]:
    """Every matching purchase, newest first, read ``EXPORT_BATCH`` at a time (for exports)."""
    offset = 0
    while True:
        rows, _ = await list_purchases(session, viewer=viewer, where=where, limit=EXPORT_BATCH, offset=offset)
        for row in rows:
            yield row
        if len(rows) < EXPORT_BATCH:
            return
        offset += EXPORT_BATCH


async def spent(
    session: AsyncSession,
    *,
    viewer: Viewer,
    owner: uuid.UUID | None = None,
    where: PurchaseFilter | None = None,
) -> dict[str, Decimal]:
    """Total spent per currency."""
    totals: dict[str, Decimal] = {}
    for row in await store_totals(session, viewer=viewer, where=where or PurchaseFilter(owner=owner)):
        totals[row.currency] = totals.get(row.currency, Decimal(0)) + row.total
    return totals


async def store_totals(session: AsyncSession, *, viewer: Viewer, where: PurchaseFilter) -> list[StoreTotal]:
    """Orders and money spent per store and currency, by store then currency."""
    rows = await session.execute(
        select(col(Purchase.store), col(Purchase.currency), func.count(), func.sum(col(Purchase.total)))
        .where(*purchase_filters(viewer, where))
        .group_by(col(Purchase.store), col(Purchase.currency))
        .order_by(col(Purchase.store), col(Purchase.currency))
    )
    return [
        StoreTotal(store=store, currency=currency, orders=int(orders), total=Decimal(str(total or 0)))
        for store, currency, orders, total in rows.all()
    ]


async def purchase_stores(
    session: AsyncSession, *, viewer: Viewer, owner: uuid.UUID | None = None
) -> list[str]:
    """The stores the viewer has bought from (for the store filter), by name."""
    rows = await session.scalars(
        select(col(Purchase.store))
        .where(*purchase_filters(viewer, PurchaseFilter(owner=owner)))
        .distinct()
        .order_by(col(Purchase.store))
    )
    return list(rows.all())
