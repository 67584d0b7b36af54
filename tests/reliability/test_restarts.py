"""Restarts and broken disks that must not cost a task or hide a change.

- The webapp restarted while dashboards are open: the open pages reconnect by themselves and show
  what changed across the restart, with nobody pressing reload. (NiceGUI keeps a page's state in
  the server process, so its script reloads a page whose server went away; the test says so in
  its summary line rather than pretending the page survived.)
- The artifacts directory cannot be written: tasks still run and buy, and the error is logged
  once per process instead of once per screenshot.

(Redis restarted empty and Postgres connections cut mid-run are part of ``test_chaos.py``; the
single-task versions are in ``tests/test_outages.py``.)
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from models.db import Database
from tests.conftest import REDIS_URL, free_port
from tests.reliability.conftest import Promise, SignIn
from tests.stack import Stack

pytestmark = pytest.mark.slow


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        yield await context.new_page()
    finally:
        await context.close()


def row(page: Page, name: str) -> Any:
    return page.locator("[data-testid=tasks-table] tbody tr").filter(
        has=page.get_by_role("link", name=name, exact=True)
    )


async def test_webapp_restart_with_pages_open(
    db: Database,
    pg_url: str,
    redis_queue: str,
    start_webapp: Any,
    page: Page,
    promise: Promise,
    api_headers: dict[str, str],
    sign_in_page: SignIn,
) -> None:
    port = free_port()
    env = {
        "DATABASE_URL": pg_url,
        "REDIS_URL": REDIS_URL,
        "TASKDECK_QUEUE_NAME": redis_queue,
        "TASKDECK_PORT": port,
    }
    web = await start_webapp(**env)
    async with httpx.AsyncClient(timeout=15, headers=api_headers) as http:
        s = Stack(web.url or "", http)
        before = await s.create(name="Before restart")
        await sign_in_page(page, s.url)
        await page.goto(f"{s.url}/tasks")
        await page.evaluate("window.__marker = 'still here'")
        await expect(row(page, "Before restart").get_by_test_id("status")).to_have_text("pending")

        web.stop(signal.SIGTERM)
        await start_webapp(**env)  # the same port: what a deploy or a crash-restart looks like
        during = await s.create(name="After restart")
        assert (await s.action(before["id"], "cancel")).status_code in (200, 202)

        await expect(row(page, "Before restart").get_by_test_id("status")).to_have_text(
            "cancelled", timeout=30_000
        )
        await expect(row(page, "After restart").get_by_test_id("status")).to_have_text("pending")
        await expect(page.get_by_test_id("live")).to_contain_text("Live", timeout=10_000)
        assert during["status"] == "pending"
        # NiceGUI keeps a page's state in the server process, so a page whose server restarted
        # is reloaded by NiceGUI's own script when it reconnects; the person does nothing.
        how = "kept" if await page.evaluate("window.__marker") == "still here" else "reloaded by NiceGUI"
    promise("no outcome hidden", f"an open dashboard shows what changed across a webapp restart (page {how})")


async def test_unwritable_artifacts_directory(
    db: Database,
    pg_url: str,
    redis_queue: str,
    start_webapp: Any,
    start_worker: Any,
    tmp_path: Path,
    api_headers: dict[str, str],
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the artifacts directory should be")  # root ignores chmod
    env = {"DATABASE_URL": pg_url, "REDIS_URL": REDIS_URL, "TASKDECK_QUEUE_NAME": redis_queue}
    web = await start_webapp(**env)
    worker = start_worker(
        **env, TASKDECK_DEMO_STORE_URL=f"{web.url}/demo-store", TASKDECK_ARTIFACTS_DIR=blocker / "artifacts"
    )
    async with httpx.AsyncClient(timeout=15, headers=api_headers) as http:
        s = Stack(web.url or "", http)
        tasks = [await s.create(start="now", name=f"disk {i}", trace=True) for i in range(3)]
        for task in tasks:
            done = await s.wait(task["id"], "completed", "failed", timeout=90)
            assert done["status"] == "completed", f"task {task['id']} with an unwritable disk: {done}"
            assert len(await s.orders(task["id"])) == 1
    log = worker.log()
    mentions = [line for line in log.splitlines() if "not-a-directory" in line]
    assert len(mentions) == 1, "the artifacts error should be logged once:\n" + "\n".join(mentions[:10])
    assert "artifacts cannot be written" in mentions[0] and "ERROR" in mentions[0], mentions[0]
