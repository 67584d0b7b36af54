"""The tasks list shows a waiting monitor's checks, last result and next check, not an error nor
an attempt (issue 8's monitor item), in a real Chromium against a real webapp."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.webapp import test_dashboard
from tests.webapp.test_dashboard import App, row

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]
app = test_dashboard.app  # the webapp with its embedded worker, and a signed-in page (fixtures)
page = test_dashboard.page


async def test_a_waiting_monitor_shows_checks_last_result_and_next_check(app: App, page: Page) -> None:
    await app.product("console-limited", stock=0)
    task = await app.create("Console watch", product="console-limited", mode="monitor", checkEvery=3600)
    await app.execute(task["id"])
    await page.goto(f"{app.url}/tasks")
    monitor = row(page, "Console watch")
    await expect(monitor.get_by_test_id("status")).to_have_text("scheduled", timeout=90_000)
    await expect(monitor).to_contain_text("1 check")
    check = monitor.get_by_test_id("check")
    await expect(check).to_contain_text("out of stock")
    await expect(check).to_contain_text("next ")
    await expect(monitor.locator(".text-red-8")).to_have_count(0)  # a wait is not an error
    detail = (await app.http.get(f"/api/tasks/{task['id']}")).json()
    assert detail["attemptHistory"] == [] and detail["error"] is None and detail["nextCheckAt"]
