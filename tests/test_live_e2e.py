"""Issue 10 on the real stack: watch the bot work (live view), and take over when it asks.

A webapp process and a `taskiq worker` process on Postgres and Redis, the bot in Chromium buying in
the demo store, and the task page open in the session's Chromium (a context per test).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from playwright.async_api import expect
from sqlalchemy import func, select

from models.live_keys import LiveKeys
from models.tables import Purchase
from tests.conftest import REDIS_URL, AuthUser, sign_in, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]  # real processes on a loaded machine

FAST = {
    "TASKDECK_HEARTBEAT_TIMEOUT": 3,  # a wait for a person outlives this: the heartbeat must go on
    "TASKDECK_ORDER_CHECK_INTERVAL": 0.3,
}
VIEWPORT = {"width": 1280, "height": 720}  # Playwright's default: the bot's page


@pytest.fixture
async def live(open_stack: Any, redis_queue: str) -> AsyncIterator[Any]:
    """The stack, a Redis client, and the keys of a task's live view."""
    redis = aioredis.from_url(REDIS_URL)
    async with open_stack(**FAST) as s:
        s.redis = redis  # type: ignore[attr-defined]
        s.keys = lambda task_id: LiveKeys.of(redis_queue, task_id)  # type: ignore[attr-defined]
        yield s
    await redis.aclose()


async def produced(stack: Any, task_id: str) -> tuple[int, bool]:
    """(frames the worker relayed so far, whether it is casting now)."""
    state = await stack.redis.hgetall(stack.keys(task_id).state)
    return int(state.get(b"produced") or 0), state.get(b"casting") == b"1"


async def frame(http: httpx.AsyncClient, url: str, task_id: str, headers: dict[str, str]) -> httpx.Response:
    return await http.get(f"{url}/api/tasks/{task_id}/live/frame", headers=headers)


async def open_task_page(browser: Any, stack: Any, user: AuthUser, task_id: str) -> tuple[Any, Any]:
    context = await browser.new_context(viewport=VIEWPORT)
    page = await context.new_page()
    await sign_in(page, stack.url, user)
    await page.goto(f"{stack.url}/tasks/{task_id}")
    return context, page


async def test_frames_arrive_while_watched_and_stop_after_the_viewer_leaves(
    live: Any, browser: Any, api_user: AuthUser, second_user: AuthUser, admin_user: AuthUser
) -> None:
    live.worker()
    await live.product("sneaker-drop", delayMs=4000)  # every store page takes 4 s: a slow purchase
    task = await live.create()
    task_id = task["id"]
    owner = api_user.headers
    async with httpx.AsyncClient(timeout=15) as http:
        assert (await frame(http, live.url, task_id, owner)).status_code == 404  # never a frame yet
        await live.execute(task_id)
        await live.wait(task_id, "running")
        context, page = await open_task_page(browser, live, api_user, task_id)
        # frames arrive on the open page: its image is served from the frame route
        image = page.locator('[data-testid="live-image"] img')
        src = re.compile(rf"^/api/tasks/{task_id}/live/frame\?n=\d+$")
        await expect(image).to_have_attribute("src", src, timeout=30_000)
        numbers: set[str] = set()

        async def two_frames() -> bool:
            r = await frame(http, live.url, task_id, owner)
            if r.status_code == 200:
                assert r.headers["content-type"] == "image/jpeg" and r.content[:2] == b"\xff\xd8"
                numbers.add(r.headers["x-frame-number"])
            return len(numbers) >= 2

        await wait_for(two_frames, timeout=60, interval=0.3, what="two different frames")
        # the owner and an admin may watch; another user gets what an unknown id gets
        assert (await frame(http, live.url, task_id, second_user.headers)).status_code == 404
        assert (await frame(http, live.url, task_id, admin_user.headers)).status_code == 200
        # the viewer leaves: within seconds the worker stops producing frames, while the bot goes on
        await context.close()

        async def stopped() -> bool:
            return not (await produced(live, task_id))[1]

        await wait_for(stopped, timeout=30, interval=0.2, what="the screencast to stop")
        count, _ = await produced(live, task_id)
        still_running = (await live.task(task_id))["status"] == "running"
        done = await live.wait(task_id, "completed", "failed", timeout=90)
    assert done["status"] == "completed", done
    assert still_running, "the purchase ended before the viewer left; the proof needs it to go on"
    assert (await produced(live, task_id)) == (count, False)  # no frame after the viewer left
    async with httpx.AsyncClient(timeout=15) as http:  # the last frame stays after the task ended
        last = await frame(http, live.url, task_id, owner)
    assert last.status_code == 200 and last.headers["content-type"] == "image/jpeg"


async def test_no_frame_is_captured_while_the_card_is_typed(
    live: Any, browser: Any, api_user: AuthUser
) -> None:
    live.worker()
    await live.product("sneaker-drop", delayMs=3000)  # the card form's submit takes 3 s
    task = await live.create()
    task_id = task["id"]
    stream = live.keys(task_id).frames
    seen: list[str] = []

    async def read_all() -> None:  # every entry of the frame stream, in order, as it is written
        last = "0-0"
        while True:
            found = await live.redis.xread({stream: last}, block=500)
            for _key, entries in found or []:
                for entry_id, fields in entries:
                    last = entry_id.decode()
                    seen.append(fields[b"kind"].decode())

    reader = asyncio.create_task(read_all())
    try:
        await live.execute(task_id)
        await live.wait(task_id, "running")
        context, page = await open_task_page(browser, live, api_user, task_id)
        try:
            # while the bot types the card, the page says so instead of showing it
            secret = page.get_by_test_id("live-secret")
            await expect(secret).to_be_visible(timeout=60_000)
            await expect(secret).to_have_text("filling payment details")
            done = await live.wait(task_id, "completed", "failed", timeout=90)
            assert done["status"] == "completed", done
        finally:
            await context.close()
    finally:
        reader.cancel()
    assert "pause" in seen and "resume" in seen, seen
    pause, resume = seen.index("pause"), seen.index("resume")
    assert "frame" in seen[:pause], seen  # frames came before the card form was filled in
    assert seen[pause + 1 : resume] == [], seen  # and none while it was typed and submitted


async def confirm_page_targets(browser: Any, store: str) -> dict[str, tuple[float, float]]:
    """Where the checkbox and the button of "Confirm it's you" are, as fractions of the page."""
    context = await browser.new_context(viewport=VIEWPORT)
    try:
        page = await context.new_page()
        await page.goto(f"{store}/products/sneaker-drop")
        await page.click("#add-to-cart")
        await page.click("#checkout")
        for name, value in {
            "full_name": "Probe",
            "email": "probe@example.test",
            "address": "1 Probe St",
            "card_number": "4242424242424242",
            "card_expiry": "12/30",
            "card_cvc": "123",
            "reference": f"probe-{uuid.uuid4()}",
        }.items():
            await page.fill(f"input[name={name}]", value)
        await page.click("#place-order")
        await expect(page.get_by_role("heading", name="Confirm it's you")).to_be_visible()
        targets = {}
        for name in ("#confirm-me", "#confirm-order"):
            box = await page.locator(name).bounding_box()
            assert box is not None
            targets[name] = (
                (box["x"] + box["width"] / 2) / VIEWPORT["width"],
                (box["y"] + box["height"] / 2) / VIEWPORT["height"],
            )
        return targets
    finally:
        await context.close()


async def test_a_person_confirms_through_the_live_view_and_the_bot_completes(
    live: Any, browser: Any, api_user: AuthUser, second_user: AuthUser, admin_user: AuthUser
) -> None:
    live.worker()
    await live.product("sneaker-drop", requiresConfirmation=True)
    targets = await confirm_page_targets(browser, live.store)
    task = await live.create()
    task_id = task["id"]
    await live.execute(task_id)
    waiting = await live.wait(task_id, "action_needed", "failed", "completed", timeout=60)
    assert waiting["status"] == "action_needed", waiting
    assert waiting["error"] == "The store asks to confirm it's you"
    assert any(e["status"] == "action_needed" and e["kind"] == "state" for e in waiting["events"])
    context, page = await open_task_page(browser, live, api_user, task_id)
    try:
        await expect(page.get_by_test_id("attention-reason")).to_have_text(
            "The store asks to confirm it's you", timeout=30_000
        )
        image = page.locator('[data-testid="live-image"] img')
        await wait_for(  # the live view shows the bot's page (a late viewer gets a frame at once)
            lambda: image.evaluate("img => img.complete && img.naturalWidth > 0"),
            timeout=30,
            what="a live frame on the page",
        )
        await page.get_by_test_id("take-over").click()
        await expect(page.get_by_test_id("hand-back")).to_be_visible()
        async with httpx.AsyncClient(timeout=15) as http:
            takeover = f"{live.url}/api/tasks/{task_id}/takeover"
            say = f"{live.url}/api/tasks/{task_id}/input"
            click = {"type": "click", "x": 0.5, "y": 0.5}
            assert (await http.post(takeover, headers=second_user.headers)).status_code == 404
            assert (
                await http.post(takeover, headers=admin_user.headers)
            ).status_code == 409  # one controller
            assert (await http.post(say, json=click, headers=admin_user.headers)).status_code == 409
        # the person ticks the box and presses the button, through the live image
        for target in ("#confirm-me", "#confirm-order"):
            box = await image.bounding_box()
            assert box is not None
            fx, fy = targets[target]
            await page.mouse.click(box["x"] + fx * box["width"], box["y"] + fy * box["height"])
        orders = await wait_for(lambda: live.orders(task_id), timeout=30, what="the order placed by hand")
        await page.get_by_test_id("hand-back").click()
        done = await live.wait(task_id, "completed", "failed", timeout=60)
    finally:
        await context.close()
    assert done["status"] == "completed", done
    assert len(orders) == 1 and await live.orders(task_id) == orders  # exactly one order
    assert done["result"]["orderNumber"] == orders[0]["orderNumber"]
    assert [a["outcome"] for a in done["attemptHistory"]] == ["completed"]  # never rescued
    async with live.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Purchase)) == 1


async def test_left_unattended_the_task_fails_with_a_clear_message(live: Any) -> None:
    live.worker(TASKDECK_ATTENTION_TIMEOUT=6)  # twice the heartbeat timeout: the wait keeps its lease
    await live.product("sneaker-drop", requiresConfirmation=True)
    task = await live.create()
    await live.execute(task["id"])
    await live.wait(task["id"], "action_needed", timeout=60)
    done = await live.wait(task["id"], "failed", "completed", "unknown", "queued", timeout=60)
    assert done["status"] == "failed", done
    assert done["error"].startswith("nobody took over within 6 s (The store asks to confirm it's you)")
    assert [a["outcome"] for a in done["attemptHistory"]] == ["failed"]  # not rescued meanwhile
    assert await live.orders(task["id"]) == []


async def test_finished_by_hand_over_the_api(live: Any, api_user: AuthUser) -> None:
    live.worker()
    await live.product("sneaker-drop", requiresConfirmation=True)
    task = await live.create()
    task_id = task["id"]
    await live.execute(task_id)
    await live.wait(task_id, "action_needed", timeout=60)
    base = f"{live.url}/api/tasks/{task_id}"
    text = {"type": "text", "text": "never-stored-7731"}
    assert (await live.http.post(f"{base}/input", json=text)).status_code == 409  # no lease yet
    lease = await live.http.post(f"{base}/takeover")
    assert lease.status_code == 200 and lease.json()["controller"] == str(api_user.id)
    assert (await live.http.post(f"{base}/input", json={"type": "click", "x": 2, "y": 0})).status_code == 422
    assert (await live.http.post(f"{base}/input", json=text)).status_code == 202
    assert (await live.http.post(f"{base}/finish", json={"orderNumber": " "})).status_code == 422
    finished = await live.http.post(f"{base}/finish", json={"orderNumber": "BY-HAND-1"})
    assert finished.status_code == 200 and finished.json()["status"] == "completed", finished.text

    async def let_go() -> bool:  # the waiting run stops (and drops the lease) without writing
        return not await live.redis.exists(live.keys(task_id).control)

    await wait_for(let_go, timeout=30, what="the waiting run to let go")
    done = await live.task(task_id)
    assert done["result"] == {"orderNumber": "BY-HAND-1", "finishedByHand": True}
    assert (await live.http.post(f"{base}/finish", json={"orderNumber": "BY-HAND-2"})).status_code == 409
    async with live.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Purchase)) == 1
    assert "never-stored-7731" not in str(done["events"])
