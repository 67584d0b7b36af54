"""Ownership on the dashboard, in a real Chromium against a real ``python -m webapp`` (Postgres).

- The New-task dialog creates through the API's own path: it refuses what ``POST /api/tasks``
  refuses (a ``javascript:`` product URL, an unknown demo product, ``until`` in the past).
- User B's open tasks page receives nothing while A's task runs (no update reaches B's browser
  over the websocket), and B's page for A's task says "not found".
- An admin sees both users' tasks with an Owner column and can filter by owner; the purchases
  page shows the owner too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from models.db import Database
from tests.conftest import AuthUser, Proc, StartWebapp, sign_in, wait_for

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def web(db: Database, pg_url: str, start_webapp: StartWebapp) -> Proc:
    proc: Proc = await start_webapp(DATABASE_URL=pg_url, REDIS_URL=None)
    return proc


@pytest.fixture
async def signed_in(browser: Browser, web: Proc) -> AsyncIterator[Callable[[AuthUser], Any]]:
    """``await signed_in(user)`` → a page of a fresh browser context signed in to ``web`` as ``user``."""
    contexts: list[BrowserContext] = []

    async def open_as(user: AuthUser) -> Page:
        context = await browser.new_context(viewport={"width": 1440, "height": 900})
        contexts.append(context)
        page = await context.new_page()
        await sign_in(page, web.url or "", user)
        return page

    yield open_as
    for context in contexts:
        await context.close()


def api(web: Proc, user: AuthUser) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=web.url or "", timeout=10, headers=user.headers)


def row(page: Page, name: str) -> Any:
    return page.locator("[data-testid=tasks-table] tbody tr").filter(
        has=page.get_by_role("link", name=name, exact=True)
    )


async def test_new_task_dialog_refuses_what_the_api_refuses(
    web: Proc, signed_in: Callable[[AuthUser], Any], api_user: AuthUser
) -> None:
    a = api_user
    page = await signed_in(a)
    await page.goto(f"{web.url}/tasks")
    await page.get_by_test_id("new-task").click()
    dialog = page.locator(".q-dialog")
    await dialog.get_by_label("Name").fill("Refused")
    product = dialog.get_by_label("Product")
    error = dialog.locator(".q-field--error")
    async with api(web, a) as http:
        for bad, said in (
            ("javascript:alert(1)", "must be an http(s) URL"),
            ("unicorn", "unknown product 'unicorn' in store demo"),
        ):
            await product.fill(bad)
            # the product preview complains first (leaving the field starts it): let it, so that
            # what the field shows next is the create path's own refusal
            await dialog.get_by_test_id("preview-product").click()
            await expect(error.filter(has_text="Product")).to_be_visible(timeout=60_000)
            await dialog.get_by_test_id("create-task").click()
            await expect(error.filter(has_text="Product")).to_contain_text(said)
            answer = await http.post("/api/tasks", json={"name": "Refused", "store": "demo", "product": bad})
            assert answer.status_code == 422 and said in answer.json()["detail"]

        await product.fill("vinyl-box")
        await dialog.get_by_text("Watch for restock", exact=True).click()
        await dialog.get_by_test_id("field-until").fill("2020-01-01T10:00")
        await dialog.get_by_test_id("create-task").click()
        await expect(error.filter(has_text="Until")).to_contain_text("until: must be in the future")
        await expect(error).to_have_count(1)
        assert (await http.get("/api/tasks")).json()["count"] == 0  # nothing was created

        await dialog.get_by_test_id("field-until").fill("")
        await dialog.get_by_test_id("create-task").click()  # the same dialog, valid now: created, A's
        await expect(row(page, "Refused").get_by_test_id("status")).to_be_visible(timeout=30_000)
        created = (await http.get("/api/tasks")).json()["data"]
        assert [(t["name"], t["ownerId"]) for t in created] == [("Refused", str(a.id))]


async def test_another_users_page_hears_nothing_of_a_running_task(
    web: Proc,
    signed_in: Callable[[AuthUser], Any],
    api_user: AuthUser,
    second_user: AuthUser,
    admin_user: AuthUser,
) -> None:
    a, b, admin = api_user, second_user, admin_user
    b_page = await signed_in(b)
    frames: list[str] = []
    b_page.on("websocket", lambda ws: ws.on("framereceived", lambda f: frames.append(str(f))))
    await b_page.goto(f"{web.url}/tasks")
    await expect(b_page.get_by_test_id("live")).to_contain_text("Live")
    await expect(b_page.get_by_test_id("tasks-table")).to_contain_text("No tasks here yet")

    async with api(web, a) as as_a, api(web, b) as as_b:
        body = {"name": "A's drop", "store": "demo", "product": "sneaker-drop", "start": "later"}
        a_task = (await as_a.post("/api/tasks", json=body)).json()
        heard = len(frames)
        assert (await as_a.post("/api/tasks/execute", json={"taskId": a_task["id"]})).status_code == 202

        async def a_done() -> bool:
            return (await as_a.get(f"/api/tasks/{a_task['id']}")).json()["status"] == "completed"

        await wait_for(a_done, timeout=60, what="A's task to complete")
        # A's task was created, queued, ran and completed: not one message reached B's page
        pushed = [f for f in frames[heard:] if f.startswith("42")]  # socket.io events (not pings)
        assert pushed == [], pushed[:3]
        assert a_task["name"] not in "".join(frames)

        # B's page is live all the same: B's own task shows up by itself
        own = {"name": "B's own", "store": "noop", "product": "x", "start": "later"}
        assert (await as_b.post("/api/tasks", json=own)).status_code == 201
        await expect(row(b_page, "B's own").get_by_test_id("status")).to_have_text("pending")
        await expect(b_page.get_by_test_id("chip-all")).to_contain_text("1")
        await expect(b_page.get_by_test_id("chip-completed")).to_contain_text("0")

    await b_page.goto(f"{web.url}/tasks/{a_task['id']}")  # A's task, as B: not found
    await expect(b_page.get_by_test_id("not-found")).to_be_visible()

    # an admin sees both, with the owner; the owner filter narrows to one user
    admin_page = await signed_in(admin)
    await admin_page.goto(f"{web.url}/tasks")
    table = admin_page.get_by_test_id("tasks-table")
    await expect(table.locator("thead")).to_contain_text("Owner")
    await expect(row(admin_page, "A's drop")).to_contain_text(a.email)
    await expect(row(admin_page, "B's own")).to_contain_text(b.email)
    await admin_page.get_by_test_id("filter-owner").click()
    await admin_page.get_by_role("option", name=b.email, exact=True).click()
    await expect(table.locator("tbody tr")).to_have_count(1)
    await expect(row(admin_page, "B's own")).to_be_visible()

    await admin_page.goto(f"{web.url}/purchases")
    purchases = admin_page.get_by_test_id("purchases")
    await expect(purchases.locator("thead")).to_contain_text("Owner")
    await expect(purchases.locator("tbody tr")).to_have_count(1)
    await expect(purchases.locator("tbody tr")).to_contain_text(a.email)
    await admin_page.get_by_test_id("owner-filter").click()
    await admin_page.get_by_role("option", name=b.email, exact=True).click()
    await expect(admin_page.get_by_test_id("order-count")).to_have_text("0")
    b_purchases = await signed_in(b)
    await b_purchases.goto(f"{web.url}/purchases")
    await expect(b_purchases.get_by_test_id("order-count")).to_have_text("0")
