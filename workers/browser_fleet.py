"""The Chromiums of one ``BrowserPool``: which one a new context opens in, and when one goes.

``workers.browser.BrowserPool`` opens and closes a task's pages; this module decides in which
Chromium (``workers.chromium`` launches and kills the process itself):

- one Playwright driver, started with the pool; Chromium launched on first use, under a lock, so
  concurrent first uses launch it once; several contexts may be open in it at once;
- *retired* after ``recycle_after`` contexts, or when its process tree's memory (PSS) is above
  ``memory_limit_mb`` when a context closes: new contexts open in a fresh Chromium, and the
  retired one is closed as soon as its last open context closes;
- relaunched (in the same driver) when it died;
- *condemned* (``condemn``) when it is alive but does not answer: its whole process tree is
  killed at once and the next context opens in a fresh one;
- with ``idle_close_after`` (the web process's preview browser): Chromium and the driver are closed
  after that many seconds without an open context, and started again on the next one.

A context *slot* is taken with ``acquire`` and given back with ``release`` (or ``give_back`` when
no context was opened); the counts are plain integers changed without an await in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from playwright.async_api import Playwright, async_playwright

from workers.chromium import Chromium, launch, pss_mb, rss_mb

log = logging.getLogger(__name__)

CLOSE_TIMEOUT_S = 5.0  # closing a context or a browser; a live one that takes longer is killed


class Fleet:
    """The driver and the Chromiums (current and retiring) of one pool."""

    def __init__(
        self,
        *,
        executable_path: str | None,
        headless: bool = True,
        recycle_after: int = 100,
        memory_limit_mb: int = 1500,
        launch_timeout_ms: float = 30_000,
        sandbox: bool | None = None,
        idle_close_after: float | None = None,
    ) -> None:
        if recycle_after < 1:
            raise ValueError("recycle_after must be at least 1")
        self.executable_path = executable_path
        self.headless = headless
        self.recycle_after = recycle_after
        self.memory_limit_mb = memory_limit_mb
        self.launch_timeout_ms = launch_timeout_ms
        self.sandbox = sandbox
        self.idle_close_after = idle_close_after
        self.current: Chromium | None = None  # where new contexts open
        self._playwright: Playwright | None = None
        self._lock = asyncio.Lock()
        self._all: list[Chromium] = []  # current + retiring ones still open
        self._launches = 0
        self._killed = 0  # browsers condemned as hung
        self._idle_closes = 0
        self._idle_timer: asyncio.TimerHandle | None = None
        self._cleanups: set[asyncio.Task[Any]] = set()
        self.closed = False

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Start the Playwright driver (≈0.4 s). Chromium itself starts on first use."""
        async with self._lock:
            await self._start_driver()

    async def _start_driver(self) -> None:
        if self.closed:
            raise RuntimeError("BrowserPool is closed")
        if self._playwright is None:
            self._playwright = await async_playwright().start()

    async def close(self) -> None:
        """Close every Chromium (open contexts included) and stop the driver. Idempotent."""
        self.closed = True
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        if self._cleanups:  # let contexts being closed right now finish first
            await asyncio.gather(*self._cleanups, return_exceptions=True)
        async with self._lock:
            await self._close_all()

    async def _close_all(self) -> None:
        await asyncio.gather(*(self.close_browser(c) for c in list(self._all)))
        self.current = None
        if self._playwright is not None:
            playwright, self._playwright = self._playwright, None
            with contextlib.suppress(Exception):
                await asyncio.wait_for(playwright.stop(), CLOSE_TIMEOUT_S * 2)

    def track(self, task: asyncio.Future[Any]) -> None:
        """A clean-up running in the background: ``close`` waits for it."""
        self._cleanups.add(task)  # type: ignore[arg-type]
        task.add_done_callback(self._cleanups.discard)  # type: ignore[arg-type]

    # ----------------------------------------------------------------- facts

    @property
    def browser_pid(self) -> int | None:
        current = self.current
        if current is None or current.closed:
            return None
        return current.pid

    @property
    def pids(self) -> list[int]:
        return [c.pid for c in self._all if c.pid is not None and not c.closed]

    @property
    def stats(self) -> dict[str, Any]:
        current = self.current if self.current and not self.current.closed else None
        pid = current.pid if current else None
        return {
            "launches": self._launches,
            "killed": self._killed,
            "tasks_since_launch": current.contexts_total if current else 0,
            "contexts_open": sum(c.contexts_open for c in self._all),
            "browsers": sum(1 for c in self._all if not c.closed),
            "pid": pid,
            "rss_mb": rss_mb(pid) if pid else 0.0,
            "pss_mb": current.pss_mb if current else None,
        }

    # ----------------------------------------------------------------- slots

    async def acquire(self) -> Chromium:
        """Reserve a context slot in the current Chromium, launching one when needed."""
        async with self._lock:
            await self._start_driver()
            current = self.current
            if current is not None and not current.usable():
                if current.dead():
                    log.warning("Chromium pid %s is gone; relaunching", current.pid)
                    current.retiring = True
                    if current.contexts_open == 0:
                        await self.close_browser(current)
                self.current = current = None
            if current is None:
                current = self.current = await self._launch()
            current.contexts_open += 1
            current.contexts_total += 1
            if current.contexts_total >= self.recycle_after:
                current.retiring = True  # serve this one, launch a fresh browser for the next
            return current

    def give_back(self, chromium: Chromium) -> None:
        """``release`` when no context was opened; a browser to close is closed in the background."""
        if self.release(chromium):
            self.track(asyncio.ensure_future(self.close_browser(chromium)))

    def release(self, chromium: Chromium) -> bool:
        """Give back a context slot. True when the browser is retiring (or dead) and now unused:
        the caller closes it (outside the launch lock; no await here, so no lock needed)."""
        chromium.contexts_open -= 1
        self._note_idle()
        if (chromium.retiring or chromium.dead()) and chromium.contexts_open == 0:
            if chromium is self.current:
                self.current = None
            return True
        return False

    def condemn(self, chromium: Chromium, reason: str) -> None:
        """A live Chromium that does not answer: kill its process tree now, use it no more."""
        if chromium.condemned or chromium.closed:
            return
        chromium.condemned = chromium.retiring = True
        if chromium is self.current:
            self.current = None
        self._killed += 1
        killed = chromium.kill()
        log.warning("%s: killed Chromium pid %s (%d processes)", reason, chromium.pid, killed)

    async def weigh(self, chromium: Chromium) -> None:
        """After a context closed: measure the browser's PSS, retire it above the limit."""
        if chromium.retiring or chromium.dead():
            return
        chromium.pss_mb = await asyncio.to_thread(pss_mb, chromium.pid)
        if chromium.pss_mb > self.memory_limit_mb:
            log.info(
                "Chromium pid %s uses %.0f MiB (> %d): retiring it",
                chromium.pid,
                chromium.pss_mb,
                self.memory_limit_mb,
            )
            chromium.retiring = True

    # ----------------------------------------------------------------- idle close

    def _note_idle(self) -> None:
        """With ``idle_close_after``: (re)start the idle clock once no page is open."""
        if self.idle_close_after is None or self.closed:
            return
        if any(c.contexts_open for c in self._all):
            return
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        loop = asyncio.get_running_loop()
        self._idle_timer = loop.call_later(
            self.idle_close_after, lambda: self.track(asyncio.ensure_future(self._close_idle()))
        )

    async def _close_idle(self) -> None:
        async with self._lock:  # acquire takes slots under this lock: nobody opens meanwhile
            if self.closed or any(c.contexts_open for c in self._all) or self._playwright is None:
                return
            await self._close_all()
            self._idle_closes += 1
            log.info("browser idle for %g s: closed (started again on the next page)", self.idle_close_after)

    # ----------------------------------------------------------------- launch / close

    async def launch_check(self) -> None:
        """Launch Chromium now (a worker does this once at start-up): ``BrowserUnavailable`` here
        beats every task burning its attempts on a browser that cannot start. Reserves no context
        slot: the browser serves the first task and counts toward recycling from there."""
        async with self._lock:
            await self._start_driver()
            if self.current is None:
                self.current = await self._launch()

    async def _launch(self) -> Chromium:
        assert self._playwright is not None
        started = time.perf_counter()
        browser, pid = await launch(
            self._playwright,
            self.executable_path,
            headless=self.headless,
            sandbox=self.sandbox,
            timeout_ms=self.launch_timeout_ms,
        )
        self._launches += 1
        chromium = Chromium(browser=browser, pid=pid)
        self._all.append(chromium)
        log.info(
            "launched Chromium %s pid %s in %.2f s (launch #%d)",
            browser.version,
            pid,
            time.perf_counter() - started,
            self._launches,
        )
        return chromium

    async def close_browser(self, chromium: Chromium) -> None:
        # The bookkeeping runs before the first await, so callers need no lock.
        if chromium.closed:
            return
        chromium.closed = True
        with contextlib.suppress(ValueError):
            self._all.remove(chromium)
        if chromium is self.current:
            self.current = None
        await chromium.shut(CLOSE_TIMEOUT_S)
