"""A watch's writes for its owner: create (the watch, its listings and one monitor task each, in
the caller's transaction), edit, cancel and delete. The engine's side — claim, observations,
settling an outcome, expiry — is ``models/watch_claims.py``; reads are ``models/watch_queries.py``.

A watch's listing tasks are ordinary monitor tasks (``mode='monitor'``, ``check_every`` and
``until`` the watch's, ``max_price`` the listing's), created, cancelled and deleted through the
task moves of ``models/tasks.py``, so the engine, the sweeper and the task pages treat them as
any other task.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models import edits
from models import tasks as task_ops
from models.errors import InvalidTransition, TaskNotFound
from models.schemas import TaskCreate
from models.settings import Settings
from models.states import HELD
from models.tables import Task
from models.types import utcnow
from models.watch_schemas import ListingCreate, WatchCreate, WatchUpdate
from models.watch_tables import ACTIVE_WATCH, Watch, WatchListing, WatchStatus

W = WatchStatus


class WatchNotFound(TaskNotFound):
    """No watch has this id."""


def listing_task(watch: WatchCreate | Watch, listing: ListingCreate) -> TaskCreate:
    """The monitor task of one of the watch's listings."""
    name = f"{watch.name} · {listing.product}"
    return TaskCreate.model_validate(
        {
            "name": name[:200],
            "store": listing.store,
            "product": listing.product,
            "quantity": watch.quantity,
            "max_price": listing.max_price,
            "mode": "monitor",
            "check_every": watch.check_every,
            "until": watch.until,
            "profile_id": watch.profile_id,
        }
    )


async def _add_listing(
    session: AsyncSession,
    watch: WatchCreate | Watch,
    listing: ListingCreate,
    *,
    watch_id: uuid.UUID,
    position: int,
    settings: Settings,
    owner_id: uuid.UUID | None,
) -> Task:
    """A listing and its monitor task (queued: its first check runs now)."""
    task = await task_ops.create_task(
        session, data=listing_task(watch, listing), settings=settings, owner_id=owner_id
    )
    session.add(
        WatchListing(
            watch_id=watch_id,
            position=position,
            store=listing.store,
            product=listing.product,
            max_price=listing.max_price,
            task_id=task.id,
        )
    )
    return task


async def create_watch(
    session: AsyncSession, *, data: WatchCreate, settings: Settings, owner_id: uuid.UUID | None
) -> tuple[Watch, list[Task]]:
    """The watch, its listings and their monitor tasks (queued: the first check runs now)."""
    now = utcnow()
    watch = Watch(
        owner_id=owner_id,
        name=data.name,
        quantity=data.quantity,
        profile_id=data.profile_id,
        check_every=data.check_every,
        until=data.until,
        created_at=now,
        updated_at=now,
    )
    session.add(watch)
    await session.flush()
    tasks = [
        await _add_listing(
            session, data, listing, watch_id=watch.id, position=index, settings=settings, owner_id=owner_id
        )
        for index, listing in enumerate(data.listings)
    ]
    await session.flush()
    return watch, tasks


async def _listing_tasks(session: AsyncSession, watch_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await session.scalars(
        select(col(WatchListing.task_id)).where(
            col(WatchListing.watch_id) == watch_id, col(WatchListing.task_id).is_not(None)
        )
    )
    return [task_id for task_id in rows if task_id is not None]


async def stop_listings(session: AsyncSession, *, watch_id: uuid.UUID, keep: uuid.UUID | None = None) -> int:
    """Cancel every listing task of the watch but ``keep`` (waiting ones at once, running ones
    by request); a task that has already ended is left as it is. Returns how many were stopped."""
    stopped = 0
    for task_id in await _listing_tasks(session, watch_id):
        if task_id == keep:
            continue
        try:
            await task_ops.cancel_task(session, task_id=task_id)
            stopped += 1
        except (InvalidTransition, TaskNotFound):
            pass
    return stopped


async def _move(
    session: AsyncSession,
    watch_id: uuid.UUID,
    *,
    to: WatchStatus,
    sources: frozenset[WatchStatus],
    **values: Any,
) -> Watch:
    """One guarded UPDATE of the watch's state; ``InvalidTransition`` when it is elsewhere."""
    moved = (
        (
            await session.execute(
                update(Watch)
                .where(col(Watch.id) == watch_id, col(Watch.status).in_([s.value for s in sources]))
                .values(status=to.value, updated_at=utcnow(), **values)
                .returning(Watch)
                .execution_options(populate_existing=True, synchronize_session=False)
            )
        )
        .scalars()
        .first()
    )
    if moved is None:
        current = await session.scalar(select(col(Watch.status)).where(col(Watch.id) == watch_id))
        if current is None:
            raise WatchNotFound(f"no watch with id {watch_id}")
        raise InvalidTransition(f"cannot {to.value.removesuffix('ed')}: watch is {current}", status=current)
    return moved


async def cancel_watch(session: AsyncSession, *, watch_id: uuid.UUID) -> Watch:
    """Stop watching: ``cancelled``, and every listing task cancelled (a purchase already in
    flight still ends as the store says; its purchase is recorded)."""
    now = utcnow()
    watch = await _move(session, watch_id, to=W.CANCELLED, sources=ACTIVE_WATCH, finished_at=now)
    await stop_listings(session, watch_id=watch_id)
    return watch


async def delete_watch(session: AsyncSession, *, watch_id: uuid.UUID) -> None:
    """Delete a watch that has ended, with its listings, observations and tasks (its purchase
    stays, as every purchase does)."""
    status = await session.scalar(select(col(Watch.status)).where(col(Watch.id) == watch_id))
    if status is None:
        raise WatchNotFound(f"no watch with id {watch_id}")
    if status in ACTIVE_WATCH:
        raise InvalidTransition(f"cannot delete: watch is {status}; cancel it first", status=status)
    for task_id in await _listing_tasks(session, watch_id):
        try:
            await task_ops.delete_task(session, task_id=task_id)
        except TaskNotFound:
            pass
        except InvalidTransition as exc:
            if exc.status in {s.value for s in HELD}:
                raise InvalidTransition(
                    "cannot delete yet: a listing's last check is still running", status=status
                ) from None
            raise
    watch = await session.get(Watch, watch_id)
    if watch is not None:
        await session.delete(watch)
        await session.flush()


async def edit_watch(
    session: AsyncSession, *, watch_id: uuid.UUID, update_: WatchUpdate, settings: Settings
) -> tuple[Watch, list[Task]]:
    """Change a watching watch and its listing tasks; ``InvalidTransition`` when the watch is not
    ``watching`` or a listing's check is running (try again). ``listings`` is the whole new set:
    a new (store, product) is added with its monitor task (returned, to be rung), a missing one is
    removed (its monitor cancelled, the listing and its history deleted), a kept one keeps its
    task and history and takes the new max price."""
    before = (
        await session.execute(
            select(col(Watch.name), col(Watch.check_every), col(Watch.until)).where(col(Watch.id) == watch_id)
        )
    ).first()
    given = {
        name: getattr(update_, name) for name in {"name", "check_every", "until"} & update_.model_fields_set
    }
    # what really changes (a dialog sends every field): only that touches the listing tasks
    fields = {k for k, v in given.items() if before is None or v != getattr(before, k)}
    # the guarded move locks the watch row: a listing's claim waits for this edit
    watch = await _move(session, watch_id, to=W.WATCHING, sources=frozenset({W.WATCHING}), **given)
    listings = list(
        await session.scalars(
            select(WatchListing)
            .where(col(WatchListing.watch_id) == watch_id)
            .order_by(col(WatchListing.position))
        )
    )
    prices = dict(update_.max_prices or {})
    unknown = set(prices) - {listing.id for listing in listings}
    if unknown:
        raise WatchNotFound(f"no listing with id {sorted(map(str, unknown))[0]} in this watch")
    added: list[Task] = []
    if update_.listings is not None:
        wanted = {(x.store, x.product): x for x in update_.listings}
        kept = []
        for listing in listings:
            new = wanted.pop((listing.store, listing.product), None)
            if new is None:
                await _remove_listing(session, listing)
                continue
            prices[listing.id] = new.max_price
            kept.append(listing)
        listings = kept
        position = max((listing.position for listing in kept), default=-1) + 1
        for offset, new in enumerate(wanted.values()):
            task = await _add_listing(
                session,
                watch,
                new,
                watch_id=watch_id,
                position=position + offset,
                settings=settings,
                owner_id=watch.owner_id,
            )
            added.append(task)
    for listing in listings:
        changes: dict[str, Any] = {}
        if listing.id in prices and listing.max_price != prices[listing.id]:
            listing.max_price = prices[listing.id]
            changes["max_price"] = prices[listing.id]
        if "check_every" in fields:
            changes["check_every"] = update_.check_every
        if "until" in fields:
            changes["until"] = update_.until
        if "name" in fields and update_.name is not None:
            changes["name"] = f"{update_.name} · {listing.product}"[:200]
        if changes and listing.task_id is not None:
            await edits.edit_task(session, task_id=listing.task_id, changes=changes)
    await session.flush()
    return watch, added


async def _remove_listing(session: AsyncSession, listing: WatchListing) -> None:
    """Stop the listing's monitor (cancelled at once; a running check is asked to stop, and can no
    longer claim the watch: its listing is gone) and delete the listing with its history; the
    cancelled task stays, as a stopped watch's tasks do."""
    if listing.task_id is not None:
        try:
            await task_ops.cancel_task(session, task_id=listing.task_id)
        except (InvalidTransition, TaskNotFound):  # it has ended already
            pass
    await session.delete(listing)
