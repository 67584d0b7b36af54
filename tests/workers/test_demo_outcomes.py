"""Every demo-store behaviour through the whole engine (real Chromium, real store, Postgres):
each ends in the expected task state, with the expected events, artifacts and (or no) purchase.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from models.db import Database
from models.tables import TaskEvent
from tests.workers.conftest import Start, attempts, create, purchases, until_status

pytestmark = pytest.mark.slow

STEPS = ["open product", "check stock", "add to cart", "checkout", "confirm"]


async def events(db: Database, task_id: Any) -> list[TaskEvent]:
    async with db.session() as session:
        return list(
            await session.scalars(
                select(TaskEvent).where(TaskEvent.task_id == task_id).order_by(TaskEvent.id)
            )
        )


@pytest.fixture
async def demo_runtime(runtimes: Start, demo_store: Any) -> Any:
    return await runtimes(demo_store_url=demo_store.url, worker_concurrency=2, step_timeout=3)


async def run(db: Database, rt: Any, **fields: Any) -> Any:
    task = await create(db, rt, store="demo", **{"product": "sneaker-drop", "backoff_seconds": 0.2, **fields})
    return await until_status(db, task.id, "completed", "failed", "scheduled", timeout=60)


async def test_in_stock_buys_with_every_step_and_a_screenshot_each(
    db: Database, demo_runtime: Any, demo_store: Any
) -> None:
    done = await run(db, demo_runtime, quantity=2)
    assert done.status == "completed" and await purchases(db, done.id) == 1
    evs = await events(db, done.id)
    assert [e.step for e in evs if e.kind == "progress"] == STEPS
    shots = [e.step for e in evs if e.kind == "artifact"]
    assert shots == STEPS
    listed = demo_runtime.artifacts.list(str(done.id))
    assert [a.step for a in listed if a.kind == "screenshot"] == [s.replace(" ", "-") for s in STEPS]
    [order] = await demo_store.orders(str(done.id))
    assert order["quantity"] == 2 and done.result["orderNumber"] == order["orderNumber"]


@pytest.mark.parametrize(
    ("setup", "fields", "error"),
    [
        ({"price": 129}, {"max_price": 100}, "price 129.00 is above your maximum 100.00"),
        ({"maxPerOrder": 1}, {"quantity": 2}, "per order"),
        ({"layout": "v2"}, {}, 'step "add to cart": button "Add to cart" not found'),
        ({"requiresLogin": True}, {}, "needs a store account"),
        ({"stock": 0}, {}, "not available: out of stock"),
        ({"soldOutAtCheckout": True}, {}, "not available: sold out at checkout"),
    ],
    ids=["price-too-high", "max-per-order", "layout-changed", "login-required", "out-of-stock", "sold-out"],
)
async def test_permanent_problems_fail_once_with_a_clear_error_and_a_picture(
    db: Database,
    demo_runtime: Any,
    demo_store: Any,
    setup: dict[str, Any],
    fields: dict[str, Any],
    error: str,
) -> None:
    await demo_store.configure("sneaker-drop", **setup)
    done = await run(db, demo_runtime, **fields)
    assert done.status == "failed" and error in (done.error or ""), done.error
    assert done.attempt == 1 and await purchases(db, done.id) == 0
    assert await demo_store.orders(str(done.id)) == []
    kinds = {a.kind for a in demo_runtime.artifacts.list(str(done.id))}
    assert "screenshot" in kinds and "trace" in kinds  # the failure is pictured and traced
    assert any(a.step == "failure" for a in demo_runtime.artifacts.list(str(done.id)))


async def test_wrong_store_password_fails_as_login_refused(
    db: Database, demo_runtime: Any, demo_store: Any
) -> None:
    await demo_store.configure("sneaker-drop", requiresLogin=True)
    async with db.begin() as session:
        await demo_runtime.vault.create_account(session, store="demo", login="demo", password="wrong")
    done = await run(db, demo_runtime)
    assert done.status == "failed" and "login refused" in (done.error or "")


async def test_store_account_logs_in_and_buys(db: Database, demo_runtime: Any, demo_store: Any) -> None:
    await demo_store.configure("sneaker-drop", requiresLogin=True)
    async with db.begin() as session:
        await demo_runtime.vault.create_account(session, store="demo", login="demo", password="demo-pass")
    done = await run(db, demo_runtime)
    assert done.status == "completed", done.error
    [order] = await demo_store.orders(str(done.id))
    assert order["account"] == "demo"


async def test_flaky_store_is_retried_until_it_buys(db: Database, demo_runtime: Any, demo_store: Any) -> None:
    await demo_store.configure("sneaker-drop", failNext=1)
    done = await run(db, demo_runtime)
    assert done.status == "completed" and done.attempt == 2
    history = await attempts(db, done.id)
    assert history[0].outcome == "retrying" and "HTTP 500" in (history[0].error or "")
    assert len(await demo_store.orders(str(done.id))) == 1


async def test_slow_store_still_buys(db: Database, demo_runtime: Any, demo_store: Any) -> None:
    await demo_store.configure("sneaker-drop", delayMs=400)
    done = await run(db, demo_runtime)
    assert done.status == "completed" and done.attempt == 1


async def test_on_demand_trace_is_kept_for_a_successful_task(db: Database, demo_runtime: Any) -> None:
    done = await run(db, demo_runtime, trace=True)
    assert done.status == "completed"
    assert [a.kind for a in demo_runtime.artifacts.list(str(done.id))].count("trace") == 1


async def test_monitor_mode_waits_when_out_of_stock(db: Database, demo_runtime: Any, demo_store: Any) -> None:
    await demo_store.configure("sneaker-drop", stock=0)
    waiting = await run(db, demo_runtime, mode="monitor", check_every=30)
    assert waiting.status == "scheduled" and waiting.attempt == 0 and waiting.checks == 1
    assert waiting.last_check and "out of stock" in waiting.last_check
    assert await purchases(db, waiting.id) == 0


async def test_cancel_stops_the_bot_and_closes_its_browser_context(
    db: Database, demo_runtime: Any, demo_store: Any
) -> None:
    import time

    from models import tasks as ops

    await demo_store.configure("sneaker-drop", delayMs=1500)
    task = await create(db, demo_runtime, store="demo", product="sneaker-drop")
    await until_status(db, task.id, "running")
    await until_status_step(db, task.id)
    assert demo_runtime.browser.stats["contexts_open"] == 1
    t0 = time.monotonic()
    async with db.begin() as session:
        await ops.cancel_task(session, task_id=task.id)
    done = await until_status(db, task.id, "cancelled", timeout=5)
    assert time.monotonic() - t0 < 5 and done.error == "cancelled by user"
    assert demo_runtime.browser.stats["contexts_open"] == 0
    assert await purchases(db, task.id) == 0 and await demo_store.orders(str(task.id)) == []


async def until_status_step(db: Database, task_id: Any) -> None:
    from tests.conftest import wait_for
    from tests.workers.conftest import get

    async def stepped() -> bool:
        return (await get(db, task_id)).step is not None

    await wait_for(stepped, timeout=15, what="a first bot step")
