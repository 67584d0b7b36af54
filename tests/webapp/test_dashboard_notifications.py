"""In Chromium: the header's bell counts the signed-in user's failed task (and only theirs), and
the Settings page's Webhooks card makes a hook (secret shown once), sends a signed test to a real
HTTP server, and shows the delivery log with its status code."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.async_api import Browser, expect

from models import claims, outcomes
from models.db import Database
from models.states import TaskStatus
from tests.conftest import REDIS_URL, AuthUser, StartWebapp, free_port, sign_in
from tests.webhook_receiver import Receiver
from workers.webhooks import SIGNATURE_HEADER, verify


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(free_port()).start()
    yield server
    server.stop()


async def test_bell_counts_your_failed_task_and_the_webhooks_card_sends_a_signed_test(
    browser: Browser,
    start_webapp: StartWebapp,
    db: Database,
    pg_url: str,
    redis_queue: str,
    api_user: AuthUser,
    second_user: AuthUser,
    receiver: Receiver,
) -> None:
    # Redis queue and no worker: this test records the outcome itself, as a worker would
    web = await start_webapp(DATABASE_URL=pg_url, REDIS_URL=REDIS_URL, TASKDECK_QUEUE_NAME=redis_queue)
    url = web.url or ""
    mine = await browser.new_context(viewport={"width": 1440, "height": 900})
    theirs = await browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        page = await mine.new_page()
        await sign_in(page, url, api_user)
        other = await theirs.new_page()
        await sign_in(other, url, second_user)
        for p in (page, other):
            await p.goto(f"{url}/tasks")
            await expect(p.get_by_test_id("bell")).to_be_visible()
            await expect(p.get_by_test_id("bell-count")).to_be_hidden()

        async with httpx.AsyncClient(base_url=url, timeout=15, headers=api_user.headers) as http:
            made = await http.post("/api/tasks", json={"name": "Bell drop", "store": "noop", "product": "x"})
            assert made.status_code == 201, made.text
        async with db.begin() as session:
            task = await claims.claim_next(session, worker_id="test-worker")
        assert task is not None and str(task.id) == made.json()["id"]
        async with db.begin() as session:
            await outcomes.record_outcome(
                session,
                task=task,
                worker_id="test-worker",
                to=TaskStatus.FAILED,
                outcome="failed",
                error="sold out",
            )

        await expect(page.get_by_test_id("bell-count")).to_have_text("1", timeout=15_000)
        await expect(page.get_by_text("Task “Bell drop” failed")).to_be_visible()  # the toast
        await page.get_by_test_id("bell").click()
        note = page.get_by_test_id("notification")
        await expect(note).to_have_count(1)
        await expect(note).to_contain_text("Bell drop")
        await expect(page.get_by_test_id("bell-count")).to_be_hidden()  # read
        await expect(other.get_by_test_id("bell-count")).to_be_hidden()  # not theirs
        await page.keyboard.press("Escape")

        # the Webhooks card
        await page.goto(f"{url}/settings")
        await page.get_by_test_id("new-webhook").click()
        dialog = page.get_by_test_id("webhook-dialog")
        await dialog.get_by_label("URL").fill("not a url")
        await dialog.get_by_test_id("webhook-create").click()
        await expect(dialog.get_by_text("URL", exact=False).first).to_be_visible()
        await expect(dialog.get_by_test_id("webhook-secret")).to_have_count(0)
        await dialog.get_by_label("URL").fill(receiver.url)
        await dialog.get_by_test_id("webhook-create").click()
        secret_box = dialog.get_by_test_id("webhook-secret")
        await expect(secret_box).to_have_value(re.compile(r"^whsec_[\w-]{20,}$"))
        secret = await secret_box.input_value()
        await dialog.get_by_test_id("webhook-secret-done").click()
        await expect(dialog).to_have_count(0)
        row = page.get_by_test_id("webhooks").locator("tbody tr").filter(has_text=str(receiver.port))
        await expect(row).to_have_count(1)
        await expect(row).to_contain_text("task.failed, purchase.created")
        await row.get_by_test_id("webhook-test").click()
        await expect(page.get_by_text("Test delivered (HTTP 200)")).to_be_visible(timeout=15_000)
        (got,) = receiver.received
        assert verify(secret, got.headers[SIGNATURE_HEADER], got.body)
        await row.get_by_test_id("webhook-log").click()
        log = page.get_by_test_id("webhook-deliveries")
        await expect(log.locator("tbody tr")).to_have_count(1)
        await expect(log.locator("tbody tr")).to_contain_text("webhook.test")
        await expect(log.locator("tbody tr")).to_contain_text("200")

        # the other user's Settings page does not list it
        await other.goto(f"{url}/settings")
        await expect(other.get_by_test_id("webhooks")).to_contain_text("No webhooks yet")
    finally:
        await mine.close()
        await theirs.close()
