"""End to end: a cancel answered 202 sticks (issue 12, hole 1). Monitors cancelled over the API
while a real worker checks an out-of-stock product never buy it once it is back in stock."""

from __future__ import annotations

from typing import Any

import pytest

from tests.test_e2e import stack

pytestmark = pytest.mark.slow
__all__ = ["stack"]  # the fixture, shared with test_e2e.py


async def test_cancelled_monitors_never_buy_after_the_restock(stack: Any) -> None:
    # heartbeats too rare to carry the cancel: each run ends "out of stock" first, the worst case
    stack.worker(
        TASKDECK_HEARTBEAT_INTERVAL=30, TASKDECK_HEARTBEAT_TIMEOUT=120, TASKDECK_WORKER_CONCURRENCY=5
    )
    await stack.product("sneaker-drop", stock=0, delayMs=1500)
    monitors = [await stack.create(mode="monitor", checkEvery=0.5, start="now") for _ in range(5)]
    accepted = 0
    for task in monitors:
        await stack.wait(task["id"], "running")
        response = await stack.action(task["id"], "cancel")
        assert response.status_code in (200, 202), response.text
        accepted += response.status_code == 202
    assert accepted, "no cancel reached a running check"
    for task in monitors:  # each check in flight ends (out of stock) before the product is back
        await stack.wait(task["id"], "cancelled", "scheduled", "queued", timeout=60)
    await stack.product("sneaker-drop", stock=50, delayMs=0)
    for task in monitors:
        done = await stack.wait(task["id"], "cancelled", "completed", timeout=60)
        assert done["status"] == "cancelled", f"monitor {task['id']} was cancelled, then {done['status']}"
    orders = [o for task in monitors for o in await stack.orders(task["id"])]
    assert orders == []
