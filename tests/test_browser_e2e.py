"""Issue 4's browser proofs on real processes: a Chromium killed mid-task, and a worker that
ran 200 demo purchases (``make soak``; 20 in ``make test``) without growing without bound
(recycling works)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
from typing import Any

import psutil
import pytest

from tests.conftest import wait_for
from tests.reliability.soak import Size, sizes
from tests.test_e2e import stack  # noqa: F401  (the fixture)

pytestmark = pytest.mark.slow


def chromium_browsers(worker_pid: int) -> list[psutil.Process]:
    """The Chromium browser processes (not renderers) under a worker's process tree."""
    found = []
    for proc in psutil.Process(worker_pid).children(recursive=True):
        try:
            cmd = proc.cmdline()
        except psutil.Error:
            continue
        if cmd and "chromium" in cmd[0] and not any(a.startswith("--type=") for a in cmd):
            found.append(proc)
    return found


def tree_pss_mb(pid: int) -> float:
    total = 0
    for proc in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
        try:
            total += proc.memory_full_info().pss
        except psutil.Error:
            continue
    return total / 2**20


async def test_browser_killed_mid_task_is_retried_on_a_fresh_browser(stack: Any) -> None:  # noqa: F811
    worker = stack.worker(TASKDECK_BOT_TIMEOUT=20)  # whatever the kill interrupts, the attempt ends
    await stack.product("sneaker-drop", delayMs=1500)
    task = await stack.create(start="now", backoffSeconds=0.2)
    await stack.wait(task["id"], "running")
    [browser] = await wait_for(lambda: chromium_browsers(worker.pid), timeout=10, what="Chromium started")

    def page_open() -> bool:  # the task's page has its renderer: the kill lands inside the attempt
        for proc in browser.children(recursive=True):
            try:
                if "--type=renderer" in proc.cmdline():
                    return True
            except psutil.Error:
                continue
        return False

    await wait_for(page_open, timeout=30, what="the task's page")
    await asyncio.sleep(0.5)  # into the product page's 1.5 s answer
    os.kill(browser.pid, signal.SIGKILL)
    await stack.product("sneaker-drop", delayMs=0)
    done = await stack.wait(task["id"], "completed", "failed", timeout=90)
    assert done["status"] == "completed", done
    assert done["attempts"] == 2 and done["attemptHistory"][0]["outcome"] == "retrying"
    assert any(w in done["attemptHistory"][0]["error"].lower() for w in ("browser", "closed", "timed out"))
    assert worker.popen.poll() is None  # the worker kept working
    [fresh] = chromium_browsers(worker.pid)
    assert fresh.pid != browser.pid
    second = await stack.create(start="now")
    assert (await stack.wait(second["id"], "completed", "failed"))["status"] == "completed"
    assert len(await stack.orders(task["id"])) == 1


@pytest.mark.timeout(900)
@pytest.mark.parametrize(
    "size",
    sizes(fast={"purchases": 20, "recycle": 5}, soak={"purchases": 200, "recycle": 50}),
)
async def test_purchases_recycle_the_browser_and_memory_stays_bounded(stack: Any, size: Size) -> None:  # noqa: F811
    """The 200-purchase proof runs in ``make soak``; ``make test`` runs 20 with a browser recycled
    every 5 contexts, so it still sees four launches."""
    total, recycle = size["purchases"], size["recycle"]
    worker = stack.worker(TASKDECK_WORKER_CONCURRENCY=4, TASKDECK_BROWSER_RECYCLE_AFTER=recycle)
    await stack.product("vinyl-box", stock=1000)
    warm = await stack.create(product="vinyl-box", start="now")
    await stack.wait(warm["id"], "completed")
    after_one = tree_pss_mb(worker.pid)
    for i in range(total - 1):
        await stack.create(product="vinyl-box", start="now", name=f"m{i}")
    peaks: list[float] = []

    async def finished() -> int:  # one cheap count a second, not a poll per task
        r = await stack.http.get(f"{stack.url}/api/tasks", params={"status": "completed,failed", "limit": 1})
        if len(peaks) < 30:
            peaks.append(tree_pss_mb(worker.pid))
        return int(r.json()["count"]) >= total

    await wait_for(finished, timeout=800, interval=1.0, what=f"{total} purchases")
    failed = await stack.http.get(f"{stack.url}/api/tasks", params={"status": "failed"})
    assert failed.json()["count"] == 0, failed.json()
    orders = await stack.orders()
    assert len(orders) == total and len({o["reference"] for o in orders}) == total
    launches = [int(n) for n in re.findall(r"\(launch #(\d+)\)", worker.log())]
    assert max(launches) >= total // recycle, launches  # a browser per `recycle` contexts
    final = tree_pss_mb(worker.pid)
    assert final < max(after_one * 2.5, after_one + 600), (after_one, max(peaks), final)
