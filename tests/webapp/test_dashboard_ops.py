"""The operator's pages in a real Chromium: retry numbering and one action per state (the tasks
list and the task page), failure triage, the queue page's pause, charts and workers."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import Page, expect

from models.db import Database
from tests.conftest import AuthUser
from tests.webapp.test_dashboard import App, app, page, row
from tests.webapp.test_dashboard_purchases import bought

__all__ = ["app", "page"]
pytestmark = pytest.mark.timeout(180)


async def wait_status(app: App, task_id: str, status: str, timeout: float = 60) -> dict[str, Any]:
    from tests.conftest import wait_for

    async def reached() -> bool:
        return (await app.http.get(f"/api/tasks/{task_id}")).json()["status"] == status

    await wait_for(reached, timeout=timeout, what=f"task {task_id} {status}")
    return dict((await app.http.get(f"/api/tasks/{task_id}")).json())


async def failed_task(app: App, name: str) -> dict[str, Any]:
    """A demo-store task that fails for good at its first attempt (price above its limit)."""
    task = await app.create(name, maxPrice=1, maxAttempts=1, trace=True)
    await app.execute(task["id"])
    return await wait_status(app, task["id"], "failed")


async def test_retry_continues_the_numbering_on_the_task_page(app: App, page: Page) -> None:
    task = await failed_task(app, "Too dear")
    await page.goto(f"{app.url}/tasks/{task['id']}")
    await expect(page.get_by_test_id("action-retry")).to_be_visible()
    await expect(page.get_by_test_id("action-start")).to_have_count(0)  # one clear action
    await page.get_by_test_id("action-retry").hover()
    await expect(page.get_by_role("tooltip")).to_contain_text("numbered after the last one")
    await page.get_by_test_id("action-retry").click()
    done = await wait_status(app, task["id"], "failed")
    assert [a["number"] for a in done["attemptHistory"]] == [1, 2]
    attempts = page.get_by_test_id("attempts").locator("tbody tr")
    await expect(attempts).to_have_count(2, timeout=15_000)
    await expect(attempts.nth(0).locator("td").first).to_have_text("2")  # newest first
    await expect(attempts.nth(1).locator("td").first).to_have_text("1")
    await expect(page.get_by_test_id("trace")).to_have_text(
        ["Trace of attempt 1", "Trace of attempt 2"], timeout=15_000
    )
    labels = await page.get_by_text("#2 ·").count()
    assert labels >= 1 and await page.get_by_text("#1 ·").count() >= 1  # each attempt's screenshots
    # the retried run's attempt of its own budget (maxAttempts 1), not the internal ceiling "2 of 2"
    await expect(page.get_by_test_id("fact-attempts")).to_have_text("1 of 1 · 2 in all")
    await page.goto(f"{app.url}/tasks")
    await expect(row(page, "Too dear").locator("td.td-col-attempts")).to_have_text("1/1")


async def test_one_action_per_state_on_the_list(app: App, page: Page) -> None:
    later = await app.create("Never started")
    await app.http.post(f"/api/tasks/{later['id']}/pause")  # paused before it ever started
    queued = await app.create("Was queued", start="at", runAt="2099-01-01T00:00:00Z")
    await app.http.post(f"/api/tasks/{queued['id']}/pause")  # paused with a start time: resumable
    failed = await failed_task(app, "Gave up")
    await page.goto(f"{app.url}/tasks")
    never = row(page, "Never started")
    await expect(never.get_by_test_id("row-start")).to_be_visible()
    await expect(never.get_by_test_id("row-resume")).to_have_count(0)
    await never.get_by_test_id("row-start").hover()
    await expect(page.get_by_role("tooltip")).to_contain_text("never started")
    was = row(page, "Was queued")
    await expect(was.get_by_test_id("row-resume")).to_be_visible()
    await expect(was.get_by_test_id("row-start")).to_have_count(0)
    gave_up = row(page, "Gave up")
    await expect(gave_up.get_by_test_id("row-retry")).to_be_visible()
    await expect(gave_up.get_by_test_id("row-start")).to_have_count(0)
    await expect(gave_up.get_by_test_id("row-cancel")).to_have_count(0)  # failed → cancelled is illegal
    assert failed["status"] == "failed"


async def test_failure_groups_and_a_group_retry(app: App, page: Page) -> None:
    first = await failed_task(app, "Dear one")
    second = await failed_task(app, "Dear two")
    await page.goto(f"{app.url}/tasks")
    await page.get_by_role("link", name="Failures").click()
    await page.wait_for_url("**/failures")
    group = page.get_by_test_id("failure-group")
    await expect(group).to_have_count(1)
    await expect(group.get_by_test_id("failure-count")).to_have_text("× 2")
    await expect(group.get_by_test_id("failure-signature")).to_contain_text(
        "price <n> is above your maximum <n>"
    )
    await expect(group.get_by_test_id("failure-shot")).to_be_visible()  # the newest task's screenshot
    await expect(group.get_by_test_id("group-cancel")).to_be_disabled()  # nothing retrying; failed can't be
    await group.get_by_test_id("group-retry").click()
    await expect(page.get_by_text("2 queued again")).to_be_visible(timeout=30_000)
    for task in (first, second):
        again = await wait_status(app, task["id"], "failed")
        assert [a["number"] for a in again["attemptHistory"]] == [1, 2]
    await expect(group.get_by_test_id("failure-count")).to_have_text("× 2", timeout=15_000)


EXACT = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"  # the page's zone until the browser's is known


async def test_lists_show_relative_times_with_the_exact_one_on_hover(
    app: App, page: Page, db: Database, api_user: AuthUser
) -> None:
    await failed_task(app, "Dear one")
    await bought(db, api_user, "ORD-9", "demo", 28)  # 2026-11-28 12:00 UTC
    listings = [{"store": "demo", "product": "sneaker-drop", "maxPrice": 1}]  # too low: it buys nothing
    assert (await app.http.post("/api/watches", json={"name": "W", "listings": listings})).status_code == 201
    ago = re.compile(r"^(just now|\d+ (min|h|days?) ago)$")

    await page.goto(f"{app.url}/purchases")
    time = page.locator("tr", has_text="ORD-9").get_by_test_id("time-when")
    await expect(time).to_have_text(re.compile(r"^\d+ days? ago$"))
    await expect(time).to_have_attribute("title", "2026-11-28 12:00:00 UTC")

    await page.goto(f"{app.url}/watches")
    created = page.get_by_test_id("created-when")
    await expect(created).to_have_text("just now")
    await expect(created).to_have_attribute("title", re.compile(EXACT))

    await page.goto(f"{app.url}/queue")  # the embedded worker
    for name in ("started", "last_seen"):
        cell = page.get_by_test_id("workers").get_by_test_id(f"{name}-when").first
        await expect(cell).to_have_text(ago)
        await expect(cell).to_have_attribute("title", re.compile(EXACT))

    await page.goto(f"{app.url}/failures")
    seen = page.get_by_test_id("failure-seen")
    await expect(seen).to_contain_text("first seen just now")
    await expect(seen).to_have_attribute("title", re.compile(f"^first {EXACT} · last {EXACT}$"))


async def test_queue_page_pauses_and_resumes_processing(app: App, browser: Any, admin_user: Any) -> None:
    from tests.webapp.test_dashboard import signed_in_page

    async for admin in signed_in_page(browser, app.url, admin_user):
        await admin.goto(f"{app.url}/queue")
        state = admin.get_by_test_id("queue-state")
        await expect(state).to_contain_text("Processing: workers take queued tasks")
        await admin.get_by_test_id("queue-pause").click()  # all stores
        await expect(state).to_contain_text("paused for every store")
        task = await app.create("Held back")
        await app.execute(task["id"])
        await admin.wait_for_timeout(3000)  # a worker would have claimed it by now
        assert (await app.http.get(f"/api/tasks/{task['id']}")).json()["status"] == "queued"
        await admin.get_by_test_id("queue-resume").click()
        await expect(state).to_contain_text("Processing:")
        await wait_status(app, task["id"], "completed")
        await expect(admin.get_by_test_id("count-completed")).to_have_text("1", timeout=30_000)
        await admin.get_by_test_id("chart-range").get_by_text("7d").click()
        await expect(admin.get_by_test_id("times").locator("canvas").first).to_be_visible()
        await expect(admin.get_by_test_id("workers")).to_contain_text("Browser memory")


async def test_a_plain_user_sees_the_hold_but_no_buttons(app: App, page: Page, admin_user: Any) -> None:
    held = await app.http.post("/api/queue/pause", json={"store": "demo"}, headers=admin_user.headers)
    assert held.status_code == 200, held.text
    await page.goto(f"{app.url}/queue")
    await expect(page.get_by_test_id("queue-state")).to_contain_text("Paused for demo")
    await expect(page.get_by_test_id("queue-pause")).to_have_count(0)


async def test_settings_edit_a_profile_and_an_account_secrets_blank_means_unchanged(
    app: App, page: Page
) -> None:
    profile = {
        "name": "Home", "fullName": "Ann Owner", "email": "ann@example.com", "address": "1 Old Way",
        "cardNumber": "4242 4242 4242 4242", "cardExpiry": "12/30", "cardCvc": "123",
    }  # fmt: skip
    created = (await app.http.post("/api/profiles", json=profile)).json()
    account = {"store": "demo", "login": "ann", "password": "s3cret"}
    assert (await app.http.post("/api/accounts", json=account)).status_code == 201
    await page.goto(f"{app.url}/settings")
    await (
        page.get_by_test_id("profiles")
        .locator("tbody tr")
        .filter(has_text="Home")
        .get_by_test_id("row-edit")
        .click()
    )
    dialog = page.locator(".q-dialog")
    await expect(dialog.get_by_label("Profile name")).to_have_value("Home")
    await expect(dialog.get_by_label("Card number")).to_have_value("")  # write-only: never shown
    await dialog.get_by_label("Address").fill("2 New Street")
    await dialog.get_by_test_id("save").click()
    await expect(dialog).to_be_hidden()
    after = (await app.http.get(f"/api/profiles/{created['id']}")).json()
    assert (after["address"], after["cardNumber"], after["cardExpiry"]) == (
        "2 New Street",
        "•••• 4242",
        "12/30",
    )
    await (
        page.get_by_test_id("accounts")
        .locator("tbody tr")
        .filter(has_text="ann")
        .get_by_test_id("row-edit")
        .click()
    )
    edit = page.locator(".q-dialog")
    await expect(edit.get_by_label("Password")).to_have_value("")
    await edit.get_by_label("Login").fill("ann@work")
    await edit.get_by_test_id("save").click()  # password left blank: kept
    await expect(edit).to_be_hidden()
    [stored] = (await app.http.get("/api/accounts")).json()["data"]
    assert (stored["login"], stored["password"]) == ("ann@work", "********")
