"""One Chromium per worker process, a fresh context per task.

``BrowserPool`` owns a Playwright driver and, lazily, one Chromium. Every task gets its own
``BrowserContext`` + ``Page`` from ``pool.page()``, closed when the block ends, whatever happens::

    async with BrowserPool(executable_path=find_chromium(settings.browser_path)) as pool:
        async with pool.page(trace="on_failure", trace_path=store.trace_path(task_id, attempt=1)) as page:
            await bot(page)

Lifecycle of a Chromium:

- launched on first use, under a lock, so concurrent first uses launch it once;
- several contexts may be open in it at once;
- *retired* after ``recycle_after`` contexts, or when its process tree's memory (PSS) is above
  ``memory_limit_mb`` when a context closes: new ``page()`` calls get a fresh Chromium, and the
  retired one is closed as soon as its last open context closes;
- relaunched (in the same Playwright connection) when it died. A block that fails because the
  browser died under it raises ``workers.errors.BrowserLost`` (a ``RetryableError``).

No stealth, fingerprint or bot-detection evasion flags, ever (project rule).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
from playwright.async_api import Browser, BrowserContext, Page, Playwright, async_playwright
from playwright.async_api import Error as PlaywrightError

from workers.errors import BotError, BrowserLost
from workers.redact import Secrets
from workers.tracing import PageGuard, TraceMode, Tracer

try:  # not re-exported by playwright.async_api; a subclass of its Error
    from playwright._impl._errors import TargetClosedError
except ImportError:  # pragma: no cover - older/newer layouts
    TargetClosedError = PlaywrightError  # type: ignore[misc,assignment]

log = logging.getLogger(__name__)

SYSTEM_CHROMIUMS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

# Flags this machine needs (root, closed network). Playwright adds its own defaults on top;
# --no-sandbox only when running as root: BrowserPool._launch passes chromium_sandbox=not root,
# and Playwright adds --no-sandbox exactly when the sandbox is off.
BASE_ARGS = (
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)

CLOSE_TIMEOUT_S = 10.0


def launch_options(
    executable: str, *, headless: bool = True, sandbox: bool | None = None, timeout_ms: float = 30_000
) -> dict[str, Any]:
    """Playwright's ``chromium.launch`` arguments: the one place they are built (workers, the
    image's start-up check and its test all use this).

    ``sandbox`` None: on, unless running as root (Chromium refuses root with a sandbox). The image
    sets ``TASKDECK_BROWSER_SANDBOX=false``: under Docker's default seccomp profile Chromium's
    sandbox cannot create its namespaces, so there the container (non-root user, no added
    capabilities, the default seccomp profile) is the boundary instead (docs/operations.md).
    """
    as_root = hasattr(os, "geteuid") and os.geteuid() == 0
    return {
        "executable_path": executable,
        "headless": headless,
        "args": list(BASE_ARGS),
        "chromium_sandbox": (not as_root) if sandbox is None else (sandbox and not as_root),
        "timeout": timeout_ms,
    }  # bound for closing a context / browser


class BrowserUnavailable(Exception):
    """No Chromium to launch. Install one with `make install` or `apt-get install -y chromium`,
    or point TASKDECK_BROWSER_PATH at a Chromium/Chrome executable."""

    def __init__(self, message: str | None = None) -> None:
        doc = " ".join((self.__doc__ or "").split())
        super().__init__(f"{message} {doc}" if message else doc)


# --------------------------------------------------------------------------- discovery


def _is_executable(path: str | os.PathLike[str]) -> bool:
    p = Path(path)
    return p.is_file() and os.access(p, os.X_OK)


def _playwright_browsers_dir() -> Path:
    env = os.environ.get("PLAYWRIGHT_BROWSERS_PATH")
    if env == "0":  # browsers installed inside the package
        import playwright

        return Path(playwright.__file__).parent / "driver" / "package" / ".local-browsers"
    if env:
        return Path(env)
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "ms-playwright"
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", Path.home())) / "ms-playwright"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ms-playwright"


def _bundled_chromium() -> str | None:
    """Playwright's own Chromium (``playwright install chromium``), if it was downloaded.

    Computed like ``p.chromium.executable_path`` without starting a driver: the revision comes
    from the driver's ``browsers.json``.
    """
    try:
        import json

        from playwright._impl._driver import compute_driver_executable

        _node, cli = compute_driver_executable()
        browsers = json.loads((Path(cli).parent / "browsers.json").read_text())["browsers"]
        revision = next(b["revision"] for b in browsers if b["name"] == "chromium")
    except Exception:  # no driver, unreadable file, unexpected layout
        return None
    base = _playwright_browsers_dir() / f"chromium-{revision}"
    patterns = (
        "chrome-*/chrome",
        "chrome-*/chrome.exe",
        "chrome-*/*.app/Contents/MacOS/*",
    )
    for pattern in patterns:
        for candidate in sorted(base.glob(pattern)):
            if _is_executable(candidate):
                return str(candidate)
    return None


def find_chromium(explicit: str | None = None) -> str | None:
    """Where the Chromium to drive is, or None.

    In order: ``explicit`` (TASKDECK_BROWSER_PATH; a path or a command name) if it exists,
    Playwright's bundled Chromium if it was installed, then the first of chromium,
    chromium-browser, google-chrome, google-chrome-stable on PATH.
    """
    if explicit:
        found = shutil.which(explicit)
        if found:
            return found
        log.warning("browser path %r does not exist or is not executable; looking elsewhere", explicit)
    bundled = _bundled_chromium()
    if bundled:
        return bundled
    for name in SYSTEM_CHROMIUMS:
        found = shutil.which(name)
        if found:
            return found
    return None


# --------------------------------------------------------------------------- processes


def _process_tree(pid: int | None) -> list[psutil.Process]:
    if pid is None:
        return []
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def _rss_mb(pid: int | None) -> float:
    total = 0
    for proc in _process_tree(pid):
        with contextlib.suppress(psutil.Error):
            total += proc.memory_info().rss
    return round(total / 2**20, 1)


def _pss_mb(pid: int | None) -> float:
    """Proportional set size of the tree: shared pages counted once, unlike summed RSS.

    Takes ~0.1 s for a browser with five contexts (it reads smaps): call it in a thread.
    """
    total = 0
    for proc in _process_tree(pid):
        try:
            info = proc.memory_full_info()
            total += getattr(info, "pss", info.rss)
        except psutil.AccessDenied:
            with contextlib.suppress(psutil.Error):
                total += proc.memory_info().rss
        except psutil.Error:
            pass
    return round(total / 2**20, 1)


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _descendants() -> set[int]:
    with contextlib.suppress(psutil.Error):
        return {p.pid for p in psutil.Process().children(recursive=True)}
    return set()


# --------------------------------------------------------------------------- pool


@dataclass(frozen=True)
class PageSession:
    """A task's page and the secret sections it is typed into (``guard.section()``)."""

    page: Page
    guard: PageGuard


@dataclass(eq=False)
class _Chromium:
    """One launched Chromium and what the pool knows about it."""

    browser: Browser
    pid: int | None
    contexts_total: int = 0  # contexts ever opened in it
    contexts_open: int = 0
    retiring: bool = False  # no new contexts; closed when contexts_open drops to 0
    closed: bool = False
    pss_mb: float | None = None  # last measured

    def usable(self) -> bool:
        return not self.retiring and not self.closed and self.browser.is_connected()

    def dead(self) -> bool:
        return not self.browser.is_connected() or (self.pid is not None and not _alive(self.pid))


class BrowserPool:
    """A worker process's Chromium: launched lazily, recycled, relaunched when it dies."""

    def __init__(
        self,
        *,
        executable_path: str | None,
        headless: bool = True,
        recycle_after: int = 100,
        memory_limit_mb: int = 1500,
        launch_timeout_ms: float = 30_000,
        sandbox: bool | None = None,
    ) -> None:
        if recycle_after < 1:
            raise ValueError("recycle_after must be at least 1")
        self.executable_path = executable_path
        self.headless = headless
        self.recycle_after = recycle_after
        self.memory_limit_mb = memory_limit_mb
        self.launch_timeout_ms = launch_timeout_ms
        self.sandbox = sandbox
        self._playwright: Playwright | None = None
        self._lock = asyncio.Lock()
        self._current: _Chromium | None = None
        self._all: list[_Chromium] = []  # current + retiring ones still open
        self._launches = 0
        self._cleanups: set[asyncio.Task[None]] = set()
        self._closed = False

    async def __aenter__(self) -> BrowserPool:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Start the Playwright driver (≈0.4 s). Chromium itself starts on first use."""
        async with self._lock:
            await self._start_driver()

    async def _start_driver(self) -> None:
        if self._closed:
            raise RuntimeError("BrowserPool is closed")
        if self._playwright is None:
            self._playwright = await async_playwright().start()

    async def close(self) -> None:
        """Close every Chromium (open contexts included) and stop the driver. Idempotent."""
        self._closed = True
        if self._cleanups:  # let contexts being closed right now finish first
            await asyncio.gather(*self._cleanups, return_exceptions=True)
        async with self._lock:
            await asyncio.gather(*(self._close_browser(c) for c in list(self._all)))
            self._current = None
            if self._playwright is not None:
                playwright, self._playwright = self._playwright, None
                with contextlib.suppress(Exception):
                    await playwright.stop()

    # ----------------------------------------------------------------- facts

    @property
    def browser_pid(self) -> int | None:
        """Pid of the Chromium that new contexts open in; None before the first launch."""
        current = self._current
        if current is None or current.closed:
            return None
        return current.pid

    @property
    def stats(self) -> dict[str, Any]:
        """What the pool is doing, for the worker's heartbeat row and the queue page.

        ``rss_mb`` is summed over the Chromium process tree (counts shared pages many times);
        ``pss_mb`` is the proportional figure the memory limit is checked against, as last
        measured when a context closed.
        """
        current = self._current if self._current and not self._current.closed else None
        pid = current.pid if current else None
        return {
            "launches": self._launches,
            "tasks_since_launch": current.contexts_total if current else 0,
            "contexts_open": sum(c.contexts_open for c in self._all),
            "browsers": sum(1 for c in self._all if not c.closed),
            "pid": pid,
            "rss_mb": _rss_mb(pid) if pid else 0.0,
            "pss_mb": current.pss_mb if current else None,
        }

    # ----------------------------------------------------------------- pages

    @asynccontextmanager
    async def page(
        self,
        *,
        trace: TraceMode | bool = "off",
        trace_path: Path | None = None,
        default_timeout_ms: float | None = None,
    ) -> AsyncIterator[Page]:
        """A fresh context and page, closed when the block ends (``session`` without the guard)."""
        async with self.session(
            trace=trace, trace_path=trace_path, default_timeout_ms=default_timeout_ms
        ) as session:
            yield session.page

    @asynccontextmanager
    async def session(
        self,
        *,
        trace: TraceMode | bool = "off",
        trace_path: Path | None = None,
        default_timeout_ms: float | None = None,
        secrets: Secrets | None = None,
    ) -> AsyncIterator[PageSession]:
        """A fresh context and page with its secret sections, closed when the block ends.

        ``trace``: ``"off"`` (``False``), ``"on_failure"`` (record; keep the zip at ``trace_path``
        only when the block raised) or ``"always"`` (``True``; keep it whatever happened). Nothing
        typed inside ``session.guard.section()`` is recorded, and a kept trace is checked for
        ``secrets`` (see ``workers.tracing``). A trace cannot be saved when the browser died.

        Raises ``BrowserUnavailable`` when there is no Chromium to launch, and ``BrowserLost``
        (from the original error) when the block failed because Chromium died under it. The
        bot's own ``BotError``s pass through unchanged.
        """
        mode = _trace_mode(trace)
        if mode != "off" and trace_path is None:
            raise ValueError("trace_path is required when tracing")
        chromium, context = await self._open_context()
        tracer = Tracer(context, mode=mode, path=trace_path)
        tracer.secrets = secrets or Secrets()
        failed = False
        try:
            if default_timeout_ms is not None:
                context.set_default_timeout(default_timeout_ms)
            await tracer.start()
            page = await context.new_page()
        except BaseException as exc:
            await self._finish(chromium, context, tracer=tracer, keep_trace=False)
            if isinstance(exc, PlaywrightError) and chromium.dead():
                raise BrowserLost(f"Chromium died while opening a page: {exc}") from exc
            raise
        try:
            yield PageSession(page=page, guard=PageGuard(page, tracer))
        except BaseException as exc:
            failed = True
            if (
                isinstance(exc, Exception)
                and not isinstance(exc, BotError)
                and await self._died(chromium, exc)
            ):
                raise BrowserLost(f"Chromium died during the task: {exc}") from exc
            raise
        finally:
            keep = mode == "always" or (mode == "on_failure" and failed)
            # Shielded: a cancelled task (cancel requested) must still close its context.
            cleanup = asyncio.ensure_future(self._finish(chromium, context, tracer=tracer, keep_trace=keep))
            self._cleanups.add(cleanup)
            cleanup.add_done_callback(self._cleanups.discard)
            await asyncio.shield(cleanup)

    async def _open_context(self) -> tuple[_Chromium, BrowserContext]:
        """A new context in a usable Chromium; relaunches once when the browser turns out dead."""
        for attempt in (1, 2):
            chromium = await self._acquire()
            try:
                context = await chromium.browser.new_context()
            except PlaywrightError as exc:
                if self._release(chromium):
                    await self._close_browser(chromium)
                if attempt == 1 and chromium.dead():
                    log.warning("Chromium pid %s was dead; relaunching", chromium.pid)
                    continue
                if chromium.dead():
                    raise BrowserLost(f"Chromium died while opening a context: {exc}") from exc
                raise
            return chromium, context
        raise AssertionError("unreachable")  # pragma: no cover

    async def _acquire(self) -> _Chromium:
        """Reserve a context slot in the current Chromium, launching one when needed."""
        async with self._lock:
            await self._start_driver()
            current = self._current
            if current is not None and not current.usable():
                if current.dead():
                    log.warning("Chromium pid %s is gone; relaunching", current.pid)
                    current.retiring = True
                    if current.contexts_open == 0:
                        await self._close_browser(current)
                self._current = current = None
            if current is None:
                current = self._current = await self._launch()
            current.contexts_open += 1
            current.contexts_total += 1
            if current.contexts_total >= self.recycle_after:
                current.retiring = True  # serve this one, launch a fresh browser for the next
            return current

    def _release(self, chromium: _Chromium) -> bool:
        """Give back a context slot. True when the browser is retiring (or dead) and now unused:
        the caller closes it (outside the launch lock; no await here, so no lock needed)."""
        chromium.contexts_open -= 1
        if (chromium.retiring or chromium.dead()) and chromium.contexts_open == 0:
            if chromium is self._current:
                self._current = None
            return True
        return False

    async def _finish(
        self, chromium: _Chromium, context: BrowserContext, *, tracer: Tracer, keep_trace: bool
    ) -> None:
        try:
            alive = not chromium.dead()
            await tracer.finish(keep=keep_trace, alive=alive)
            if alive:
                try:
                    await asyncio.wait_for(context.close(), CLOSE_TIMEOUT_S)
                except (PlaywrightError, TimeoutError) as exc:
                    if not chromium.dead():  # a live browser that cannot close a context: retire it
                        log.warning(
                            "closing a context failed (%s); retiring Chromium pid %s", exc, chromium.pid
                        )
                        chromium.retiring = True
            if not chromium.retiring and not chromium.dead():
                chromium.pss_mb = await asyncio.to_thread(_pss_mb, chromium.pid)
                if chromium.pss_mb > self.memory_limit_mb:
                    log.info(
                        "Chromium pid %s uses %.0f MiB (> %d): retiring it",
                        chromium.pid,
                        chromium.pss_mb,
                        self.memory_limit_mb,
                    )
                    chromium.retiring = True
        finally:
            if self._release(chromium):
                await self._close_browser(chromium)

    async def _died(self, chromium: _Chromium, exc: BaseException) -> bool:
        """Whether Chromium is gone. After a ``TargetClosedError`` wait a moment for the
        ``disconnected`` event (here it arrived before the error, but nothing promises that)."""
        if chromium.dead():
            return True
        if not isinstance(exc, TargetClosedError):
            return False
        for _ in range(10):
            await asyncio.sleep(0.05)
            if chromium.dead():
                return True
        return False

    # ----------------------------------------------------------------- launch / close

    def _resolve_executable(self) -> str:
        if self.executable_path:
            found = shutil.which(self.executable_path)
            if not found:
                raise BrowserUnavailable(
                    f"The configured browser {self.executable_path!r} does not exist or is not executable."
                )
            return found
        found = find_chromium()
        if not found:
            raise BrowserUnavailable(
                "No Chromium found (Playwright's own, or chromium/google-chrome on PATH)."
            )
        return found

    async def launch_check(self) -> None:
        """Launch Chromium now (a worker does this once at start-up): ``BrowserUnavailable`` here
        beats every task burning its attempts on a browser that cannot start. Reserves no context
        slot: the browser serves the first task and counts toward recycling from there."""
        async with self._lock:
            await self._start_driver()
            if self._current is None:
                self._current = await self._launch()

    async def _launch(self) -> _Chromium:
        assert self._playwright is not None
        executable = self._resolve_executable()
        before = _descendants()
        started = time.perf_counter()
        try:
            browser = await self._playwright.chromium.launch(
                **launch_options(
                    executable,
                    headless=self.headless,
                    sandbox=self.sandbox,
                    timeout_ms=self.launch_timeout_ms,
                )
            )
        except PlaywrightError as exc:
            # keep the error and the browser's stderr, drop the long "<launching> cmdline" line
            lines = [ln for ln in str(exc).splitlines() if ln.strip() and not ln.startswith("<launching>")]
            detail = "\n".join(lines[:8])
            raise BrowserUnavailable(f"Chromium at {executable} failed to start: {detail}\n") from exc
        pid = await self._find_pid(browser, before)
        self._launches += 1
        chromium = _Chromium(browser=browser, pid=pid)
        self._all.append(chromium)
        log.info(
            "launched Chromium %s pid %s in %.2f s (launch #%d)",
            browser.version,
            pid,
            time.perf_counter() - started,
            self._launches,
        )
        return chromium

    async def _find_pid(self, browser: Browser, before: set[int]) -> int | None:
        """The browser process's pid: asked over CDP, else the new top-level child of the driver."""
        try:
            session = await browser.new_browser_cdp_session()
            try:
                info = await session.send("SystemInfo.getProcessInfo")
            finally:
                with contextlib.suppress(PlaywrightError):
                    await session.detach()
            for proc in info.get("processInfo", []):
                if proc.get("type") == "browser":
                    return int(proc["id"])
        except PlaywrightError as exc:
            log.debug("SystemInfo.getProcessInfo failed: %s", exc)
        new = _descendants() - before
        for pid in sorted(new):
            with contextlib.suppress(psutil.Error):
                proc = psutil.Process(pid)
                if proc.ppid() not in new and "chrom" in " ".join(proc.cmdline()[:1]).lower():
                    return pid
        log.warning("could not find the Chromium pid; memory checks are off for this browser")
        return None

    async def _close_browser(self, chromium: _Chromium) -> None:
        # The bookkeeping runs before the first await, so callers need no lock.
        if chromium.closed:
            return
        chromium.closed = True
        with contextlib.suppress(ValueError):
            self._all.remove(chromium)
        if chromium is self._current:
            self._current = None
        try:
            await asyncio.wait_for(chromium.browser.close(), CLOSE_TIMEOUT_S)
        except (PlaywrightError, TimeoutError) as exc:
            log.warning("closing Chromium pid %s failed (%s); killing it", chromium.pid, exc)
        if _alive(chromium.pid):
            for proc in reversed(_process_tree(chromium.pid)):
                with contextlib.suppress(psutil.Error):
                    proc.kill()
        log.info("closed Chromium pid %s after %d contexts", chromium.pid, chromium.contexts_total)


def _trace_mode(trace: TraceMode | bool) -> TraceMode:
    if trace is True:
        return "always"
    if trace is False:
        return "off"
    if trace not in ("off", "on_failure", "always"):
        raise ValueError(f"trace must be 'off', 'on_failure', 'always' or a bool, not {trace!r}")
    return trace
