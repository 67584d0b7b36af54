"""BrowserPool against the real Chromium of this machine: no mocks of the browser."""

from __future__ import annotations

import asyncio
import os
import signal
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import async_playwright

from tests.workers.conftest import CHROMIUM, SHOP_HEADING, chromium_browsers, gone
from workers.browser import BrowserUnavailable, find_chromium
from workers.errors import BrowserLost, PermanentError

pytestmark = pytest.mark.timeout(60)


def test_find_chromium() -> None:
    assert CHROMIUM is not None, "Chromium is installed on this machine"
    assert os.access(CHROMIUM, os.X_OK)
    assert find_chromium(CHROMIUM) == CHROMIUM
    assert find_chromium("/nonexistent/chrome") == CHROMIUM  # a bad setting falls back


def _fake_executable(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)


async def test_find_chromium_prefers_playwrights_own_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path))
    async with async_playwright() as p:
        expected = Path(p.chromium.executable_path)  # where `playwright install chromium` puts it
    assert expected.is_relative_to(tmp_path)
    assert find_chromium() == CHROMIUM  # not downloaded: the system one
    _fake_executable(expected)
    assert find_chromium() == str(expected)
    assert find_chromium(CHROMIUM) == CHROMIUM  # an explicit path still wins


def test_a_headless_pool_prefers_a_headless_shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The headless shell (what Playwright itself launches for headless Chromium) is the browser
    of a headless worker: its one browser process serves every context of the pool at a third
    of the full browser's CPU per purchase (bench/README.md). A headed worker never gets it."""
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path / "playwright"))  # nothing downloaded
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    full = tmp_path / "bin" / "chromium"
    _fake_executable(full)
    assert find_chromium() == str(full)
    shell = tmp_path / "bin" / "chromium-headless-shell"  # Debian's chromium-headless-shell
    shell.write_text("#!/bin/sh\n")
    shell.chmod(0o755)
    assert find_chromium() == str(shell)
    assert find_chromium(headless=True) == str(shell)
    assert find_chromium(headless=False) == str(full)
    assert find_chromium(str(full)) == str(full)  # an explicit path still wins


async def test_playwrights_own_headless_shell_comes_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path))
    async with async_playwright() as p:
        full = Path(p.chromium.executable_path)  # `playwright install chromium` fetches both
    _fake_executable(full)
    revision = full.relative_to(tmp_path).parts[0].removeprefix("chromium-")
    shell = tmp_path / f"chromium_headless_shell-{revision}" / "chrome-headless-shell-linux64"
    shell /= "chrome-headless-shell"  # where `playwright install chromium` puts the shell
    assert find_chromium() == str(full)
    _fake_executable(shell)
    assert find_chromium() == str(shell)
    assert find_chromium(headless=False) == str(full)


async def test_missing_browser_says_how_to_install_one(make_pool: Callable[..., Any]) -> None:
    pool = await make_pool(executable_path="/nonexistent/chrome")
    with pytest.raises(BrowserUnavailable) as info:
        async with pool.page():
            pass
    message = str(info.value)
    assert "/nonexistent/chrome" in message
    assert "apt-get install -y chromium" in message
    assert "make install" in message
    assert "TASKDECK_BROWSER_PATH" in message
    assert pool.stats["launches"] == 0


async def test_launches_lazily_and_loads_a_page(make_pool: Callable[..., Any], site: str) -> None:
    before = chromium_browsers()
    pool = await make_pool()
    assert pool.browser_pid is None
    assert pool.stats["launches"] == 0
    assert chromium_browsers() == before  # the driver runs, Chromium not yet

    async with pool.page() as page:
        await page.goto(site)
        assert await page.text_content("h1") == SHOP_HEADING
        await page.set_content("<p id=x>inline</p>")
        assert await page.text_content("#x") == "inline"
        assert pool.browser_pid in chromium_browsers() - before
        stats = pool.stats
        assert stats["launches"] == 1
        assert stats["contexts_open"] == 1
        assert stats["tasks_since_launch"] == 1
        assert stats["pid"] == pool.browser_pid
        assert stats["rss_mb"] > 10


async def test_each_page_gets_a_fresh_context(make_pool: Callable[..., Any], site: str) -> None:
    pool = await make_pool()
    async with pool.page() as page:
        await page.goto(site)
        await page.evaluate("document.cookie = 'cart=42; path=/'; localStorage.setItem('cart', '42')")
        assert await page.evaluate("document.cookie") == "cart=42"
        first_pid = pool.browser_pid
    async with pool.page() as page:
        await page.goto(site)
        assert await page.evaluate("document.cookie") == ""
        assert await page.evaluate("localStorage.getItem('cart')") is None
        assert await page.context.cookies() == []
        assert pool.browser_pid == first_pid
    assert pool.stats["launches"] == 1


async def test_context_is_closed_after_the_block_also_when_it_raises(make_pool: Callable[..., Any]) -> None:
    pool = await make_pool()
    async with pool.page() as page:
        kept = page
    assert kept.is_closed()
    assert pool.stats["contexts_open"] == 0

    with pytest.raises(ValueError, match="bot bug"):
        async with pool.page() as page:
            kept = page
            raise ValueError("bot bug")
    assert kept.is_closed()

    with pytest.raises(PermanentError):  # a bot's own verdict passes through unchanged
        async with pool.page():
            raise PermanentError("sold out")
    assert pool.stats["contexts_open"] == 0
    assert pool.stats["launches"] == 1


async def test_cancelled_task_still_closes_its_context(make_pool: Callable[..., Any]) -> None:
    pool = await make_pool()
    entered = asyncio.Event()
    pages = []

    async def bot() -> None:
        async with pool.page() as page:
            pages.append(page)
            entered.set()
            await page.wait_for_timeout(30_000)

    running = asyncio.create_task(bot())
    await asyncio.wait_for(entered.wait(), 10)
    running.cancel()  # what the executor does when a cancel is requested
    with pytest.raises(asyncio.CancelledError):
        await running
    assert pages[0].is_closed()
    assert pool.stats["contexts_open"] == 0
    async with pool.page() as page:  # the browser is still fine
        await page.set_content("<p>ok</p>")
    assert pool.stats["launches"] == 1


async def test_concurrent_pages_share_one_lazily_launched_browser(make_pool: Callable[..., Any]) -> None:
    pool = await make_pool()
    all_open = asyncio.Event()
    inside = 0
    seen: list[tuple[int | None, int]] = []

    async def task(n: int) -> str:
        nonlocal inside
        async with pool.page() as page:
            inside += 1
            if inside == 3:
                all_open.set()
            await asyncio.wait_for(all_open.wait(), 10)
            seen.append((pool.browser_pid, pool.stats["contexts_open"]))
            await page.set_content(f"<p>{n}</p>")
            return await page.inner_text("p")

    assert await asyncio.gather(task(1), task(2), task(3)) == ["1", "2", "3"]
    assert pool.stats["launches"] == 1  # three concurrent first uses, one launch
    assert {pid for pid, _ in seen} == {pool.browser_pid}
    assert {n for _, n in seen} == {3}
    assert pool.stats["contexts_open"] == 0


async def test_browser_killed_during_a_task_raises_browser_lost_then_relaunches(
    make_pool: Callable[..., Any], site: str
) -> None:
    pool = await make_pool()
    with pytest.raises(BrowserLost) as info:
        async with pool.page() as page:
            await page.goto(site)
            old_pid = pool.browser_pid
            assert old_pid is not None
            os.kill(old_pid, signal.SIGKILL)
            await page.wait_for_timeout(5_000)  # the bot is waiting when the browser dies
    assert isinstance(info.value.__cause__, PlaywrightError)
    assert await gone(old_pid)

    async with pool.page() as page:
        await page.goto(site)
        assert await page.text_content("h1") == SHOP_HEADING
        assert pool.browser_pid not in (None, old_pid)
    assert pool.stats["launches"] == 2


async def test_browser_killed_between_tasks_is_relaunched(make_pool: Callable[..., Any]) -> None:
    pool = await make_pool()
    async with pool.page():
        old_pid = pool.browser_pid
    assert old_pid is not None
    os.kill(old_pid, signal.SIGKILL)
    assert await gone(old_pid)

    async with pool.page() as page:
        await page.set_content("<p>again</p>")
        assert await page.inner_text("p") == "again"
        assert pool.browser_pid not in (None, old_pid)
    assert pool.stats["launches"] == 2


async def test_recycles_after_n_contexts(make_pool: Callable[..., Any]) -> None:
    pool = await make_pool(recycle_after=2)
    pids = []
    for _ in range(3):
        async with pool.page() as page:
            await page.set_content("<p>x</p>")
            pids.append(pool.browser_pid)
    assert pids[0] == pids[1] != pids[2]
    assert await gone(pids[0])
    assert pool.stats["launches"] == 2
    assert pool.stats["tasks_since_launch"] == 1


async def test_retired_browser_closes_only_after_its_last_context(make_pool: Callable[..., Any]) -> None:
    pool = await make_pool(recycle_after=1)
    async with pool.page() as old_page:
        old_pid = pool.browser_pid
        async with pool.page() as new_page:
            new_pid = pool.browser_pid
            assert new_pid != old_pid
            await old_page.set_content("<p>still here</p>")  # the retired browser still serves
            assert await old_page.inner_text("p") == "still here"
            await new_page.set_content("<p>fresh</p>")
        assert await gone(new_pid)  # retired at once (recycle_after=1) and now unused
        assert not await gone(old_pid, within=0.2)
    assert await gone(old_pid)
    assert pool.stats["browsers"] == 0


async def test_memory_ceiling_recycles_when_the_context_closes(make_pool: Callable[..., Any]) -> None:
    pool = await make_pool(memory_limit_mb=1)
    async with pool.page() as page:
        await page.set_content("<p>heavy</p>")
        first_pid = pool.browser_pid
    assert await gone(first_pid)
    async with pool.page():
        assert pool.browser_pid not in (None, first_pid)
    assert pool.stats["launches"] == 2


async def test_trace_kept_on_failure_or_on_demand(make_pool: Callable[..., Any], tmp_path: Path) -> None:
    pool = await make_pool()

    failed = tmp_path / "t1" / "a1-trace.zip"
    with pytest.raises(RuntimeError):
        async with pool.page(trace="on_failure", trace_path=failed) as page:
            await page.set_content("<button>Buy</button>")
            raise RuntimeError("checkout broke")
    assert zipfile.is_zipfile(failed)

    passed = tmp_path / "t2" / "a1-trace.zip"
    async with pool.page(trace="on_failure", trace_path=passed) as page:
        await page.set_content("<button>Buy</button>")
    assert not passed.exists()

    wanted = tmp_path / "t3" / "a1-trace.zip"
    async with pool.page(trace=True, trace_path=wanted) as page:
        await page.set_content("<button>Buy</button>")
    assert zipfile.is_zipfile(wanted)
    assert "trace.trace" in zipfile.ZipFile(wanted).namelist()

    with pytest.raises(ValueError, match="trace_path"):
        async with pool.page(trace=True):
            pass


async def test_close_leaves_no_chromium_behind(make_pool: Callable[..., Any]) -> None:
    before = chromium_browsers()
    pool = await make_pool(recycle_after=1)
    async with pool.page():
        first = pool.browser_pid
        async with pool.page():  # a second browser, the first one retiring
            second = pool.browser_pid
            assert first != second
            assert {first, second} <= chromium_browsers() - before
            await pool.close()  # shutdown while tasks still hold contexts
    assert await gone(first) and await gone(second)
    assert chromium_browsers() == before
    await pool.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        async with pool.page():
            pass
