"""Watches through the whole engine (real Chromium, the real demo store, Postgres): one product
watched at two listings is bought once — one order in the store for the whole watch — whichever
listing comes first, the claim goes back after a clean failure, and only changes are observed.
"""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from models import watches
from models.db import Database
from models.settings import Settings
from models.tables import Purchase, Task, Watch, WatchListing, WatchObservation
from models.types import utcnow
from models.watch_schemas import WatchCreate
from tests.conftest import wait_for
from tests.workers.conftest import Start, get, until_status

pytestmark = pytest.mark.slow

CHEAP, DEAR = "console-limited", "gpu-founders"  # 499.00 and 699.00 in the demo store


@pytest.fixture
async def demo_runtime(runtimes: Start, demo_store: Any) -> Any:
    return await runtimes(demo_store_url=demo_store.url, worker_concurrency=2, step_timeout=5)


async def watch_of(db: Database, rt: Any, *, check_every: float = 0.5, **prices: float) -> Watch:
    """A watch over the given products (slug → max price), its listing tasks kicked."""
    data = WatchCreate(
        name="anywhere",
        check_every=check_every,
        listings=[
            {"store": "demo", "product": slug.replace("_", "-"), "max_price": p} for slug, p in prices.items()
        ],
    )
    async with db.begin() as session:
        watch, tasks = await watches.create_watch(session, data=data, settings=Settings(), owner_id=None)
    for task in tasks:
        await rt.kick(task.id)
    return watch


async def state(db: Database, watch_id: uuid.UUID) -> Watch:
    async with db.session() as session:
        found = await session.get(Watch, watch_id, populate_existing=True)
        assert found is not None
        return found


async def listings(db: Database, watch_id: uuid.UUID) -> dict[str, WatchListing]:
    async with db.session() as session:
        rows = await session.scalars(
            select(WatchListing)
            .where(col(WatchListing.watch_id) == watch_id)
            .execution_options(populate_existing=True)
        )
        return {row.product: row for row in rows}


async def until_watch(db: Database, watch_id: uuid.UUID, *statuses: str, timeout: float = 60) -> Watch:
    async def check() -> Watch | None:
        watch = await state(db, watch_id)
        return watch if watch.status in statuses else None

    return await wait_for(check, timeout=timeout, what=f"watch to be {statuses}")


async def until_all_checked_out_of_stock(db: Database, watch_id: uuid.UUID) -> None:
    async def check() -> bool:
        return all(row.in_stock is False for row in (await listings(db, watch_id)).values())

    await wait_for(check, timeout=60, what="every listing seen out of stock")


async def purchases_of(db: Database, watch_id: uuid.UUID) -> list[Purchase]:
    async with db.session() as session:
        return list(await session.scalars(select(Purchase).where(col(Purchase.watch_id) == watch_id)))


async def test_the_cheaper_restocks_one_order_and_the_other_monitor_stops(
    db: Database, demo_runtime: Any, demo_store: Any
) -> None:
    for slug in (CHEAP, DEAR):
        await demo_store.configure(slug, stock=0)
    watch = await watch_of(db, demo_runtime, console_limited=550, gpu_founders=750)
    await until_all_checked_out_of_stock(db, watch.id)
    assert (await state(db, watch.id)).status == "watching"

    await demo_store.configure(CHEAP, stock=3)
    bought = await until_watch(db, watch.id, "bought")
    rows = await listings(db, watch.id)
    assert bought.claimed_by == rows[CHEAP].task_id
    other = await until_status(db, rows[DEAR].task_id, "cancelled", timeout=30)
    assert other.status == "cancelled"
    await asyncio.sleep(1.5)  # nothing more happens: no order from the stopped listing
    orders = await demo_store.orders()
    assert len(orders) == 1 and orders[0]["product"] == CHEAP
    [purchase] = await purchases_of(db, watch.id)
    assert purchase.task_id == rows[CHEAP].task_id and purchase.order_number == orders[0]["orderNumber"]
    assert (await get(db, rows[CHEAP].task_id)).status == "completed"


async def test_both_restock_at_the_same_moment_still_one_order(
    db: Database, demo_runtime: Any, demo_store: Any
) -> None:
    for slug in (CHEAP, DEAR):
        await demo_store.configure(slug, stock=0)
    watch = await watch_of(db, demo_runtime, console_limited=550, gpu_founders=750)
    await until_all_checked_out_of_stock(db, watch.id)

    await asyncio.gather(demo_store.configure(CHEAP, stock=3), demo_store.configure(DEAR, stock=3))
    await until_watch(db, watch.id, "bought")
    rows = await listings(db, watch.id)

    async def both_ended() -> bool:
        ends = {(await get(db, row.task_id)).status for row in rows.values() if row.task_id}
        return ends <= {"completed", "cancelled"}

    await wait_for(both_ended, timeout=30, what="both listing tasks to end")
    assert len(await demo_store.orders()) == 1
    assert len(await purchases_of(db, watch.id)) == 1


async def test_sold_out_at_checkout_releases_the_claim_and_the_second_store_buys(
    db: Database, demo_runtime: Any, demo_store: Any
) -> None:
    await demo_store.configure(DEAR, stock=3, soldOutAtCheckout=True)
    await demo_store.configure(CHEAP, stock=0)
    watch = await watch_of(db, demo_runtime, gpu_founders=750, console_limited=550)
    rows = await listings(db, watch.id)
    first, second = rows[DEAR].task_id, rows[CHEAP].task_id
    assert first is not None and second is not None

    async def sold_out() -> bool:
        task = await get(db, first)
        return task.status == "scheduled" and "sold out at checkout" in (task.last_check or "")

    await wait_for(sold_out, timeout=60, what="the first store to sell out at checkout")
    released = await state(db, watch.id)
    assert released.status == "watching" and released.claimed_by is None  # the claim went back
    await demo_store.configure(CHEAP, stock=3)
    bought = await until_watch(db, watch.id, "bought")
    assert bought.claimed_by == second
    orders = await demo_store.orders()
    assert len(orders) == 1 and orders[0]["reference"] == str(second)
    assert (await until_status(db, first, "cancelled", timeout=30)).status == "cancelled"


async def test_a_price_change_is_one_observation_and_unchanged_checks_none(
    db: Database, demo_runtime: Any, demo_store: Any
) -> None:
    await demo_store.configure(DEAR, stock=0)
    watch = await watch_of(db, demo_runtime, gpu_founders=750)
    listing = (await listings(db, watch.id))[DEAR]
    assert listing.task_id is not None

    async def observations() -> list[WatchObservation]:
        async with db.session() as session:
            return list(
                await session.scalars(
                    select(WatchObservation)
                    .where(col(WatchObservation.listing_id) == listing.id)
                    .order_by(col(WatchObservation.id))
                )
            )

    async def checks_past(n: int) -> Task | None:
        task = await get(db, listing.task_id)
        return task if task.checks >= n else None

    first = await wait_for(lambda: checks_past(3), timeout=60, what="three checks")
    seen = await observations()
    assert [(o.price, o.in_stock) for o in seen] == [(Decimal("699.00"), False)]

    await demo_store.configure(DEAR, price=649)
    await wait_for(lambda: checks_past(first.checks + 3), timeout=60, what="three more checks")
    seen = await observations()
    assert [(o.price, o.in_stock) for o in seen] == [(Decimal("699.00"), False), (Decimal("649.00"), False)]
    assert (await state(db, watch.id)).status == "watching"


async def test_a_price_above_the_maximum_waits_instead_of_failing(
    db: Database, demo_runtime: Any, demo_store: Any
) -> None:
    await demo_store.configure(DEAR, stock=3)
    watch = await watch_of(db, demo_runtime, gpu_founders=600)
    task_id = (await listings(db, watch.id))[DEAR].task_id
    assert task_id is not None

    async def waited() -> Task | None:
        task = await get(db, task_id)
        return task if task.checks >= 2 else None

    task = await wait_for(waited, timeout=60, what="two checks")
    assert task.status in ("scheduled", "queued", "running") and "above your maximum" in (
        task.last_check or ""
    )
    await demo_store.configure(DEAR, price=590)
    await until_watch(db, watch.id, "bought")
    assert len(await demo_store.orders()) == 1


async def test_the_database_refuses_a_second_purchase_for_one_watch(db: Database) -> None:
    async with db.begin() as session:
        watch, _ = await watches.create_watch(
            session,
            data=WatchCreate(name="w", listings=[{"store": "demo", "product": DEAR, "maxPrice": 1}]),
            settings=Settings(),
            owner_id=None,
        )
    row = {
        "store": "demo",
        "product": DEAR,
        "quantity": 1,
        "unit_price": 1,
        "total": 1,
        "currency": "USD",
        "watch_id": watch.id,
        "created_at": utcnow(),
    }
    async with db.begin() as session:
        await session.execute(insert(Purchase).values(order_number="A-1", **row))
    with pytest.raises(IntegrityError):
        async with db.begin() as session:
            await session.execute(insert(Purchase).values(order_number="A-2", **row))
    async with db.session() as session:
        count = await session.scalar(
            select(func.count()).select_from(Purchase).where(col(Purchase.watch_id) == watch.id)
        )
    assert count == 1


async def test_while_one_listing_buys_the_others_keep_checking_but_start_no_checkout(
    db: Database, runtimes: Start, demo_store: Any
) -> None:
    """The first listing holds the claim while its order's confirmation is slow; the other
    listing comes in stock meanwhile: its check records the change and ends there (no cart, no
    checkout, no claim), and the watch buys once."""
    rt = await runtimes(demo_store_url=demo_store.url, worker_concurrency=2, step_timeout=40)
    await demo_store.configure(DEAR, stock=3, confirmDelayMs=20_000)
    await demo_store.configure(CHEAP, stock=0)
    watch = await watch_of(db, rt, gpu_founders=750, console_limited=550)
    rows = await listings(db, watch.id)
    first, second = rows[DEAR].task_id, rows[CHEAP].task_id
    assert first is not None and second is not None
    held = await until_watch(db, watch.id, "buying", timeout=60)
    assert held.claimed_by == first

    await demo_store.configure(CHEAP, stock=3)

    async def held_off() -> Task | None:
        task = await get(db, second)
        return task if (task.last_check or "").startswith("in stock, but another listing") else None

    task = await wait_for(held_off, timeout=60, what="the second listing to see stock and hold off")
    assert task.checkpoints == [] and (await state(db, watch.id)).status == "buying"
    assert (await listings(db, watch.id))[CHEAP].in_stock is True  # its history keeps going
    await until_watch(db, watch.id, "bought", timeout=60)
    orders = await demo_store.orders()
    assert len(orders) == 1 and orders[0]["reference"] == str(first)
