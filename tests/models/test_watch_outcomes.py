"""Every way a listing's task ends settles its watch (``models/watch_outcomes.py``), in the
transaction that moves the task: the sweeps (a stale run rescued, a monitor expired) as well as
the worker's outcome; and the sweeper's backstop for a path that did not. Real Postgres."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlmodel import col

from models import sweeps, watch_outcomes, watches
from models.db import Database
from models.settings import Settings
from models.tables import Purchase, Task, TaskEvent, Watch, WatchListing
from models.types import utcnow
from models.watch_schemas import WatchCreate

A, B = "gpu-founders", "console-limited"


async def buying(db: Database, **task_values: Any) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """A watch over two listings whose first listing's task holds the claim (as a run past its
    checkpoint leaves it), that task set to ``task_values``: (watch, claimant, other)."""
    data = WatchCreate(
        name="w",
        listings=[
            {"store": "demo", "product": A, "maxPrice": 700},
            {"store": "demo", "product": B, "maxPrice": 500},
        ],
    )
    async with db.begin() as session:
        watch, (first, other) = await watches.create_watch(
            session, data=data, settings=Settings(), owner_id=None
        )
        values = {
            "status": "running",
            "heartbeat_at": utcnow(),
            "checkpoints": ["place-order"],
            **task_values,
        }
        await session.execute(update(Task).where(col(Task.id) == first.id).values(**values))
        await session.execute(
            update(Watch).where(col(Watch.id) == watch.id).values(status="buying", claimed_by=first.id)
        )
    return watch.id, first.id, other.id


async def watch_of(db: Database, watch_id: uuid.UUID) -> Watch:
    async with db.session() as session:
        found = await session.get(Watch, watch_id, populate_existing=True)
    assert found is not None
    return found


async def status_of(db: Database, task_id: uuid.UUID) -> str:
    async with db.session() as session:
        return str(await session.scalar(select(col(Task.status)).where(col(Task.id) == task_id)))


async def test_a_stale_run_rescue_that_gives_up_releases_the_claim(db: Database) -> None:
    stale = utcnow() - timedelta(minutes=5)
    watch_id, first, _ = await buying(db, heartbeat_at=stale, attempt=3, max_attempts=3, checkpoints=[])
    async with db.begin() as session:
        rescued = await sweeps.rescue_stale(session, timeout=2)
    assert rescued == [(first, "failed")]
    watch = await watch_of(db, watch_id)
    assert (watch.status, watch.claimed_by) == ("watching", None)  # watching goes on


async def test_a_stale_run_with_its_purchase_recorded_makes_the_watch_bought(db: Database) -> None:
    watch_id, first, other = await buying(db, heartbeat_at=utcnow() - timedelta(minutes=5))
    row = {"store": "demo", "product": A, "quantity": 1, "unit_price": 1, "total": 1, "currency": "USD"}
    async with db.begin() as session:
        await session.execute(
            insert(Purchase).values(task_id=first, order_number="DS-1", created_at=utcnow(), **row)
        )
        assert await sweeps.rescue_stale(session, timeout=2) == [(first, "completed")]
    watch = await watch_of(db, watch_id)
    assert (watch.status, watch.claimed_by) == ("bought", first)
    async with db.session() as session:
        named = await session.scalar(
            select(col(Purchase.order_number)).where(col(Purchase.watch_id) == watch_id)
        )
    assert named == "DS-1"  # the purchase names its watch
    assert await status_of(db, other) == "cancelled"  # every other listing stops


async def test_a_claimant_monitor_expiring_releases_the_claim(db: Database) -> None:
    # a run that failed after its checkpoint (the store had no order) waits to retry; its window closes
    watch_id, first, _ = await buying(db, status="retrying", until=utcnow() - timedelta(seconds=1))
    async with db.begin() as session:
        assert await sweeps.expire_monitors(session) == [first]
    watch = await watch_of(db, watch_id)
    assert (watch.status, watch.claimed_by) == ("watching", None)


async def test_the_backstop_settles_a_watch_whose_claimant_moved_or_went_without_settling(
    db: Database,
) -> None:
    watch_id, first, _ = await buying(db)
    async with db.begin() as session:  # a path that moved the task and did not settle
        await session.execute(update(Task).where(col(Task.id) == first).values(status="failed"))
    async with db.begin() as session:
        assert await watch_outcomes.settle_stray(session) == {watch_id: "watching"}
    async with db.begin() as session:
        events = await session.scalars(select(col(TaskEvent.message)).where(col(TaskEvent.task_id) == first))
        assert "the watch's claim went back; watching goes on" in list(events)

    watch_id, first, _ = await buying(db)
    async with db.begin() as session:  # the claimant's task deleted outright
        await session.execute(
            update(WatchListing).where(col(WatchListing.task_id) == first).values(task_id=None)
        )
        await session.execute(delete(Task).where(col(Task.id) == first))
    async with db.begin() as session:
        assert await watch_outcomes.settle_stray(session) == {watch_id: "watching"}


async def test_a_running_claimant_keeps_the_watch_buying(db: Database) -> None:
    watch_id, first, _ = await buying(db)
    async with db.begin() as session:
        assert await watch_outcomes.settle(session, [first]) == {}
        assert await watch_outcomes.settle_stray(session) == {}
    assert (await watch_of(db, watch_id)).status == "buying"
