"""Issue 11 in Chromium on the real stack (webapp + a worker process, Postgres, Redis, the demo
store): the watch page's chart draws a stepped line per listing with a gap while out of stock and
the max-price line, and the page follows the watch live until it has bought — without a reload.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect

from tests.conftest import AuthUser, sign_in, wait_for
from tests.test_e2e import stack  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

CHEAP, DEAR = "console-limited", "gpu-founders"
SERIES = """el => getElement(el).chart.getOption().series.map(s => ({
  name: s.name, step: s.step, data: s.data, max: s.markLine.data[0].yAxis }))"""


async def series(page: Any) -> dict[str, Any]:
    chart = page.locator('[data-testid="watch-chart"]')
    return {s["name"]: s for s in await chart.evaluate(SERIES)}


async def new_watch(on: Any, name: str, *listings: tuple[str, int]) -> dict[str, Any]:
    """A watch checking every second, created through the API."""
    body = {
        "name": name,
        "checkEvery": 1,
        "listings": [{"store": "demo", "product": slug, "maxPrice": price} for slug, price in listings],
    }
    created = await on.http.post(f"{on.url}/api/watches", json=body)
    assert created.status_code == 201, created.text
    return dict(created.json())


async def test_the_watch_page_charts_each_listing_and_follows_the_watch_live(
    stack: Any,  # noqa: F811
    browser: Any,
    api_user: AuthUser,
) -> None:
    stack.worker(TASKDECK_WORKER_CONCURRENCY=2)
    await stack.product(CHEAP, stock=3, price=600)  # in stock, above its max: watched, not bought
    await stack.product(DEAR, stock=0)
    watch = await new_watch(stack, "Console or GPU", (CHEAP, 550), (DEAR, 750))
    context = await browser.new_context()
    try:
        page = await context.new_page()
        await sign_in(page, stack.url, api_user)
        await page.goto(f"{stack.url}/watches/{watch['id']}")
        badge = page.locator('[data-testid="watch-status"]')
        await expect(badge).to_have_text("watching")

        async def both_drawn() -> dict[str, Any] | None:
            drawn = await series(page)
            return drawn if all(s["data"] for s in drawn.values()) and len(drawn) == 2 else None

        drawn = await wait_for(both_drawn, timeout=60, what="both listings on the chart")
        cheap, dear = drawn[f"demo · {CHEAP}"], drawn[f"demo · {DEAR}"]
        assert cheap["step"] == dear["step"] == "end"  # stepped lines
        assert (cheap["max"], dear["max"]) == (550, 750)  # the max-price lines
        assert [p[1] for p in cheap["data"]][:1] == [600]  # in stock at 600
        assert all(p[1] is None for p in dear["data"])  # out of stock: a gap, no line
        await expect(page.locator('[data-testid="fact-lowest"]')).to_have_text("$600.00")

        await stack.product(CHEAP, price=540)  # now under its max: this listing buys
        await expect(badge).to_have_text("bought", timeout=90_000)  # live, no reload
        await expect(page.locator('[data-testid="watch-purchase"]')).to_contain_text("Order DS-")
        await expect(page.locator('[data-testid="fact-lowest"]')).to_have_text("$540.00")
        later = await series(page)
        assert 540 in [p[1] for p in later[f"demo · {CHEAP}"]["data"]]
        await expect(page.locator('[data-testid="cancel-watch"]')).to_be_hidden()

        await page.goto(f"{stack.url}/watches")
        await expect(page.locator(f'[data-testid="watch-status-{watch["id"]}"]')).to_have_text("bought")
    finally:
        await context.close()
    assert len(await stack.orders()) == 1


async def test_the_new_watch_dialog_previews_each_listing_and_creates_the_watch(
    stack: Any,  # noqa: F811
    browser: Any,
    api_user: AuthUser,
) -> None:
    await stack.product(DEAR, stock=0)
    context = await browser.new_context()
    try:
        page = await context.new_page()
        await sign_in(page, stack.url, api_user)
        await page.goto(f"{stack.url}/watches")
        await page.get_by_test_id("new-watch").click()
        await page.get_by_test_id("watch-name").fill("GPU or console")
        for index, (slug, price) in enumerate(((DEAR, "750"), (CHEAP, "550"))):
            await page.get_by_test_id(f"listing-product-{index}").fill(slug)
            await page.get_by_test_id(f"listing-max-price-{index}").fill(price)
        await expect(page.get_by_test_id("listing-preview-0")).to_contain_text(
            "Nova GPU Founders Edition · 699.00 · out of stock", timeout=60_000
        )
        await expect(page.get_by_test_id("listing-preview-1")).to_contain_text(
            "Pulse Console Limited · 499.00 · in stock", timeout=60_000
        )
        await page.get_by_test_id("listing-product-1").fill(DEAR)  # the same listing twice: refused
        await page.get_by_test_id("save-watch").click()
        await expect(page.get_by_test_id("watch-error")).to_contain_text("given twice")
        await page.get_by_test_id("listing-product-1").fill(CHEAP)
        await page.get_by_test_id("save-watch").click()
        await page.wait_for_url(f"{stack.url}/watches/*")
        await expect(page.locator('[data-testid="watch-status"]')).to_have_text("watching")
    finally:
        await context.close()
    watch = (await stack.http.get(f"{stack.url}/api/watches")).json()["data"][0]  # the newest
    assert watch["name"] == "GPU or console"
    detail = (await stack.http.get(f"{stack.url}/api/watches/{watch['id']}")).json()
    assert [(x["product"], x["maxPrice"]) for x in detail["listings"]] == [(DEAR, 750.0), (CHEAP, 550.0)]


async def test_the_edit_dialog_adds_a_listing_that_starts_checking_and_removes_one_that_stops(
    stack: Any,  # noqa: F811
    browser: Any,
    api_user: AuthUser,
) -> None:
    for slug in (CHEAP, DEAR, "sneaker-drop"):  # nothing to buy: the listings only check
        await stack.product(slug, stock=0)
    stack.worker(TASKDECK_WORKER_CONCURRENCY=2)
    watch = await new_watch(stack, "Anything", (DEAR, 750), (CHEAP, 550))
    removed_task = watch["listings"][1]["taskId"]
    context = await browser.new_context()
    try:
        page = await context.new_page()
        await sign_in(page, stack.url, api_user)
        await page.goto(f"{stack.url}/watches/{watch['id']}")
        await expect(page.locator('[data-testid="watch-status"]')).to_have_text("watching", timeout=30_000)
        await page.get_by_test_id("edit-watch").click()
        await expect(page.get_by_test_id("listing-product-1")).to_have_value(CHEAP)
        await page.get_by_test_id("remove-listing-1").click()
        await page.get_by_test_id("add-listing").click()
        await page.get_by_test_id("listing-product-2").fill("sneaker-drop")
        await page.get_by_test_id("listing-max-price-2").fill("150")
        await page.get_by_test_id("save-watch").click()
        dialog = page.locator(".q-dialog")
        await expect(dialog).to_be_hidden(timeout=30_000)  # saved (a refusal would keep it open)
        await expect(page.locator("table")).to_contain_text("sneaker-drop")  # the page re-read
        await expect(page.locator("table")).not_to_contain_text(CHEAP)
    finally:
        await context.close()

    async def edited() -> dict[str, Any] | None:
        detail = (await stack.http.get(f"{stack.url}/api/watches/{watch['id']}")).json()
        found = [(x["product"], x["maxPrice"]) for x in detail["listings"]]
        return detail if found == [(DEAR, 750.0), ("sneaker-drop", 150.0)] else None

    detail = await wait_for(edited, timeout=30, what="the edited listings")
    removed = (await stack.http.get(f"{stack.url}/api/tasks/{removed_task}")).json()
    assert removed["status"] == "cancelled"  # removing a listing stopped its monitor
    added = detail["listings"][1]

    async def checked() -> bool:
        again = (await stack.http.get(f"{stack.url}/api/watches/{watch['id']}")).json()
        return again["listings"][1]["inStock"] is False  # its monitor ran: seen out of stock

    await wait_for(checked, timeout=90, what="the added listing's first check")
    assert added["taskId"] and detail["status"] == "watching"
