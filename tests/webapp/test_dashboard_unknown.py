"""An order in doubt as a person sees it, in a real Chromium against a real ``python -m webapp``
(Postgres, embedded worker, the demo store slowed past the step timeout with its orders API down).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from models.db import Database
from tests.conftest import AuthUser, StartWebapp
from tests.webapp.test_dashboard import App, row, signed_in_page

pytestmark = pytest.mark.timeout(150)


@pytest.fixture
async def quick_app(
    db: Database, pg_url: str, start_webapp: StartWebapp, auth_headers: dict[str, str]
) -> AsyncIterator[App]:
    """The embedded webapp with a 2 s step timeout and quick order checks."""
    proc = await start_webapp(
        DATABASE_URL=pg_url, REDIS_URL=None, TASKDECK_STEP_TIMEOUT=2, TASKDECK_ORDER_CHECK_INTERVAL=0.2
    )
    async with httpx.AsyncClient(base_url=proc.url or "", timeout=10, headers=auth_headers) as http:
        yield App(proc, http)


@pytest.fixture
async def page(browser: Browser, quick_app: App, api_user: AuthUser) -> AsyncIterator[Page]:
    async for page in signed_in_page(browser, quick_app.url, api_user):
        yield page


async def test_unknown_task_is_shown_prominently_and_marked_bought(quick_app: App, page: Page) -> None:
    app = quick_app
    await app.product("vinyl-box", confirmDelayMs=8000, ordersApiDown=True)
    task = await app.create("Doubtful drop", product="vinyl-box", maxAttempts=1)
    await page.goto(f"{app.url}/tasks")
    await app.execute(task["id"])
    status = row(page, "Doubtful drop").get_by_test_id("status")
    await expect(status).to_have_text("unknown", timeout=40_000)
    alert = page.get_by_test_id("unknown-alert")
    await expect(alert).to_be_visible()
    await expect(alert).to_contain_text("1 task in doubt")

    await page.goto(f"{app.url}/tasks/{task['id']}")
    banner = page.get_by_test_id("unknown-banner")
    await expect(banner).to_contain_text("An order may have been placed — check the store")
    await expect(banner).to_contain_text("could not be asked")
    await app.product("vinyl-box", ordersApiDown=False)
    [order] = (await app.http.get("/demo-store/api/orders", params={"reference": task["id"]})).json()

    await page.get_by_test_id("mark-bought").click()
    await page.get_by_label("Order number").fill(order["orderNumber"])
    await page.get_by_test_id("confirm-mark-bought").click()
    await expect(page.get_by_test_id("task-status")).to_have_text("completed", timeout=10_000)
    await expect(banner).to_be_hidden()
    await expect(page.get_by_test_id("result")).to_contain_text(order["orderNumber"])
    purchases = (await app.http.get("/api/purchases")).json()
    assert [p["orderNumber"] for p in purchases["data"]] == [order["orderNumber"]]
