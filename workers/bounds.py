"""The bounds around one bot run: a hard time limit, and how a bot's ending is named.

``run_bot`` waits for the bot until ``TASKDECK_BOT_TIMEOUT`` (``running.deadline``; a wait for a
person moves it out). At the limit the bot is cancelled and gets ``ABANDON_GRACE`` seconds to
end; a bot still running then (it swallowed the cancellation, or its cleanup hangs) is abandoned:
``BotTimedOut`` is raised all the same, so the caller closes the context, records the outcome
(past the place-order checkpoint: order recovery, never a plain failure) and frees the slot.
Whatever the abandoned bot does afterwards is ignored: its page is closed, its writes are refused
(the task is no longer held by this run).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, TypeVar

from playwright.async_api import TimeoutError as PageTimeout

from workers.errors import NotAvailableYet, RetryableError

if TYPE_CHECKING:
    from workers.running import Running

log = logging.getLogger(__name__)
T = TypeVar("T")
ABANDON_GRACE = 2.0  # seconds a bot cancelled at its time limit gets to end before it is abandoned


class BotTimedOut(RetryableError):
    """The bot ran past its time limit (TASKDECK_BOT_TIMEOUT)."""


async def run_bot(
    bot: asyncio.Future[T], running: Running, *, timeout: float, grace: float = ABANDON_GRACE
) -> T:
    """The bot's result (or its exception) if it ends within ``timeout`` s; else ``BotTimedOut``
    after at most ``grace`` s more. A cancellation of the caller cancels the bot too."""
    try:
        async with asyncio.timeout(timeout) as running.deadline:
            await asyncio.wait({bot})  # unlike `await bot`, the limit firing does not wait for the bot
    except TimeoutError:
        pass
    except asyncio.CancelledError:
        bot.cancel()
        raise
    finally:
        running.deadline = None
    if bot.done():
        return bot.result()
    bot.cancel()
    await asyncio.wait({bot}, timeout=grace)
    if not bot.done():
        log.warning("bot ignored its cancellation at the %g s limit; abandoned", timeout)
    bot.add_done_callback(_forget)
    raise BotTimedOut(f"timed out after {timeout:g} s (the bot timeout)")


def _forget(bot: asyncio.Future[Any]) -> None:
    if not bot.cancelled():
        bot.exception()  # retrieved: an abandoned bot's late error is not "never retrieved"


def worth_a_failure_screenshot(exc: BaseException, *, monitor: bool) -> bool:
    """Whether a failed run's page is photographed: not after the page itself timed out or the
    run was abandoned (the page does not answer; the photo would hold the slot for nothing), not
    for a monitor's normal "not available yet"."""
    if isinstance(exc, PageTimeout | BotTimedOut | TimeoutError):
        return False
    return not (monitor and isinstance(exc, NotAvailableYet))


def first_line(exc: BaseException) -> str:
    """An error's first line: Playwright appends a multi-line call log that never belongs in a
    task's error."""
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else ""
