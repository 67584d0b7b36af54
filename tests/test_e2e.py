"""End to end on the real stack: webapp process, separate `taskiq worker` processes, Postgres,
Redis, Chromium and the demo store. Each proof of issues 2 and 3 that needs real processes.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from models.db import Database
from models.settings import Settings
from models.tables import Purchase, Task, TaskAttempt
from tests.conftest import REDIS_URL, first_admin_password, sign_in_http, wait_for
from tests.stack import Stack
from workers import queue

pytestmark = pytest.mark.slow

FAST = {
    "TASKDECK_HEARTBEAT_TIMEOUT": 3,
    "TASKDECK_BACKOFF_BASE": 0.5,
    "TASKDECK_REKICK_AFTER": 3,
    "TASKDECK_ORDER_CHECK_INTERVAL": 0.3,
}


@pytest.fixture
async def stack(open_stack: Any) -> AsyncIterator[Any]:
    """Webapp (Postgres + Redis, no in-process worker) and a factory for worker processes."""
    async with open_stack(**FAST) as s:
        yield s


async def count(db: Database, model: Any, **where: Any) -> int:
    async with db.session() as session:
        stmt = select(func.count()).select_from(model)
        for key, value in where.items():
            stmt = stmt.where(getattr(model, key) == value)
        return await session.scalar(stmt) or 0


async def test_api_to_browser_to_purchase(stack: Any) -> None:
    """Issue 2: create over the API, execute, a separate worker buys in Chromium, order listed."""
    stack.worker()
    task = await stack.create(quantity=2, maxPrice=500)
    assert task["status"] == "pending" and task["quantity"] == 2 and task["maxPrice"] == 500
    assert await stack.execute(task["id"]) == {"taskId": task["id"], "status": "queued"}
    done = await stack.wait(task["id"], "completed", "failed")
    assert done["status"] == "completed", done
    status = await stack.status(task["id"])
    result = status["result"]
    assert status["attempts"] == 1 and status["progress"] == 100 and status["finishedAt"]
    assert result["quantity"] == 2 and result["total"] == result["unitPrice"] * 2
    [order] = await stack.orders(task["id"])
    assert order["orderNumber"] == result["orderNumber"] and order["reference"] == task["id"]
    steps = [e["step"] for e in done["events"] if e["kind"] == "progress"]
    assert steps[:5] == ["open product", "check stock", "add to cart", "checkout", "confirm"]
    assert await count(stack.db, Purchase, task_id=__import__("uuid").UUID(task["id"])) == 1


async def test_retries_transient_store_errors_then_buys(stack: Any) -> None:
    stack.worker()
    await stack.product("sneaker-drop", failNext=2)
    task = await stack.create(backoffSeconds=0.3)
    await stack.execute(task["id"])
    done = await stack.wait(task["id"], "completed", "failed")
    assert done["status"] == "completed" and done["attempts"] == 3
    outcomes = [a["outcome"] for a in done["attemptHistory"]]
    assert outcomes == ["retrying", "retrying", "completed"]
    assert "500" in done["attemptHistory"][0]["error"]
    assert len(await stack.orders(task["id"])) == 1


async def test_always_failing_store_fails_after_three_attempts(stack: Any) -> None:
    stack.worker()
    await stack.product("sneaker-drop", failNext=100)
    task = await stack.create(backoffSeconds=0.2)
    await stack.execute(task["id"])
    failed = await stack.wait(task["id"], "failed", "completed")
    assert failed["status"] == "failed" and failed["attempts"] == 3 and len(failed["attemptHistory"]) == 3
    assert await stack.orders(task["id"]) == []


async def test_scheduled_start_and_monitor_restock(stack: Any) -> None:
    """A task scheduled for later starts at its time, not before; a monitor checks while the
    product is out and buys once it is back. Driven by states, never by how fast this machine is:
    the restock is set only after the monitor has seen the product out of stock."""
    stack.worker()
    await stack.product("gpu-founders", restockAt=(datetime.now(UTC) + timedelta(hours=1)).isoformat())
    run_at = datetime.now(UTC) + timedelta(seconds=3)
    scheduled = await stack.create(start="at", runAt=run_at.isoformat(), product="vinyl-box")
    assert scheduled["status"] == "scheduled"
    monitor = await stack.create(product="gpu-founders", mode="monitor", checkEvery=1, start="now")

    async def checked_out_of_stock() -> dict[str, Any] | None:
        seen = await stack.task(monitor["id"])
        return seen if seen["checks"] >= 1 and seen["status"] in ("scheduled", "queued", "running") else None

    waiting = await wait_for(
        checked_out_of_stock, timeout=90, what="the monitor's first check (out of stock)"
    )
    assert waiting["attempts"] == 0 and await stack.orders(monitor["id"]) == []
    restock = datetime.now(UTC)
    await stack.product("gpu-founders", restockAt=restock.isoformat())
    done = await stack.wait(scheduled["id"], "completed", "failed", timeout=90)
    assert done["status"] == "completed", done
    assert datetime.fromisoformat(done["startedAt"]) >= run_at  # never before its time
    bought = await stack.wait(monitor["id"], "completed", "failed", timeout=90)
    assert bought["status"] == "completed", bought
    assert bought["checks"] > 1 and bought["attempts"] == 1
    [order] = await stack.orders(monitor["id"])  # exactly one, placed once the product was back
    assert datetime.fromisoformat(order["createdAt"].replace("Z", "+00:00")) >= restock


async def test_priority_with_one_busy_worker(stack: Any) -> None:
    stack.worker(TASKDECK_WORKER_CONCURRENCY=1)
    await stack.product("console-limited", delayMs=600)
    blocker = await stack.create(product="console-limited", start="now")
    await stack.wait(blocker["id"], "running")
    low = [await stack.create(store="noop", name=f"low{i}", start="now") for i in range(5)]
    high = await stack.create(store="noop", name="high", priority=10, start="now")
    for t in [*low, high]:
        await stack.wait(t["id"], "completed")
    starts = {t["name"]: (await stack.task(t["id"]))["startedAt"] for t in [*low, high]}
    assert all(starts["high"] < starts[f"low{i}"] for i in range(5)), starts


async def test_cancel_running_task_stops_it_within_seconds(stack: Any) -> None:
    stack.worker()
    await stack.product("sneaker-drop", delayMs=1500)
    task = await stack.create(start="now")
    await stack.wait(task["id"], "running")
    await asyncio.sleep(0.5)
    t0 = time.monotonic()
    r = await stack.action(task["id"], "cancel")
    assert r.status_code == 202 and r.json()["cancelRequested"] is True
    done = await stack.wait(task["id"], "cancelled", "completed", timeout=10)
    assert done["status"] == "cancelled" and time.monotonic() - t0 < 5.0
    await asyncio.sleep(2)  # a page still loading must not place an order later
    assert await stack.orders(task["id"]) == []


async def test_kill_9_mid_task_completes_elsewhere_exactly_once(stack: Any) -> None:
    """A worker killed mid-task, no further tasks enqueued: another worker finishes it."""
    doomed = stack.worker()
    await stack.product("sneaker-drop", delayMs=1200)
    task = await stack.create(start="now")
    running = await stack.wait(task["id"], "running")
    stack.worker()  # the survivor; it gets no message for this task
    await asyncio.sleep(1.0)
    t0 = time.monotonic()
    doomed.stop(signal.SIGKILL)
    done = await stack.wait(task["id"], "completed", "failed", timeout=45)
    assert done["status"] == "completed", done
    assert time.monotonic() - t0 < 3 + 25  # heartbeat timeout + one slow run of the bot
    assert done["workerId"] != running["workerId"] or done["attempts"] == 2
    assert done["attemptHistory"][0]["outcome"] == "lost"
    assert len(await stack.orders(task["id"])) == 1
    assert await count(stack.db, Purchase, task_id=__import__("uuid").UUID(task["id"])) == 1


async def test_same_task_id_kicked_twice_runs_once(stack: Any) -> None:
    stack.worker(TASKDECK_WORKER_CONCURRENCY=4)
    task = await stack.create()
    async with stack.db.begin() as session:  # queue it in Postgres without the API's own doorbell
        from models.tasks import start_task

        await start_task(session, task_id=__import__("uuid").UUID(task["id"]))
    broker = queue.make_broker(Settings(redis_url=REDIS_URL, queue_name=stack.env["TASKDECK_QUEUE_NAME"]))
    await broker.startup()
    try:
        await queue.kick(broker, task["id"])
        await queue.kick(broker, task["id"])
    finally:
        await broker.shutdown()
    done = await stack.wait(task["id"], "completed")
    assert done["attempts"] == 1 and len(done["attemptHistory"]) == 1
    assert len(await stack.orders(task["id"])) == 1


async def test_store_limit_one_across_two_workers(stack: Any) -> None:
    limits = json.dumps({"demo": {"max_concurrent": 1}})
    stack.worker(TASKDECK_STORE_LIMITS=limits, TASKDECK_WORKER_CONCURRENCY=2)
    stack.worker(TASKDECK_STORE_LIMITS=limits, TASKDECK_WORKER_CONCURRENCY=2)
    await stack.product("vinyl-box", delayMs=250)
    tasks = [await stack.create(product="vinyl-box", start="now") for _ in range(4)]
    for t in tasks:
        assert (await stack.wait(t["id"], "completed", "failed"))["status"] == "completed"
    stats = await stack.stats()
    assert stats["maxConcurrentCheckouts"] == 1, stats
    assert len(stats["checkouts"]) == 4


async def test_thousand_noop_tasks_on_two_workers_complete_exactly_once(stack: Any) -> None:
    stack.worker(TASKDECK_WORKER_CONCURRENCY=8)
    stack.worker(TASKDECK_WORKER_CONCURRENCY=8)
    sem = asyncio.Semaphore(16)

    async def one(i: int) -> str:
        async with sem:
            return (await stack.create(store="noop", name=f"burst{i}", start="now"))["id"]

    ids = await asyncio.gather(*(one(i) for i in range(1000)))

    async def all_done() -> bool:
        return await count(stack.db, Task, status="completed") == 1000

    await wait_for(all_done, timeout=120, interval=0.5, what="1000 tasks completed")
    assert len(set(ids)) == 1000
    assert await count(stack.db, TaskAttempt) == 1000
    assert await count(stack.db, Purchase) == 1000
    async with stack.db.session() as session:
        per_worker = (
            await session.execute(select(TaskAttempt.worker_id, func.count()).group_by(TaskAttempt.worker_id))
        ).all()
    assert len(per_worker) == 2, per_worker  # both workers took a share


async def test_sigterm_hands_back_or_finishes_and_exits_in_grace(stack: Any) -> None:
    worker = stack.worker(TASKDECK_SHUTDOWN_GRACE=2)
    await stack.product("sneaker-drop", delayMs=2500)
    task = await stack.create(start="now")
    await stack.wait(task["id"], "running")
    await asyncio.sleep(0.5)
    t0 = time.monotonic()
    code = worker.stop(signal.SIGTERM, timeout=20, group=False)  # as docker stop / tini deliver it
    elapsed = time.monotonic() - t0
    assert elapsed < 2 + 8, f"worker took {elapsed:.1f}s to stop:\n{worker.log()[-3000:]}"
    assert code is not None
    after = await stack.task(task["id"])
    assert after["status"] in ("queued", "completed"), after
    if after["status"] == "queued":
        assert after["attempts"] == 0 and after["attemptHistory"][-1]["outcome"] == "handed back"
    await stack.product("sneaker-drop", delayMs=0)
    stack.worker()
    done = await stack.wait(task["id"], "completed", timeout=40)
    assert len(await stack.orders(task["id"])) == 1 and done["status"] == "completed"


async def test_kill_after_checkpoint_never_buys_twice(stack: Any) -> None:
    """Killed between the checkpoint and the confirmation: the rerun verifies with the store."""
    doomed = stack.worker()
    await stack.product("collector-figure", delayMs=1500)
    task = await stack.create(product="collector-figure", start="now")

    async def checkpointed() -> bool:
        t = await stack.task(task["id"])
        return any(e["kind"] == "checkpoint" for e in t["events"])

    await wait_for(checkpointed, timeout=40, interval=0.05, what="checkpoint before place order")
    doomed.stop(signal.SIGKILL)
    stack.worker()
    done = await stack.wait(task["id"], "completed", "failed", "unknown", timeout=45)
    orders = await stack.orders(task["id"])
    assert done["status"] == "completed", done  # the store is asked; it always answers here
    assert len(orders) == 1 and done["result"]["orderNumber"] == orders[0]["orderNumber"]


async def test_worker_killed_after_the_click_is_settled_by_asking_the_store(stack: Any) -> None:
    """SIGKILL of a real `taskiq worker` between the click and its confirmation (the order exists
    at once, the answer is slow): the rescuer asks the store instead of buying again."""
    doomed = stack.worker()
    await stack.product("vinyl-box", confirmDelayMs=60_000)
    task = await stack.create(product="vinyl-box", start="now")

    async def ordered() -> bool:
        return len(await stack.orders(task["id"])) == 1

    await wait_for(ordered, timeout=40, interval=0.05, what="the order behind the click")
    doomed.stop(signal.SIGKILL)
    stack.worker()
    done = await stack.wait(task["id"], "completed", "failed", "unknown", timeout=45)
    [order] = await stack.orders(task["id"])
    assert done["status"] == "completed", done
    assert done["result"]["orderNumber"] == order["orderNumber"]
    assert [a["outcome"] for a in done["attemptHistory"]] == ["recovered"]  # asked, not bought again
    assert any("order recovered from the store" in (e["message"] or "") for e in done["events"])
    assert await count(stack.db, Purchase, task_id=__import__("uuid").UUID(task["id"])) == 1


async def test_embedded_mode_runs_a_demo_task(start_webapp: Any, tmp_path: Any) -> None:
    """`python -m webapp` with no DATABASE_URL/REDIS_URL: SQLite file + in-process worker; its
    first start creates admin@localhost and prints the password once, which signs in."""
    web = await start_webapp(cwd=tmp_path)  # the default SQLite file lands in the working directory
    async with httpx.AsyncClient(timeout=15) as http:
        await sign_in_http(http, web.url or "", "admin@localhost", first_admin_password(web.log()))
        s = Stack(web.url or "", http)
        health = (await http.get(f"{web.url}/api/health")).json()
        assert health["database"] == "sqlite" and health["queue"] == "in-process"
        task = await s.create()
        await s.execute(task["id"])
        done = await s.wait(task["id"], "completed", "failed")
        assert done["status"] == "completed", done
        assert len(await s.orders(task["id"])) == 1
    assert (tmp_path / "taskdeck.db").exists()
