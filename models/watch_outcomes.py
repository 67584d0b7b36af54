"""What a listing task's state means for its watch: the one place that settles a watch.

``settle(session, task_ids)`` runs in the transaction that moved those tasks — the worker's
outcome (``models.outcomes.record_outcome``), the sweeps (``models.sweeps``: a stale run rescued,
a monitor expired), a person's action on a task (``webapp.commands.apply``: cancel, delete, mark
bought / not bought, finish by hand) — and reads each task's state as it is now:

- ``completed`` → the task's purchase is named on the watch and the watch is ``bought`` (from
  wherever it was), every other listing stops, ``watch.bought`` is emitted. When another purchase
  names the watch already, ``uq_purchase_watch`` refuses the second: the purchase stays on its
  task (money spent is never taken back), the watch stays ``bought`` with the first one and says
  so in ``error``, and the task gets an event;
- ``unknown`` while it holds the claim → the watch is ``unknown`` (a person decides), others stop;
- still running (``HELD``) → the watch stays ``buying``;
- anything else while it holds the claim (scheduled: sold out at checkout or price changed;
  retrying; queued again; failed; cancelled; paused) → the claim goes back: ``buying`` →
  ``watching``; from ``unknown`` (a person said "not bought") the stopped listings start over.

So ``buying`` always means "its claimant's run is still going". ``settle_stray`` (the sweeper's,
every second) restores that for any path that moved a task without settling — or deleted it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import exists, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models import tasks as task_ops
from models import webhooks
from models.events import publish
from models.states import HELD, TaskStatus
from models.tables import Purchase, Task
from models.types import utcnow
from models.watch_tables import Watch, WatchListing, WatchStatus
from models.watches import stop_listings

S, W = TaskStatus, WatchStatus
TASKS, PURCHASES = Task.metadata.tables["task"], Purchase.metadata.tables["purchase"]
IN_DOUBT = "an order may have been placed — check the store, then mark the task"


async def settle(session: AsyncSession, task_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, WatchStatus]:
    """Settle the watches of these tasks (non-listings are ignored: one query for them all);
    returns each changed watch's new state."""
    ids = list(dict.fromkeys(task_ids))
    if not ids:
        return {}
    listing, task, watch = WatchListing.__table__.c, TASKS.c, Watch.__table__.c  # type: ignore[attr-defined]
    rows = (
        await session.execute(
            select(listing.task_id, listing.watch_id, listing.store, listing.product)
            .add_columns(task.status, watch.status, watch.claimed_by)
            .join(TASKS, task.id == listing.task_id)
            .join(Watch.__table__, watch.id == listing.watch_id)  # type: ignore[attr-defined]
            .where(listing.task_id.in_(ids))
        )
    ).all()
    changed: dict[uuid.UUID, WatchStatus] = {}
    for task_id, watch_id, store, product, task_status, watch_status, claimed_by in rows:
        to: WatchStatus | None = None
        if task_status == S.COMPLETED.value:
            if watch_status != W.BOUGHT.value or claimed_by != task_id:
                to = await _bought(session, task_id=task_id, watch_id=watch_id, store=store, product=product)
        elif claimed_by == task_id and task_status not in {s.value for s in HELD}:
            if task_status == S.UNKNOWN.value:
                to = await _in_doubt(session, task_id=task_id, watch_id=watch_id)
            else:
                restart = watch_status == W.UNKNOWN.value
                to = await _release(session, task_id=task_id, watch_id=watch_id, restart=restart)
        if to is not None:
            changed[watch_id] = to
    return changed


async def settle_stray(session: AsyncSession) -> dict[uuid.UUID, WatchStatus]:
    """Watches left behind by a path that did not settle (the sweeper's backstop): ``buying``
    whose claimant no longer runs, or is gone; not ``bought`` though a listing task completed."""
    claimant = TASKS.alias("claimant")
    stray = select(col(Watch.id), col(Watch.claimed_by), claimant.c.status).outerjoin(
        claimant, claimant.c.id == col(Watch.claimed_by)
    )
    rows = (
        await session.execute(
            stray.where(
                col(Watch.status) == W.BUYING.value,
                or_(claimant.c.id.is_(None), claimant.c.status.not_in([s.value for s in HELD])),
            )
        )
    ).all()
    ids = [claimed_by for _, claimed_by, status in rows if status is not None]
    changed: dict[uuid.UUID, WatchStatus] = {}
    for watch_id, claimed_by, status in rows:
        if status is None:  # its claimant task was deleted
            if await _release(session, task_id=claimed_by, watch_id=watch_id, tell=False):
                changed[watch_id] = W.WATCHING
    done = await session.scalars(
        select(col(WatchListing.task_id))
        .join(Task, col(Task.id) == col(WatchListing.task_id))
        .join(Watch, col(Watch.id) == col(WatchListing.watch_id))
        .where(
            col(Task.status) == S.COMPLETED.value,
            col(Watch.status) != W.BOUGHT.value,
        )
    )
    ids.extend(task_id for task_id in done if task_id is not None)
    return {**changed, **await settle(session, ids)}


async def _release(
    session: AsyncSession,
    *,
    task_id: uuid.UUID,
    watch_id: uuid.UUID,
    restart: bool = False,
    tell: bool = True,
) -> WatchStatus | None:
    """The claim goes back (``buying`` → ``watching``); with ``restart`` (from ``unknown``: a
    person said "not bought") the stopped listings start over too."""
    moved = await session.execute(
        update(Watch)
        .where(
            col(Watch.id) == watch_id,
            col(Watch.claimed_by) == task_id,
            col(Watch.status).in_([W.BUYING.value, W.UNKNOWN.value]),
        )
        .values(status=W.WATCHING.value, claimed_by=None, error=None, finished_at=None, updated_at=utcnow())
        .returning(col(Watch.id))
        .execution_options(synchronize_session=False)
    )
    if moved.first() is None:
        return None
    if restart:
        stopped = await session.scalars(
            select(col(WatchListing.task_id))
            .join(Task, col(Task.id) == col(WatchListing.task_id))
            .where(
                col(WatchListing.watch_id) == watch_id,
                col(Task.status).in_([S.FAILED.value, S.CANCELLED.value]),
            )
        )
        for other in list(stopped):
            if other is not None:
                await task_ops.start_task(session, task_id=other, action="retry")
    if tell:
        await publish(
            session, task_id=task_id, kind="log", message="the watch's claim went back; watching goes on"
        )
    return W.WATCHING


async def _in_doubt(session: AsyncSession, *, task_id: uuid.UUID, watch_id: uuid.UUID) -> WatchStatus | None:
    moved = await session.execute(
        update(Watch)
        .where(
            col(Watch.id) == watch_id, col(Watch.status) == W.BUYING.value, col(Watch.claimed_by) == task_id
        )
        .values(status=W.UNKNOWN.value, error=IN_DOUBT, finished_at=utcnow(), updated_at=utcnow())
        .returning(col(Watch.id))
        .execution_options(synchronize_session=False)
    )
    if moved.first() is None:
        return None
    await stop_listings(session, watch_id=watch_id, keep=task_id)
    return W.UNKNOWN


async def _name_watch(
    session: AsyncSession, *, task_id: uuid.UUID, watch_id: uuid.UUID
) -> Purchase | bool | None:
    """Name the watch on the task's purchase: the purchase when it names the watch (now or
    before), None without a purchase row, False when the database refused (another purchase names
    the watch: ``uq_purchase_watch``)."""
    purchase = await session.scalar(
        select(Purchase).where(col(Purchase.task_id) == task_id).execution_options(populate_existing=True)
    )
    if purchase is None or purchase.watch_id == watch_id:
        return purchase
    other = PURCHASES.alias("other")
    try:
        async with session.begin_nested():  # a concurrent twin's row makes the index refuse: only this undone
            named = await session.execute(
                update(Purchase)
                .where(
                    col(Purchase.id) == purchase.id,
                    col(Purchase.watch_id).is_(None),
                    ~exists(select(other.c.id).where(other.c.watch_id == watch_id)),
                )
                .values(watch_id=watch_id)
                .returning(col(Purchase.id))
                .execution_options(synchronize_session=False)
            )
            if named.first() is None:
                return False
    except IntegrityError:
        return False
    purchase.watch_id = watch_id
    return purchase


async def _bought(
    session: AsyncSession, *, task_id: uuid.UUID, watch_id: uuid.UUID, store: str, product: str
) -> WatchStatus | None:
    """A purchase is the truth: the watch is ``bought`` from wherever it was (a cancel that came
    while the order was in flight included), every other listing stops. A second purchase is
    refused by the database and said so (the watch keeps its first)."""
    purchase = await _name_watch(session, task_id=task_id, watch_id=watch_id)
    if purchase is False:
        return await _refused(session, task_id=task_id, watch_id=watch_id, store=store, product=product)
    now = utcnow()
    moved = await session.execute(
        update(Watch)
        .where(col(Watch.id) == watch_id, col(Watch.status) != W.BOUGHT.value)
        .values(status=W.BOUGHT.value, claimed_by=task_id, updated_at=now, finished_at=now, error=None)
        .returning(col(Watch.owner_id), col(Watch.name))
        .execution_options(synchronize_session=False)
    )
    row = moved.first()
    if row is None:
        return None
    await stop_listings(session, watch_id=watch_id, keep=task_id)
    owner, name = row
    if owner is not None:
        payload: dict[str, Any] = {
            "task": {"id": str(task_id), "store": store, "product": product},
            "watch": {"id": str(watch_id), "name": name},
        }
        if isinstance(purchase, Purchase):
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


async def _refused(
    session: AsyncSession, *, task_id: uuid.UUID, watch_id: uuid.UUID, store: str, product: str
) -> WatchStatus | None:
    """A second purchase for one watch: recorded on its task only; the watch is ``bought`` (it
    has its one purchase) and its ``error`` names the second order for a person to check."""
    order = await session.scalar(select(col(Purchase.order_number)).where(col(Purchase.task_id) == task_id))
    error = (
        f"a second purchase was refused: order {order} at {store}/{product} (task {task_id}) is "
        "recorded on its task, not on this watch — check the store"
    )
    moved = await session.execute(
        update(Watch)
        .where(col(Watch.id) == watch_id, or_(col(Watch.error).is_(None), col(Watch.error) != error))
        .values(status=W.BOUGHT.value, error=error, updated_at=utcnow())
        .returning(col(Watch.id))
        .execution_options(synchronize_session=False)
    )
    if moved.first() is None:  # said already
        return None
    await stop_listings(session, watch_id=watch_id, keep=task_id)
    await publish(
        session,
        task_id=task_id,
        kind="log",
        message=f"second purchase for its watch refused: order {order} stays on this task only"
        " — check the store",
        data={"watch": str(watch_id), "refused": "uq_purchase_watch"},
    )
    return W.BOUGHT
