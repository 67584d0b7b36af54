"""A sick browser is replaced and every browser bound holds (issue 14), on the real Chromium.

Pool-level proofs use ``BrowserPool`` directly; worker-level ones run tasks on in-process runtimes
with a test store whose bot drives a real page on a local HTTP server.
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from playwright.async_api import TimeoutError as PlaywrightTimeout

from models import queries
from models.access import Viewer
from models.db import Database
from tests.conftest import wait_for
from tests.workers.conftest import (
    SHOP_HEADING,
    Start,
    attempts,
    chromium_browsers,
    create,
    get,
    gone,
    until_status,
)
from workers.bots import registry
from workers.bots.base import BotContext
from workers.bots.base import Purchase as Bought
from workers.browser import BrowserPool
from workers.errors import NotAvailableYet

pytestmark = pytest.mark.timeout(120)

ADMIN = Viewer(user_id=uuid.uuid4(), email="root@example.com", is_admin=True)


def resume(pid: int | None) -> None:
    if pid is not None:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass


# ---- the test store: a bot that drives a real page -----------------------------------------

SITE: dict[str, str] = {}


@pytest.fixture(autouse=True)
def _shop_for_the_bot(site: str) -> None:
    SITE["url"] = site  # the test shop of tests/workers/conftest.py


CHECKS: dict[str, int] = {}
RESTOCK_AFTER = 20


async def page_bot(ctx: BotContext) -> Bought:
    kind = ctx.task.product
    assert ctx.page is not None
    await ctx.progress("open product", 10)
    await ctx.page.goto(SITE["url"])
    if kind == "wait-forever":  # a wait without its own timeout: the context default bounds it
        await ctx.page.wait_for_selector("#never-there")
    if kind == "restock":  # a monitor: two step screenshots a check, in stock after N checks
        await ctx.screenshot("open product")
        await ctx.screenshot("check stock")
        CHECKS[ctx.task.id] = CHECKS.get(ctx.task.id, 0) + 1
        if CHECKS[ctx.task.id] <= RESTOCK_AFTER:
            raise NotAvailableYet(observation="out of stock")
    await ctx.progress("confirm", 90)
    return Bought(
        order_number=f"H-{ctx.task.id[:6]}-{ctx.task.attempt}",
        quantity=ctx.task.quantity,
        unit_price=Decimal("1.00"),
        total=Decimal("1.00") * ctx.task.quantity,
    )


registry.register(registry.StoreBot(name="health-test", run=page_bot))


# ---- pool ----------------------------------------------------------------------------------


async def test_stopped_browser_is_killed_and_replaced(make_pool: Callable[..., Any], site: str) -> None:
    before = chromium_browsers()  # others of this test process (a session's dashboard browser)
    pool: BrowserPool = await make_pool(open_timeout=8)
    async with pool.page() as page:
        await page.goto(site)
    sick = pool.browser_pid
    os.kill(sick, signal.SIGSTOP)  # type: ignore[arg-type]
    try:
        async with pool.page() as page:  # opened in a fresh Chromium, no error for the caller
            await page.goto(site)
            assert await page.text_content("h1") == SHOP_HEADING
        assert pool.browser_pid != sick
        assert await gone(sick), "the stopped Chromium was killed"
        assert pool.stats["killed"] == 1 and pool.stats["contexts_open"] == 0
    finally:
        resume(sick)
    await pool.close()
    assert chromium_browsers() - before == set(), "no browser process left behind"


async def test_cancelled_open_gives_the_slot_back_and_a_late_context_is_closed(
    make_pool: Callable[..., Any], site: str
) -> None:
    pool: BrowserPool = await make_pool(open_timeout=60)
    async with pool.page() as page:
        await page.goto(site)
    pid = pool.browser_pid
    browser = pool.fleet.current.browser  # type: ignore[union-attr]
    os.kill(pid, signal.SIGSTOP)  # type: ignore[arg-type]

    async def open_one() -> None:
        async with pool.page():
            raise AssertionError("never reached: cancelled while the context opens")

    opening = asyncio.create_task(open_one())
    try:
        await asyncio.sleep(1.0)
        assert pool.stats["contexts_open"] == 1
        opening.cancel()
        with pytest.raises(asyncio.CancelledError):
            await opening
        assert pool.stats["contexts_open"] == 0, "the cancelled opener gave its slot back"
    finally:
        resume(pid)

    async def no_contexts() -> bool:
        return not browser.contexts

    await wait_for(no_contexts, timeout=10, what="the context created late to be closed")
    async with pool.page() as page:  # the same browser still serves
        await page.goto(site)
    assert pool.browser_pid == pid


async def test_step_timeout_is_the_contexts_default_for_actions_and_navigation(
    make_pool: Callable[..., Any], site: str
) -> None:
    pool: BrowserPool = await make_pool()
    async with pool.page(default_timeout_ms=1500) as page:
        await page.goto(site)
        with pytest.raises(PlaywrightTimeout, match="1500ms"):
            await page.wait_for_selector("#never-there")
        with pytest.raises(PlaywrightTimeout, match="1500ms"):
            await page.goto(site + "slow")


# ---- worker --------------------------------------------------------------------------------


async def test_worker_replaces_a_stopped_browser_without_spending_attempts(
    db: Database, runtimes: Start, site: str
) -> None:
    before = chromium_browsers()  # others of this test process (a session's dashboard browser)
    rt = await runtimes(worker_concurrency=2)
    first = await create(db, rt, store="health-test", product="ok")
    await until_status(db, first.id, "completed", timeout=60)
    assert rt.browser is not None
    sick = rt.browser.browser_pid
    os.kill(sick, signal.SIGSTOP)  # type: ignore[arg-type]
    try:
        tasks = [await create(db, rt, store="health-test", product="ok") for _ in range(2)]
        for task in tasks:
            done = await until_status(db, task.id, "completed", "failed", timeout=90)
            assert done.status == "completed", done.error
            assert done.attempt == 1, "no attempt spent on the sick browser"
            assert [a.outcome for a in await attempts(db, task.id)] == ["completed"]
        assert await gone(sick), "the stopped Chromium was killed"
        assert rt.browser.browser_pid != sick
    finally:
        resume(sick)
    await rt.stop(grace=0)
    assert chromium_browsers() - before == set(), "no browser process left behind"


async def test_bot_wait_without_a_timeout_ends_at_the_step_timeout(
    db: Database, runtimes: Start, site: str
) -> None:
    rt = await runtimes(step_timeout=2)
    task = await create(db, rt, store="health-test", product="wait-forever", max_attempts=1)
    failed = await until_status(db, task.id, "failed", timeout=60)
    error = failed.error or ""
    assert "2000ms" in error, error  # Playwright's own 30 s default would say 30000ms
    assert "\n" not in error and "Call log" not in error, "one line, no Playwright call log"
    assert rt.artifacts is not None
    names = [a.name for a in rt.artifacts.list(str(task.id)) if a.kind == "screenshot"]
    assert not [n for n in names if "failure" in n], "no failure screenshot after the page timed out"


# ---- the hard bot timeout ------------------------------------------------------------------

RELEASE = asyncio.Event()


async def stubborn_bot(ctx: BotContext) -> Bought:
    """Swallows every cancellation until the test lets it go (a bot that never ends by itself)."""
    await ctx.progress("checkout", 50)
    if ctx.task.product == "past-order":
        await ctx.checkpoint("place-order")
    while not RELEASE.is_set():
        try:
            await asyncio.sleep(0.1)
        except asyncio.CancelledError:
            continue
    raise RuntimeError("released")


registry.register(registry.StoreBot(name="health-stubborn", run=stubborn_bot, needs_browser=False))


@pytest.fixture
def release_stubborn_bots() -> Iterator[None]:
    RELEASE.clear()
    yield
    RELEASE.set()


async def test_bot_ignoring_cancellation_is_abandoned_at_the_bot_timeout(
    db: Database, runtimes: Start, release_stubborn_bots: None
) -> None:
    rt = await runtimes(bot_timeout=2)
    task = await create(db, rt, store="health-stubborn", product="plain", max_attempts=1)
    failed = await until_status(db, task.id, "failed", timeout=30)
    assert "timed out after 2 s" in (failed.error or ""), failed.error
    assert [a.outcome for a in await attempts(db, task.id)] == ["failed"]

    async def slot_free() -> bool:
        return not rt.running and rt._free == rt.settings.worker_concurrency

    await wait_for(slot_free, timeout=10, what="the slot to be free again")


async def test_abandoned_bot_past_the_order_checkpoint_is_never_a_plain_failure(
    db: Database, runtimes: Start, release_stubborn_bots: None
) -> None:
    rt = await runtimes(bot_timeout=2, order_check_tries=1)
    task = await create(db, rt, store="health-stubborn", product="past-order", max_attempts=1)
    settled = await until_status(db, task.id, "unknown", "failed", "completed", timeout=30)
    assert settled.status == "unknown", settled.error


# ---- monitors: a check is not an attempt ---------------------------------------------------


@pytest.mark.timeout(480)
async def test_monitor_through_20_checks_keeps_one_screenshot_no_trace_no_attempts(
    db: Database, runtimes: Start, site: str
) -> None:
    rt = await runtimes()
    assert rt.artifacts is not None
    task = await create(db, rt, store="health-test", product="restock", mode="monitor", check_every=0.5)
    seen_files: set[str] = set()

    async def checked(n: int) -> bool:
        current = await get(db, task.id)
        files = {a.name for a in rt.artifacts.list(str(task.id))}  # type: ignore[union-attr]
        after = await get(db, task.id)  # the files were listed while this one check waited
        if current.status == after.status == "scheduled" and current.checks == after.checks:
            seen_files.update(files)
            assert len(files) <= 1, files  # at most one screenshot while it waits, never a trace
            assert current.error is None, current.error
            async with db.session() as session:
                history = await queries.task_attempts(session, task.id, viewer=ADMIN)
            assert history == [], "a check is not an attempt"
        return current.checks >= n

    await wait_for(lambda: checked(5), timeout=90, what="5 checks")
    waiting = await get(db, task.id)
    assert waiting.last_check == "out of stock" and waiting.attempt == 0
    done = await until_status(db, task.id, "completed", timeout=420)
    assert done.checks == RESTOCK_AFTER + 1
    assert [a.outcome for a in await attempts(db, task.id)] == ["completed"]
    assert not [n for n in seen_files if n.endswith(".zip")], "no trace while waiting"
    shots = [a for a in rt.artifacts.list(str(task.id)) if a.kind == "screenshot"]
    assert len(shots) <= 3, [a.name for a in shots]  # the last wait's one + the buying check's two
