"""The dashboard in a real Chromium against a real ``python -m webapp`` (Postgres, embedded worker).

What a person sees: rows that change state while the page stays open (no reload), the New-task
dialog, bulk actions, the task page's steps lighting up and its order number, the queue chart.
Tasks are created and run through the JSON API, as another client would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy.engine import make_url

from models.db import Database
from tests.conftest import REDIS_URL, AuthUser, Proc, StartWebapp, sign_in

pytestmark = pytest.mark.timeout(120)
SLOW_MS = 800  # every demo-store page of the product takes this long, so "running" is visible


@dataclass
class App:
    proc: Proc
    http: httpx.AsyncClient

    @property
    def url(self) -> str:
        assert self.proc.url is not None
        return self.proc.url

    async def create(self, name: str, product: str = "sneaker-drop", **fields: Any) -> dict[str, Any]:
        body = {"name": name, "store": "demo", "product": product, "start": "later", **fields}
        response = await self.http.post("/api/tasks", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    async def execute(self, task_id: str) -> None:
        response = await self.http.post("/api/tasks/execute", json={"taskId": task_id})
        assert response.status_code == 202, response.text

    async def product(self, slug: str, **settings: Any) -> None:
        response = await self.http.put(f"/demo-store/api/products/{slug}", json=settings)
        assert response.status_code == 200, response.text


@pytest.fixture
async def app(
    db: Database, pg_url: str, start_webapp: StartWebapp, auth_headers: dict[str, str]
) -> AsyncIterator[App]:
    """A webapp on the (emptied) test database with its embedded worker; no Redis."""
    proc = await start_webapp(DATABASE_URL=pg_url, REDIS_URL=None)
    async with httpx.AsyncClient(base_url=proc.url or "", timeout=10, headers=auth_headers) as http:
        yield App(proc, http)


@pytest.fixture
async def redis_app(
    db: Database,
    pg_url: str,
    redis_queue: str,
    start_webapp: StartWebapp,
    start_worker: StartWebapp,
    auth_headers: dict[str, str],
) -> AsyncIterator[App]:
    """A webapp on Postgres and Redis with one separate ``taskiq worker`` process."""
    env = {"DATABASE_URL": pg_url, "REDIS_URL": REDIS_URL, "TASKDECK_QUEUE_NAME": redis_queue}
    proc = await start_webapp(**env)
    start_worker(**env, TASKDECK_DEMO_STORE_URL=f"{proc.url}/demo-store")
    async with httpx.AsyncClient(base_url=proc.url or "", timeout=10, headers=auth_headers) as http:
        yield App(proc, http)


async def signed_in_page(browser: Browser, url: str, user: AuthUser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        page = await context.new_page()
        await sign_in(page, url, user)
        yield page
    finally:
        await context.close()


@pytest.fixture
async def page(browser: Browser, app: App, api_user: AuthUser) -> AsyncIterator[Page]:
    """A Chromium page signed in to ``app`` as ``api_user``."""
    async for page in signed_in_page(browser, app.url, api_user):
        yield page


@pytest.fixture
async def redis_page(browser: Browser, redis_app: App, api_user: AuthUser) -> AsyncIterator[Page]:
    async for page in signed_in_page(browser, redis_app.url, api_user):
        yield page


def row(page: Page, name: str) -> Any:
    return page.locator("[data-testid=tasks-table] tbody tr").filter(
        has=page.get_by_role("link", name=name, exact=True)
    )


async def test_tasks_page_shows_a_task_run_through_the_api_live_without_reload(app: App, page: Page) -> None:
    await see_a_task_run_live(app, page)


async def test_the_same_with_redis_and_a_separate_worker_process(redis_app: App, redis_page: Page) -> None:
    await see_a_task_run_live(redis_app, redis_page)


async def see_a_task_run_live(app: App, page: Page) -> None:
    """Issue 2: the page is open; a task created and executed over the API turns running, then
    completed, on that page, with no reload."""
    await app.product("sneaker-drop", delayMs=SLOW_MS)
    await page.goto(f"{app.url}/tasks")
    await expect(page.get_by_test_id("live")).to_contain_text("Live")
    await page.evaluate("window.__marker = 'still here'")

    task = await app.create("Live drop")
    assert task["status"] == "pending"
    status = row(page, "Live drop").get_by_test_id("status")
    await expect(status).to_have_text("pending", timeout=10_000)  # a new task appears by itself

    await app.execute(task["id"])
    await expect(status).to_have_text("running", timeout=15_000)
    await expect(row(page, "Live drop").get_by_test_id("step")).not_to_be_empty(timeout=15_000)
    await expect(status).to_have_text("completed", timeout=60_000)
    await expect(row(page, "Live drop")).to_contain_text("1/3")

    assert await page.evaluate("window.__marker") == "still here"  # no reload, no navigation
    await expect(page.get_by_test_id("chip-completed")).to_contain_text("1")


async def test_new_task_dialog_validates_and_creates(app: App, page: Page) -> None:
    await page.goto(f"{app.url}/tasks")
    await page.get_by_test_id("new-task").click()
    dialog = page.locator(".q-dialog")
    await dialog.get_by_test_id("create-task").click()
    # TaskCreate's errors, next to their fields
    await expect(dialog.locator(".q-field--error").filter(has_text="Name")).to_contain_text("required")
    await expect(dialog.locator(".q-field--error").filter(has_text="Product")).to_contain_text("required")

    await dialog.get_by_label("Name").fill("From the dialog")
    await dialog.get_by_label("Product").fill("vinyl-box")
    await dialog.get_by_label("Quantity").fill("0")
    await dialog.get_by_text("Later", exact=True).click()
    await dialog.get_by_test_id("create-task").click()
    await expect(dialog.locator(".q-field--error").filter(has_text="Quantity")).to_contain_text("at least 1")
    await expect(dialog.locator(".q-field--error")).to_have_count(1)

    await dialog.get_by_label("Quantity").fill("2")
    await dialog.get_by_test_id("create-task").click()
    await expect(page.locator(".q-notification")).to_contain_text("From the dialog")
    await expect(row(page, "From the dialog").get_by_test_id("status")).to_have_text("pending")
    listed = (await app.http.get("/api/tasks")).json()["data"]
    assert [(t["name"], t["product"], t["quantity"], t["status"]) for t in listed] == [
        ("From the dialog", "vinyl-box", 2, "pending")
    ]
    await expect(row(page, "From the dialog")).to_contain_text("× 2")


async def test_bulk_cancel_of_two_selected_tasks(app: App, page: Page) -> None:
    for name in ("Bulk A", "Bulk B", "Bulk C"):
        await app.create(name)
    await page.goto(f"{app.url}/tasks")
    await expect(page.get_by_test_id("chip-pending")).to_contain_text("3")
    await expect(page.get_by_test_id("bulk-cancel")).to_be_disabled()
    for name in ("Bulk A", "Bulk C"):
        await row(page, name).locator(".q-checkbox").click()
    await expect(page.get_by_text("2 selected")).to_be_visible()
    await page.get_by_test_id("bulk-cancel").click()
    dialog = page.get_by_test_id("confirm-dialog")  # cancelling asks first, naming how many
    await expect(dialog).to_contain_text("Cancel 2 tasks?")
    await dialog.get_by_test_id("confirm").click()

    notes = page.locator(".q-notification")
    await expect(notes.filter(has_text="2 cancelled")).to_be_visible()  # one summary, not one per task
    await expect(notes).to_have_count(1)
    for name, expected in (("Bulk A", "cancelled"), ("Bulk B", "pending"), ("Bulk C", "cancelled")):
        await expect(row(page, name).get_by_test_id("status")).to_have_text(expected)
    await expect(page.get_by_test_id("chip-cancelled")).to_contain_text("2")
    statuses = {t["name"]: t["status"] for t in (await app.http.get("/api/tasks")).json()["data"]}
    assert statuses == {"Bulk A": "cancelled", "Bulk B": "pending", "Bulk C": "cancelled"}


async def test_server_paging_filters_search_and_row_buttons(app: App, page: Page) -> None:
    for i in range(30):
        await app.create(f"Paged {i:02d}", product="vinyl-box" if i % 2 else "sneaker-drop")
    await page.goto(f"{app.url}/tasks")
    table = page.get_by_test_id("tasks-table")
    await expect(table).to_contain_text("1-25 of 30")
    await expect(table.locator("tbody tr")).to_have_count(25)
    await expect(row(page, "Paged 29")).to_be_visible()  # newest first
    await table.get_by_role("button", name="Next page").click()
    await expect(table).to_contain_text("26-30 of 30")
    await expect(row(page, "Paged 00")).to_be_visible()

    await page.get_by_test_id("search").fill("vinyl")
    await expect(table).to_contain_text("1-15 of 15", timeout=20_000)
    await expect(page).to_have_url(f"{app.url}/tasks?q=vinyl")

    await row(page, "Paged 29").get_by_test_id("row-start").click()  # a row's own button
    await expect(page.locator(".q-notification").filter(has_text="Paged 29: started")).to_be_visible()
    await page.get_by_test_id("chip-completed").click()
    await expect(table.locator("tbody tr")).to_have_count(1, timeout=30_000)  # it ran; the filter follows
    await expect(row(page, "Paged 29").get_by_test_id("status")).to_have_text("completed")
    await page.get_by_test_id("chip-pending").click()
    await expect(table).to_contain_text("1-14 of 14")
    await expect(page).to_have_url(f"{app.url}/tasks?status=pending&q=vinyl")


async def test_page_catches_up_after_the_live_hub_loses_postgres(app: App, page: Page, pg_url: str) -> None:
    task = await app.create("Outage")
    await page.goto(f"{app.url}/tasks")
    await page.evaluate("window.__marker = 'still here'")
    status = row(page, "Outage").get_by_test_id("status")
    await expect(status).to_have_text("pending")
    conn = await asyncpg.connect(
        make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    )
    try:  # every connection of the webapp goes, the hub's LISTEN among them
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await conn.close()
    response = await app.http.post(f"/api/tasks/{task['id']}/cancel")  # its NOTIFY may find no listener
    assert response.status_code == 200, response.text
    await expect(status).to_have_text("cancelled", timeout=15_000)
    await expect(page.get_by_test_id("live")).to_contain_text("Live", timeout=10_000)
    assert await page.evaluate("window.__marker") == "still here"


async def test_task_page_lights_up_steps_live_and_shows_the_order(app: App, page: Page) -> None:
    await app.product("sneaker-drop", delayMs=SLOW_MS)
    task = await app.create("Detail drop")
    await page.goto(f"{app.url}/tasks/{task['id']}")
    await expect(page.get_by_test_id("task-name")).to_have_text("Detail drop")
    steps = page.locator("[data-testid=step]")
    await expect(steps).to_have_count(5)
    await expect(page.locator("[data-testid=step][data-state=done]")).to_have_count(0)
    await expect(page.get_by_test_id("action-start")).to_be_visible()  # legal actions only
    await expect(page.get_by_test_id("action-retry")).to_have_count(0)

    await app.execute(task["id"])
    badge = page.get_by_test_id("task-status")
    await expect(badge).to_have_text("running", timeout=15_000)
    first = page.locator('[data-testid=step][data-step="open product"]')
    await expect(first).to_have_attribute("data-state", "done", timeout=15_000)
    assert await badge.inner_text() == "running"  # lit while the bot is still at work
    await expect(page.locator('[data-testid=step][data-step="check stock"]')).to_have_attribute(
        "data-state", "done"
    )
    await expect(page.get_by_test_id("action-cancel")).to_be_visible()

    await expect(badge).to_have_text("completed", timeout=60_000)
    await expect(page.locator("[data-testid=step][data-state=done]")).to_have_count(5)
    orders = (await app.http.get("/demo-store/api/orders")).json()
    [order] = [o for o in orders if o["reference"] == task["id"]]
    await expect(page.get_by_test_id("order-number")).to_have_text(order["orderNumber"])
    await expect(page.get_by_test_id("gallery").locator("img")).to_have_count(5, timeout=10_000)
    await expect(page.get_by_test_id("events")).to_contain_text("completed")
    await expect(page.get_by_test_id("attempts")).to_contain_text("completed")


async def test_unknown_task_is_a_friendly_not_found(app: App, page: Page) -> None:
    for what in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        response = await page.goto(f"{app.url}/tasks/{what}")
        assert response is not None and response.status == 404
        await expect(page.get_by_test_id("not-found")).to_have_text("No such task")


async def test_queue_page_renders_counts_chart_and_workers(app: App, page: Page) -> None:
    task = await app.create("Queue drop", product="vinyl-box", start="now")
    await page.goto(f"{app.url}/queue")
    await expect(page.get_by_test_id("count-completed")).to_have_text("1", timeout=30_000)  # live
    assert (await app.http.get(f"/api/tasks/{task['id']}")).json()["status"] == "completed"
    await expect(page.get_by_test_id("throughput").locator("canvas").first).to_be_visible()
    await expect(page.get_by_test_id("workers").locator("tbody tr").first).to_contain_text(
        "up", timeout=10_000
    )
