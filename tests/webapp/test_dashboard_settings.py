"""The New-task dialog's product preview and profile choice, and the /settings page, in a real
Chromium against a real ``python -m webapp`` (Postgres, embedded worker).

What a person sees: the product's name, price and stock before saving a task, the store's
complaint under the product field, card numbers only masked, and a task that checks out with the
profile chosen for it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Locator, Page, expect

from models.db import Database
from tests.conftest import AuthUser, Proc, StartWebapp, sign_in

pytestmark = pytest.mark.timeout(90)
CARD = "4242 4242 4242 4242"


@pytest.fixture
async def web(
    db: Database, pg_url: str, start_webapp: StartWebapp, auth_headers: dict[str, str]
) -> AsyncIterator[tuple[Proc, httpx.AsyncClient]]:
    # noop on by itself: the New-task dialog offers it (a store without a preview)
    proc = await start_webapp(DATABASE_URL=pg_url, REDIS_URL=None, TASKDECK_NOOP_STORE="true")
    async with httpx.AsyncClient(base_url=proc.url or "", timeout=30, headers=auth_headers) as http:
        yield proc, http


@pytest.fixture
async def page(
    browser: Browser, web: tuple[Proc, httpx.AsyncClient], api_user: AuthUser
) -> AsyncIterator[Page]:
    """A Chromium page signed in to ``web`` as ``api_user``."""
    context = await browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        page = await context.new_page()
        await sign_in(page, web[0].url or "", api_user)
        yield page
    finally:
        await context.close()


async def open_new_task(page: Page, url: str) -> Locator:
    await page.goto(f"{url}/tasks")
    await page.get_by_test_id("new-task").click()
    dialog = page.locator(".q-dialog")
    await expect(dialog.get_by_label("Product")).to_be_visible()
    return dialog


async def choose(page: Page, field: Locator, option: str) -> None:
    await field.click()
    await page.get_by_role("option", name=option, exact=True).click()


async def test_preview_shows_the_product_and_the_stores_complaint(
    web: tuple[Proc, httpx.AsyncClient], page: Page
) -> None:
    proc, http = web
    r = await http.put("/demo-store/api/products/gpu-founders", json={"stock": 0, "delayMs": 800})
    assert r.status_code == 200, r.text
    dialog = await open_new_task(page, proc.url or "")
    await dialog.get_by_label("Max price").fill("500")
    await dialog.get_by_label("Product").fill("gpu-founders")
    await dialog.get_by_test_id("preview-product").click()
    await expect(dialog.get_by_test_id("preview-spinner")).to_be_visible()  # the store is slow

    preview = dialog.get_by_test_id("preview")
    await expect(preview.get_by_test_id("preview-name")).to_have_text(
        "Nova GPU Founders Edition", timeout=20_000
    )
    await expect(dialog.get_by_test_id("preview-spinner")).to_be_hidden()
    await expect(preview.get_by_test_id("preview-price")).to_have_text("$699.00")
    await expect(preview.get_by_test_id("preview-over-max")).to_contain_text("$500.00")
    await expect(preview.get_by_test_id("preview-stock")).to_have_text(
        "Out of stock — use monitor mode to wait for it"
    )
    link = preview.get_by_test_id("preview-link")
    assert (await link.get_attribute("href") or "").endswith("/demo-store/products/gpu-founders")
    image = preview.get_by_test_id("preview-image")
    assert "/demo-store/" in (await image.get_attribute("src") or "")
    await page.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0", arg=await image.element_handle()
    )
    await dialog.get_by_label("Max price").fill("800")  # the warning follows the max price
    await expect(preview.get_by_test_id("preview-over-max")).to_be_hidden()

    await dialog.get_by_label("Product").fill("no-such-thing")  # editing hides what no longer applies
    await expect(preview).to_be_hidden()
    await dialog.get_by_label("Quantity").click()  # leaving the field previews it
    error = dialog.locator(".q-field--error").filter(has_text="Product")
    await expect(error).to_contain_text("unknown product 'no-such-thing'", timeout=20_000)
    await expect(preview).to_be_hidden()

    await choose(page, dialog.get_by_label("Store"), "noop")  # a store without preview: no button
    await expect(dialog.get_by_test_id("preview-product")).to_be_hidden()
    await expect(error).to_have_count(0)


async def test_settings_profiles_and_accounts_then_a_task_with_that_profile(
    web: tuple[Proc, httpx.AsyncClient], page: Page
) -> None:
    proc, http = web
    url = proc.url or ""
    await page.goto(f"{url}/tasks")
    await page.get_by_role("link", name="Settings").click()
    await expect(page).to_have_url(f"{url}/settings")

    await page.get_by_test_id("add-profile").click()
    dialog = page.locator(".q-dialog")
    fields = {
        "Profile name": "Work card",
        "Full name": "Ada Lovelace",
        "Email": "ada-at-example",
        "Address": "12 Analytical Row, London",
        "Card number": CARD,
        "Expiry": "13/29",
        "CVC": "123",
    }
    for label, value in fields.items():
        await dialog.get_by_label(label).fill(value)
    for secret in ("Card number", "Expiry", "CVC"):
        assert await dialog.get_by_label(secret).get_attribute("type") == "password"
    await dialog.get_by_test_id("save").click()
    errors = dialog.locator(".q-field--error")
    await expect(errors.filter(has_text="Email")).to_contain_text("not an email address")
    await expect(errors.filter(has_text="Expiry")).to_contain_text("MM/YY")
    await expect(errors).to_have_count(2)
    await dialog.get_by_label("Email").fill("ada@example.com")
    await dialog.get_by_label("Expiry").fill("07/29")
    await dialog.get_by_test_id("save").click()

    profiles = page.get_by_test_id("profiles")
    row = profiles.locator("tbody tr").filter(has_text="Work card")
    await expect(row).to_contain_text("Ada Lovelace")
    await expect(row).to_contain_text("ada@example.com")
    await expect(row.get_by_test_id("masked")).to_have_text("•••• 4242")
    await expect(dialog).to_have_count(0)  # gone with what was typed into it
    content = await page.content()
    assert CARD not in content and CARD.replace(" ", "") not in content
    [profile] = (await http.get("/api/profiles")).json()["data"]
    assert profile["cardNumber"] == "•••• 4242"

    await page.get_by_test_id("add-account").click()
    await dialog.get_by_label("Login").fill("ada@example.com")
    await dialog.get_by_label("Password").fill("correct-horse-battery")
    assert await dialog.get_by_label("Password").get_attribute("type") == "password"
    await dialog.get_by_test_id("save").click()
    accounts = page.get_by_test_id("accounts")
    account = accounts.locator("tbody tr").filter(has_text="ada@example.com")
    await expect(account).to_contain_text("demo")
    await expect(account.get_by_test_id("masked")).to_have_text("••••••••")
    await expect(dialog).to_have_count(0)  # gone with what was typed into it
    assert "correct-horse-battery" not in await page.content()

    dialog = await open_new_task(page, url)
    await dialog.get_by_label("Name").fill("With my card")
    await dialog.get_by_label("Product").fill("vinyl-box")
    await choose(page, dialog.get_by_label("Checkout profile"), "Work card · •••• 4242")
    await dialog.get_by_text("Later", exact=True).click()
    await dialog.get_by_test_id("create-task").click()
    await expect(page.locator(".q-notification")).to_contain_text("With my card")
    [listed] = (await http.get("/api/tasks")).json()["data"]
    task: dict[str, Any] = (await http.get(f"/api/tasks/{listed['id']}")).json()
    assert (task["name"], task["profileId"]) == ("With my card", profile["id"])

    await page.goto(f"{url}/settings")  # deleting asks first; the task falls back to the demo profile
    row = page.get_by_test_id("profiles").locator("tbody tr").filter(has_text="Work card")
    await row.get_by_test_id("row-delete").click()
    await page.get_by_test_id("confirm").click()
    await expect(page.get_by_test_id("profiles")).to_contain_text("No profiles yet")
    assert (await http.get(f"/api/tasks/{listed['id']}")).json()["profileId"] is None
