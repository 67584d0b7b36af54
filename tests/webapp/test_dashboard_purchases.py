"""The purchases page in a real Chromium against a real ``python -m webapp``: filters by store and
days, totals per store and currency, the CSV download with the same filter, and the empty state
with its next step."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from models.db import Database
from models.tables import Purchase
from tests.conftest import AuthUser
from tests.webapp import test_dashboard
from tests.webapp.socket_probe import on_socket
from tests.webapp.test_dashboard import App, signed_in_page

pytestmark = pytest.mark.timeout(150)
app = test_dashboard.app  # the fixture: a webapp on Postgres with its embedded worker


@pytest.fixture
async def page(browser: Browser, app: App, api_user: AuthUser) -> AsyncIterator[Page]:
    async for page in signed_in_page(browser, app.url, api_user):
        yield page


async def bought(db: Database, owner: AuthUser, order: str, store: str, day: int, **fields: Any) -> None:
    values: dict[str, Any] = {
        "product": "vinyl-box",
        "quantity": 1,
        "unit_price": Decimal("10.00"),
        "total": Decimal("10.00"),
        "currency": "USD",
        **fields,
    }
    async with db.begin() as session:
        session.add(
            Purchase(
                owner_id=owner.id,
                store=store,
                order_number=order,
                created_at=datetime(2026, 11, day, 12, tzinfo=UTC),
                **values,
            )
        )


async def choose(page: Page, test_id: str, option: str) -> None:
    await page.get_by_test_id(test_id).click()
    await page.get_by_role("option", name=option, exact=True).click()


async def test_filters_totals_per_store_and_the_csv_download(
    app: App, db: Database, page: Page, api_user: AuthUser
) -> None:
    await bought(db, api_user, "DS-1", "demo", 20, total=Decimal("120.00"), unit_price=Decimal("120.00"))
    await bought(db, api_user, "DS-2", "demo", 22, total=Decimal("649.00"), unit_price=Decimal("649.00"))
    await bought(db, api_user, "X-1", "noop", 23, currency="EUR", product_name="=HYPERLINK(evil)")
    await page.goto(f"{app.url}/purchases")
    count, totals = page.get_by_test_id("order-count"), page.get_by_test_id("store-totals")
    await expect(count).to_have_text("3")
    await expect(page.get_by_test_id("total-spent")).to_have_text("€10.00 + $769.00")
    await expect(totals.locator("tbody tr")).to_have_count(2)
    await expect(totals.locator("tbody tr").nth(0)).to_contain_text("demo")
    await expect(totals.locator("tbody tr").nth(0)).to_contain_text("$769.00")
    await expect(totals.locator("tbody tr").nth(1)).to_contain_text("noop")
    await expect(totals.locator("tbody tr").nth(1)).to_contain_text("€10.00")

    await choose(page, "store-filter", "demo")
    await expect(count).to_have_text("2")
    await expect(totals.locator("tbody tr")).to_have_count(1)
    await page.get_by_test_id("from-filter").fill("2026-11-21")
    await expect(count).to_have_text("1")
    await expect(page.get_by_test_id("purchases").locator("tbody tr")).to_contain_text("DS-2")
    await expect(page.get_by_test_id("total-spent")).to_have_text("$649.00")

    async with page.expect_download() as download_info:
        await page.get_by_test_id("download-csv").click()
    download = await download_info.value
    assert download.suggested_filename == "purchases.csv"
    text = (await download.path()).read_text()
    assert [r["orderNumber"] for r in csv.DictReader(io.StringIO(text))] == ["DS-2"]

    await page.get_by_test_id("to-filter").fill("2026-11-21")
    await expect(count).to_have_text("0")
    await expect(page.get_by_test_id("empty")).to_contain_text("No purchases match these filters")
    await page.get_by_test_id("clear-filters").click()
    await expect(count).to_have_text("3")
    async with page.expect_download() as download_info:
        await page.get_by_test_id("download-csv").click()
    text = (await (await download_info.value).path()).read_text()
    exported = list(csv.DictReader(io.StringIO(text)))
    assert [r["orderNumber"] for r in exported] == ["X-1", "DS-2", "DS-1"]
    assert exported[0]["productName"] == "'=HYPERLINK(evil)"  # a spreadsheet shows it, never runs it


async def test_no_purchases_yet_leads_to_creating_a_task(app: App, page: Page) -> None:
    await page.goto(f"{app.url}/purchases")
    state = page.get_by_test_id("empty")
    await expect(state).to_contain_text("No purchases yet")
    await state.get_by_test_id("empty-action").click()
    await page.wait_for_url(f"{app.url}/tasks**", wait_until="commit")  # /tasks#new, then /tasks
    await expect(page.locator(".q-dialog").get_by_label("Product")).to_be_visible(timeout=20_000)  # New task


# Installed before the page loads: the element ids of the events the page sends (``window.socket``
# is set by NiceGUI before it connects).
COUNT_TABLE_EVENTS = "window.__events = [];" + on_socket("""
      const emit = s.emit.bind(s);
      s.emit = (type, msg, ...rest) => {
        if (type === 'event') window.__events.push(msg.id);
        return emit(type, msg, ...rest);
      };""")


async def test_an_opened_page_does_not_ask_for_its_table_again(
    app: App, db: Database, page: Page, api_user: AuthUser
) -> None:
    """QTable echoes its pagination as it mounts; sent to the server, that echo made it send the
    whole table back to every page just opened (``webapp/pages/server_paging.py``)."""
    await bought(db, api_user, "DS-1", "demo", 20)
    await bought(db, api_user, "X-1", "noop", 23)
    await page.add_init_script(COUNT_TABLE_EVENTS)
    await page.goto(f"{app.url}/purchases")
    await expect(page.get_by_test_id("purchases").locator("tbody tr")).to_have_count(2)
    await choose(page, "store-filter", "demo")  # a round trip after the mount's echo would have gone
    await expect(page.get_by_test_id("order-count")).to_have_text("1")
    table = await page.get_by_test_id("purchases").get_attribute("id")
    assert table and table.startswith("c"), table
    sent = await page.evaluate("window.__events")
    assert sent and table[1:] not in [str(i) for i in sent], (
        sent
    )  # the filter's events went; none to the table
