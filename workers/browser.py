"""One Chromium per worker process, a fresh context per task.

``BrowserPool`` owns a Playwright driver and, lazily, one Chromium. Every task gets its own
``BrowserContext`` + ``Page`` from ``pool.page()``, closed when the block ends, whatever happens::

    async with BrowserPool(executable_path=find_chromium(settings.browser_path)) as pool:
        async with pool.page(trace="on_failure", trace_path=store.trace_path(task_id, attempt=1)) as page:
            await bot(page)

Which Chromium a context opens in — launched lazily, retired after ``recycle_after`` contexts or
above ``memory_limit_mb``, relaunched when it died, killed when it hangs, closed when idle — is
``workers.browser_fleet``'s; launching and killing the process is ``workers.chromium``'s. This
module opens and closes a task's page:

- a block that fails because the browser died under it raises ``workers.errors.BrowserLost``
  (a ``RetryableError``);
- a Chromium that is alive but does not answer is condemned (killed at once, its whole process
  tree): opening a context or a page that takes longer than ``open_timeout``, a context that
  cannot be closed, or a failed block after which the browser does not answer a short probe.
  Opening a page retries once in a fresh browser, so a task spends no attempt on a sick browser;
- every step of opening a page is guarded: whatever ends it (an error, a timeout, a
  cancellation) gives the slot back, and a context that arrives after its opener gave up is
  closed on arrival.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from playwright.async_api import BrowserContext, Page
from playwright.async_api import Error as PlaywrightError

from workers.browser_fleet import CLOSE_TIMEOUT_S, Fleet
from workers.chromium import (
    BASE_ARGS,
    SYSTEM_CHROMIUMS,
    BrowserUnavailable,
    Chromium,
    find_chromium,
    launch_options,
)
from workers.errors import BotError, BrowserLost
from workers.redact import Secrets
from workers.tracing import PageGuard, TraceMode, Tracer

try:  # not re-exported by playwright.async_api; a subclass of its Error
    from playwright._impl._errors import TargetClosedError
except ImportError:  # pragma: no cover - older/newer layouts
    TargetClosedError = PlaywrightError  # type: ignore[misc,assignment]

log = logging.getLogger(__name__)

__all__ = [  # what other modules import from here (the process side lives in workers.chromium)
    "BASE_ARGS",
    "SYSTEM_CHROMIUMS",
    "BrowserPool",
    "BrowserUnavailable",
    "PageSession",
    "find_chromium",
    "launch_options",
]

OPEN_TIMEOUT_S = 10.0  # opening a context or a page; longer: the browser is killed and replaced
PROBE_TIMEOUT_S = 3.0  # after a failed block: a browser that does not answer this fast is killed

T = TypeVar("T")


class _Hung(Exception):
    """Chromium is alive but did not answer within a bound (internal: becomes ``BrowserLost``)."""


# --------------------------------------------------------------------------- pool


@dataclass(frozen=True)
class PageSession:
    """A task's page and the secret sections it is typed into (``guard.section()``)."""

    page: Page
    guard: PageGuard


class BrowserPool:
    """A worker process's Chromium: launched lazily, recycled, relaunched when it dies or hangs."""

    def __init__(
        self,
        *,
        executable_path: str | None,
        headless: bool = True,
        recycle_after: int = 100,
        memory_limit_mb: int = 1500,
        launch_timeout_ms: float = 30_000,
        sandbox: bool | None = None,
        open_timeout: float = OPEN_TIMEOUT_S,
        idle_close_after: float | None = None,
    ) -> None:
        self.fleet = Fleet(
            executable_path=executable_path,
            headless=headless,
            recycle_after=recycle_after,
            memory_limit_mb=memory_limit_mb,
            launch_timeout_ms=launch_timeout_ms,
            sandbox=sandbox,
            idle_close_after=idle_close_after,
        )
        self.open_timeout = open_timeout

    async def __aenter__(self) -> BrowserPool:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Start the Playwright driver (≈0.4 s). Chromium itself starts on first use."""
        await self.fleet.start()

    async def close(self) -> None:
        """Close every Chromium (open contexts included) and stop the driver. Idempotent."""
        await self.fleet.close()

    async def launch_check(self) -> None:
        """Launch Chromium now (a worker does this once at start-up): ``BrowserUnavailable`` here
        beats every task burning its attempts on a browser that cannot start."""
        await self.fleet.launch_check()

    @property
    def browser_pid(self) -> int | None:
        """Pid of the Chromium that new contexts open in; None before the first launch."""
        return self.fleet.browser_pid

    @property
    def pids(self) -> list[int]:
        """Pids of every Chromium the pool still holds (current and retiring)."""
        return self.fleet.pids

    @property
    def stats(self) -> dict[str, Any]:
        """What the pool is doing, for the worker's heartbeat row and the queue page.

        ``rss_mb`` is summed over the Chromium process tree (counts shared pages many times);
        ``pss_mb`` is the proportional figure the memory limit is checked against, as last
        measured when a context closed. ``killed``: browsers killed because they hung.
        """
        return self.fleet.stats

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
        ``default_timeout_ms``: the context's default for every action and every navigation.

        Raises ``BrowserUnavailable`` when there is no Chromium to launch, and ``BrowserLost``
        (from the original error) when the block failed because Chromium died or hung under it.
        The bot's own ``BotError``s pass through unchanged.
        """
        mode = _trace_mode(trace)
        if mode != "off" and trace_path is None:
            raise ValueError("trace_path is required when tracing")
        chromium, context, tracer, page = await self._open(
            mode, trace_path, default_timeout_ms, secrets or Secrets()
        )
        failed = False
        try:
            yield PageSession(page=page, guard=PageGuard(page, tracer))
        except BaseException as exc:
            failed = True
            if (
                isinstance(exc, Exception)
                and not isinstance(exc, BotError)
                and await self._died(chromium, exc)
            ):
                raise BrowserLost(f"Chromium died during the task: {_first_line(exc)}") from exc
            raise
        finally:
            keep = mode == "always" or (mode == "on_failure" and failed)
            # Shielded: a cancelled task (cancel requested) must still close its context.
            await self._finish_shielded(chromium, context, tracer=tracer, keep_trace=keep, failed=failed)

    async def _open(
        self, mode: TraceMode, trace_path: Path | None, default_timeout_ms: float | None, secrets: Secrets
    ) -> tuple[Chromium, BrowserContext, Tracer, Page]:
        """Context, trace and page in a usable Chromium, each step bounded by ``open_timeout``.

        A browser that hangs on a step is killed and the page is opened once more in a fresh one;
        a browser found dead is relaunched once. Any ending, cancellation included, gives the slot
        back and closes what was opened."""
        for attempt in (1, 2):
            chromium = await self.fleet.acquire()
            context: BrowserContext | None = None
            tracer: Tracer | None = None
            try:
                context = await self._bounded(chromium, chromium.browser.new_context(), "open a context")
                if default_timeout_ms is not None:
                    context.set_default_timeout(default_timeout_ms)
                    context.set_default_navigation_timeout(default_timeout_ms)
                tracer = Tracer(context, mode=mode, path=trace_path)
                tracer.secrets = secrets
                await self._bounded(chromium, tracer.start(), "start a trace")
                page = await self._bounded(chromium, context.new_page(), "open a page")
            except BaseException as exc:
                if context is None:
                    self.fleet.give_back(chromium)
                else:
                    await self._finish_shielded(
                        chromium,
                        context,
                        tracer=tracer or Tracer(context, mode="off", path=None),
                        keep_trace=False,
                        failed=False,
                    )
                if isinstance(exc, _Hung):
                    if attempt == 1:
                        continue
                    raise BrowserLost(str(exc)) from None
                if isinstance(exc, PlaywrightError) and chromium.dead():
                    if attempt == 1:
                        log.warning("Chromium pid %s was dead; relaunching", chromium.pid)
                        continue
                    raise BrowserLost(f"Chromium died while opening a page: {_first_line(exc)}") from exc
                raise
            return chromium, context, tracer, page
        raise AssertionError("unreachable")  # pragma: no cover

    async def _bounded(self, chromium: Chromium, step: Awaitable[T], what: str) -> T:
        """``step`` within ``open_timeout``; past it the browser is condemned (killed) and ``_Hung``
        raised. Whoever gives up on the step (timeout or cancellation), a context or page it
        creates afterwards is closed when it arrives."""
        future = asyncio.ensure_future(step)
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.open_timeout)
        except TimeoutError:
            future.add_done_callback(self._close_late)
            message = f"Chromium did not {what} within {self.open_timeout:g} s"
            self.fleet.condemn(chromium, message)
            raise _Hung(f"{message}; it was killed") from None
        except BaseException:
            future.add_done_callback(self._close_late)
            raise

    def _close_late(self, future: asyncio.Future[Any]) -> None:
        if future.cancelled() or future.exception() is not None:  # retrieved: no "never retrieved"
            return
        late = future.result()
        if isinstance(late, BrowserContext | Page):
            self.fleet.track(asyncio.ensure_future(_quietly(late.close(), CLOSE_TIMEOUT_S)))

    async def _finish_shielded(
        self, chromium: Chromium, context: BrowserContext, *, tracer: Tracer, keep_trace: bool, failed: bool
    ) -> None:
        cleanup = asyncio.ensure_future(
            self._finish(chromium, context, tracer=tracer, keep_trace=keep_trace, failed=failed)
        )
        self.fleet.track(cleanup)
        await asyncio.shield(cleanup)

    async def _finish(
        self, chromium: Chromium, context: BrowserContext, *, tracer: Tracer, keep_trace: bool, failed: bool
    ) -> None:
        try:
            if failed and not chromium.dead():
                await self._probe(chromium, context)
            usable = not chromium.dead()
            await tracer.finish(keep=keep_trace, alive=usable)
            if usable:
                try:
                    await asyncio.wait_for(context.close(), CLOSE_TIMEOUT_S)
                except (PlaywrightError, TimeoutError) as exc:
                    if not chromium.dead():  # a live browser that cannot close a context is sick
                        self.fleet.condemn(
                            chromium, f"closing a context failed ({_first_line(exc) or 'timed out'})"
                        )
            await self.fleet.weigh(chromium)
        finally:
            if self.fleet.release(chromium):
                await self.fleet.close_browser(chromium)

    async def _probe(self, chromium: Chromium, context: BrowserContext) -> None:
        """After a failed block: does the browser process still answer? If not, condemn it."""
        try:
            await asyncio.wait_for(context.cookies(), PROBE_TIMEOUT_S)
        except TimeoutError:
            self.fleet.condemn(
                chromium, f"Chromium did not answer within {PROBE_TIMEOUT_S:g} s after a failure"
            )
        except PlaywrightError:
            pass  # closed or dead: the checks that follow see it

    async def _died(self, chromium: Chromium, exc: BaseException) -> bool:
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


async def _quietly(step: Awaitable[Any], timeout: float) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(step, timeout)


def _first_line(exc: BaseException) -> str:
    """An error's first line: Playwright appends a multi-line call log that never belongs in a
    task's error."""
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else ""


def _trace_mode(trace: TraceMode | bool) -> TraceMode:
    if trace is True:
        return "always"
    if trace is False:
        return "off"
    if trace not in ("off", "on_failure", "always"):
        raise ValueError(f"trace must be 'off', 'on_failure', 'always' or a bool, not {trace!r}")
    return trace
