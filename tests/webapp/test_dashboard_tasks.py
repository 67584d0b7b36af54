"""The tasks page in a real Chromium against a real ``python -m webapp`` (Postgres, embedded worker).

- Filters, search, sort and page live in the URL: a reload or a shared link opens the same view;
  search finds an order number and a task's short id.
- A 200-character name and a long product URL at 1440×900 leave Status, Progress and the row
  actions in view (measured from element boxes); columns keep their widths while rows change; at
  390×844 the rows are cards and nothing scrolls sideways.
- Header checkbox on a full page → "Select all 60 matching" → a confirmation naming 60 → one
  summary ("58 cancelled, 2 already finished") for a 60-task filter at page size 25.
- Times in the browser's zone (Chromium's ``timezone_id``), named once per page; "1 task", and a
  summary that says what it counts; the ``noop`` store is not offered in the New-task dialog.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from models.db import Database
from models.settings import Settings
from tests.conftest import AuthUser, Proc, StartWebapp, sign_in, wait_for
from webapp.pages.task_form import offered_stores

pytestmark = pytest.mark.timeout(420)
LONG_URL = "https://shop.example.com/" + "very-long-category-name/" * 18 + "product"


@dataclass
class App:
    proc: Proc
    http: httpx.AsyncClient
    open: Callable[..., Any]  # await app.open(width=…, height=…, **context options) → a signed-in Page

    @property
    def url(self) -> str:
        assert self.proc.url is not None
        return self.proc.url

    async def create(self, *bodies: dict[str, Any]) -> list[dict[str, Any]]:
        items = [{"store": "demo", "product": "vinyl-box", "start": "later", **b} for b in bodies]
        response = await self.http.post("/api/tasks", json=items)
        assert response.status_code == 201, response.text
        created: list[dict[str, Any]] = response.json()
        return created

    async def tasks(self, **params: Any) -> list[dict[str, Any]]:
        response = await self.http.get("/api/tasks", params={"limit": 500, **params})
        assert response.status_code == 200, response.text
        data: list[dict[str, Any]] = response.json()["data"]
        return data


@pytest.fixture
async def app(
    db: Database,
    pg_url: str,
    start_webapp: StartWebapp,
    browser: Browser,
    api_user: AuthUser,
) -> AsyncIterator[App]:
    proc = await start_webapp(DATABASE_URL=pg_url, REDIS_URL=None)
    contexts: list[BrowserContext] = []

    async def open_page(width: int = 1440, height: int = 900, **options: Any) -> Page:
        context = await browser.new_context(viewport={"width": width, "height": height}, **options)
        contexts.append(context)
        page = await context.new_page()
        await sign_in(page, proc.url or "", api_user)
        return page

    try:
        async with httpx.AsyncClient(base_url=proc.url or "", timeout=30, headers=api_user.headers) as http:
            yield App(proc, http, open_page)
    finally:
        for context in contexts:
            await context.close()


async def goto(page: Page, url: str) -> None:
    """Open ``url`` and wait for the page's socket: clicks before it connects go nowhere."""
    await page.goto(url)
    await expect(page.get_by_test_id("live")).to_contain_text("Live", timeout=20_000)


def table(page: Page) -> Any:
    return page.get_by_test_id("tasks-table")


def row(page: Page, name: str) -> Any:
    return table(page).locator("tbody tr").filter(has=page.get_by_role("link", name=name, exact=True))


async def box(locator: Any) -> dict[str, float]:
    """The element's box; asked again while a live re-render has just replaced it."""
    await expect(locator).to_be_visible()
    found: dict[str, float] | None = await wait_for(locator.bounding_box, what="a box", timeout=15)
    assert found is not None
    return found


async def names_shown(page: Page) -> list[str]:
    texts: list[str] = await table(page).get_by_test_id("task-name-cell").all_inner_texts()
    return texts


async def test_filters_search_sort_and_page_live_in_the_url(app: App) -> None:
    await app.create(
        *({"name": f"Once {i:02d}"} for i in range(12)),
        *({"name": f"Watch {i:02d}", "mode": "monitor", "checkEvery": 60} for i in range(3)),
    )
    [bought] = await app.create({"name": "Bought one", "store": "noop", "product": "p", "start": "now"})
    await wait_for(
        lambda: _finished(app, bought["id"]), what="the noop task to complete", timeout=60, interval=0.5
    )
    [purchase] = (await app.http.get("/api/purchases")).json()["data"]
    order = purchase["orderNumber"]

    page = await app.open()
    await goto(page, f"{app.url}/tasks?mode=once&sort=name&size=10&page=2&store=demo")
    await expect(table(page)).to_contain_text("11-12 of 12")
    assert await names_shown(page) == ["Once 10", "Once 11"]  # sorted by name, ascending, page 2
    await expect(page.get_by_test_id("filter-mode")).to_contain_text("Buy once")

    await page.get_by_test_id("filter-mode").click()
    await page.get_by_role("option", name="Watch for restock").click()
    await expect(table(page)).to_contain_text("1-3 of 3")  # a filter change goes back to page 1
    await expect(page).to_have_url(f"{app.url}/tasks?store=demo&mode=monitor&sort=name&size=10")
    await page.reload()  # the URL holds the whole view
    await expect(page.get_by_test_id("live")).to_contain_text("Live", timeout=20_000)
    await expect(table(page)).to_contain_text("1-3 of 3")
    assert await names_shown(page) == ["Watch 00", "Watch 01", "Watch 02"]

    await goto(page, f"{app.url}/tasks?q=nothing-like-this")
    empty = table(page).get_by_test_id("empty")
    await expect(empty).to_contain_text("No tasks match these filters")
    await empty.get_by_test_id("empty-action").click()  # its next step: clear the filters
    await expect(table(page)).to_contain_text("1-16 of 16", timeout=20_000)
    await expect(page).to_have_url(f"{app.url}/tasks")

    for search in (order, bought["id"][:8]):  # an order number, a task's short id
        await goto(page, f"{app.url}/tasks")
        await page.get_by_test_id("search").fill(search)
        await expect(table(page)).to_contain_text("1-1 of 1")
        assert await names_shown(page) == ["Bought one"]

    # the API takes the same filter, for lists and for bulk actions
    assert {t["name"] for t in await app.tasks(mode="monitor")} == {f"Watch {i:02d}" for i in range(3)}
    response = await app.http.post("/api/tasks/bulk", json={"action": "pause", "filter": {"mode": "monitor"}})
    assert response.status_code == 200, response.text
    assert response.json()["ok"] == 3
    naive = await app.http.get("/api/tasks", params={"createdFrom": "2026-01-01T00:00:00"})
    assert naive.status_code == 422, naive.text  # a time without its zone is refused, by name
    assert "createdFrom" in naive.text


async def _finished(app: App, task_id: str) -> bool:
    return bool((await app.http.get(f"/api/tasks/{task_id}")).json()["status"] == "completed")


async def test_long_names_keep_status_in_view_widths_hold_and_phones_get_cards(app: App) -> None:
    long_name = "Limited edition " + "x" * 184
    assert len(long_name) == 200
    await app.create({"name": long_name, "store": "noop", "product": LONG_URL}, {"name": "Short"})
    page = await app.open(1440, 900)
    await goto(page, f"{app.url}/tasks")
    long_row = row(page, long_name)
    await expect(long_row.get_by_test_id("status")).to_have_text("pending")

    viewport = 1440
    for what in (long_row.get_by_test_id("status"), long_row.get_by_test_id("row-start")):
        b = await box(what)
        assert 0 <= b["x"] and b["x"] + b["width"] <= viewport, b  # in view, not pushed off screen
    card = await box(table(page))
    assert card["width"] <= viewport
    widths = await page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], widths  # no horizontal scroll
    name_cell = long_row.get_by_test_id("task-name-cell")
    assert (await box(name_cell))["width"] < 600  # cut, not stretched
    await expect(name_cell).to_have_attribute("title", long_name)  # the whole name on hover

    async def column_widths() -> list[float]:
        heads = table(page).locator("thead th")
        return [(await box(heads.nth(i)))["width"] for i in range(await heads.count())]

    before = await column_widths()
    await app.create({"name": "y" * 200, "product": "sneaker-drop"})  # arrives live
    await expect(table(page).locator("tbody tr")).to_have_count(3)
    await app.http.post("/api/tasks/bulk", json={"action": "cancel", "filter": {"q": "Short"}})
    await expect(row(page, "Short").get_by_test_id("status")).to_have_text("cancelled")
    assert await column_widths() == before  # the same widths while rows came and changed

    phone = await app.open(390, 844, is_mobile=True, has_touch=True)
    await goto(phone, f"{app.url}/tasks")
    phone_row = row(phone, long_name)
    await expect(phone_row.get_by_test_id("status")).to_be_visible()
    widths = await phone.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= 390 and widths[0] <= widths[1], widths  # nothing scrolls sideways
    for what in ("status", "row-start", "created"):
        b = await box(phone_row.get_by_test_id(what))
        assert 0 <= b["x"] and b["x"] + b["width"] <= 390, (what, b)
    middle = await phone.evaluate(
        "() => { const m = document.querySelector('[data-testid=tasks-table] .q-table__middle');"
        " return [m.scrollWidth, m.clientWidth]; }"
    )
    assert middle[0] <= middle[1], middle  # nor does the table inside its card


async def test_select_all_matching_acts_on_every_matching_task_with_one_summary(app: App) -> None:
    batch = await app.create(*({"name": f"Batch {i:02d}"} for i in range(60)))
    await app.create({"name": "Other A"}, {"name": "Other B"})
    for task in batch[:2]:  # finished before: "already finished"
        assert (await app.http.post(f"/api/tasks/{task['id']}/cancel")).status_code == 200
    page = await app.open()
    await goto(page, f"{app.url}/tasks?q=Batch&size=25")
    await expect(table(page)).to_contain_text("1-25 of 60")
    banner = page.get_by_test_id("select-all-banner")
    await expect(banner).to_be_hidden()

    await table(page).locator("thead .q-checkbox").click()
    await expect(banner).to_be_visible(timeout=30_000)
    await expect(banner).to_contain_text("All 25 tasks on this page are selected.")
    await banner.get_by_test_id("select-all-matching").click()
    await expect(banner).to_contain_text("All 60 matching tasks are selected.", timeout=30_000)
    await expect(page.get_by_test_id("selected-count")).to_have_text("60 tasks selected")

    await page.get_by_test_id("bulk-cancel").click()
    dialog = page.get_by_test_id("confirm-dialog")
    await expect(dialog).to_contain_text("Cancel 60 tasks?", timeout=30_000)
    await dialog.get_by_test_id("confirm").click()
    notes = page.locator(".q-notification")
    await expect(notes).to_contain_text("58 cancelled, 2 already finished", timeout=200_000)
    await page.wait_for_timeout(500)
    await expect(notes).to_have_count(1)  # one summary, not one per task

    statuses = {t["name"]: t["status"] for t in await app.tasks()}
    assert {statuses[f"Batch {i:02d}"] for i in range(60)} == {"cancelled"}
    assert (statuses["Other A"], statuses["Other B"]) == ("pending", "pending")  # not matching: untouched
    await expect(banner).to_be_hidden()


async def test_times_in_the_browser_zone_counts_in_words_and_no_noop_store(app: App) -> None:
    [task] = await app.create({"name": "Zoned"})
    page = await app.open(timezone_id="America/New_York")
    await goto(page, f"{app.url}/tasks")  # the first page stored the zone; read from now on
    cookie = next(c for c in await page.context.cookies() if c["name"] == "td_tz")
    assert cookie["value"] == "America%2FNew_York"  # as the browser sends it: URL-encoded
    await goto(page, f"{app.url}/tasks")
    await expect(page.get_by_test_id("time-zone")).to_have_text("Times in America/New_York")
    await expect(page.get_by_test_id("time-zone")).to_have_count(1)  # once per page
    cell = row(page, "Zoned").get_by_test_id("created")
    await expect(cell).to_contain_text("just now")  # relative in the list
    created = datetime.fromisoformat(task["createdAt"]).astimezone(ZoneInfo("America/New_York"))
    exact = created.strftime("%Y-%m-%d %H:%M:%S %Z")
    assert exact.endswith(("EST", "EDT"))
    await expect(cell).to_have_attribute("title", exact)  # the exact time on hover

    # the counts say what they count, with the right plural
    await expect(page.get_by_test_id("summary")).to_have_text("1 task · 0 running · 0 queued · 1 waiting")
    await app.create(*({"name": f"More {i}"} for i in range(2)))
    await expect(page.get_by_test_id("summary")).to_have_text("3 tasks · 0 running · 0 queued · 3 waiting")

    await goto(page, f"{app.url}/tasks/{task['id']}")
    await expect(page.get_by_test_id("time-zone")).to_have_text("Times in America/New_York")

    await goto(page, f"{app.url}/tasks")
    await page.get_by_test_id("new-task").click()
    await page.locator(".q-dialog").get_by_test_id("field-store").click()
    options = page.locator(".q-menu .q-item")
    await expect(options.first).to_be_visible()
    offered = await options.all_inner_texts()
    assert "demo" in offered and "noop" not in offered, offered  # the engine-test store is not offered


def test_noop_is_offered_only_when_turned_on_by_itself() -> None:
    names = ["demo", "noop"]
    assert offered_stores(Settings(demo_store=True), names) == ["demo"]
    assert offered_stores(Settings(demo_store=True, noop_store=True), names) == ["demo", "noop"]
