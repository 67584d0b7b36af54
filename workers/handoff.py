"""``ctx.needs_attention(reason, timeout=…)``: the bot waits for a person, then goes on.

The run moves its task to ``action_needed`` (``models.attention.ask``, lease-guarded) and waits
in place: the browser page stays open, the heartbeat keeps the lease alive (so the sweeper leaves
it alone), and the bot's own time limit is moved out by the wait. While it waits it reads the
controller's input stream (``XREAD BLOCK``, about a second at a time) and plays each event on the
page — a click at a fraction of the frame, a scroll, a key, typed text — deleting every entry once
applied (typed text is neither kept nor logged). About once a second it reads the task row:

    running again (a person pressed resume)      → returns; the bot continues where it stopped
    completed by hand, or the lease gone         → ``TaskLost``: the run stops without writing
    cancel requested                             → ends as cancelled (through the usual outcome)
    nobody came within the timeout               → ``NobodyCame`` (a PermanentError); past the
                                                   place-order checkpoint the store is asked first
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from playwright.async_api import Error as PlaywrightError

from models import attention
from models.errors import InvalidTransition
from models.live_keys import LiveKeys
from models.states import HELD, TaskStatus
from workers.errors import NobodyCame, PermanentError

if TYPE_CHECKING:
    from playwright.async_api import Page
    from redis.asyncio import Redis

    from models.db import Database
    from models.tables import Task
    from workers.running import Running

log = logging.getLogger(__name__)
S = TaskStatus
CHECK_EVERY = 1.0  # seconds between reads of the task row while waiting
SLACK = 5.0  # the bot's time limit moves out by the wait plus this


class Handoff:
    def __init__(
        self,
        *,
        db: Database,
        task: Task,
        running: Running,
        page: Page | None,
        redis: Redis | None,
        keys: LiveKeys,
        default_timeout: float,
        lost: Callable[[], BaseException],
        say: Callable[[str], Awaitable[None]],
    ) -> None:
        self.db = db
        self.task = task
        self.running = running
        self.page = page
        self.redis = redis
        self.keys = keys
        self.default_timeout = default_timeout
        self.lost = lost
        self.say = say

    async def needs_attention(self, reason: str, timeout: float | None = None) -> None:
        wait = float(timeout if timeout is not None else self.default_timeout)
        loop = asyncio.get_running_loop()
        try:
            async with self.db.begin() as session:
                await attention.ask(session, task=self.task, reason=reason)
        except InvalidTransition:
            raise self.lost() from None
        if self.redis is not None:
            with suppress(Exception):
                await self.redis.delete(self.keys.input, self.keys.control)  # nothing from before
        limit = self.running.deadline
        if limit is not None and limit.when() is not None:
            limit.reschedule(limit.when() + wait + SLACK)  # type: ignore[operator]
        started = loop.time()
        try:
            await self._wait(loop.time() + wait, wait, reason)
        finally:
            if limit is not None and limit.when() is not None:  # give back what was not waited
                unused = max(0.0, wait - (loop.time() - started))
                limit.reschedule(limit.when() - unused)  # type: ignore[operator]
            if self.redis is not None:
                with suppress(Exception):
                    await self.redis.delete(self.keys.input, self.keys.control)

    async def _wait(self, deadline: float, wait: float, reason: str) -> None:
        loop = asyncio.get_running_loop()
        last_id = "0-0"
        while True:
            async with self.db.session() as session:
                status, cancel = await attention.waiting_state(session, task=self.task)
            if status is None or status not in HELD:
                raise self.lost()
            if cancel:
                self.running.stop_reason = self.running.stop_reason or "cancel"
                raise PermanentError("cancelled by user while waiting for a person")
            if status == S.RUNNING:
                await self.say("a person handed back; the bot continues")
                return
            if loop.time() >= deadline:
                raise NobodyCame(f"nobody took over within {wait:g} s ({reason})")
            last_id = await self._play_input(last_id, until=min(deadline, loop.time() + CHECK_EVERY))

    async def _play_input(self, last_id: str, *, until: float) -> str:
        """Apply the controller's input until ``until`` (loop time); the last entry id read."""
        loop = asyncio.get_running_loop()
        if self.redis is None or self.page is None:
            await asyncio.sleep(max(0.0, until - loop.time()))
            return last_id
        while (left := until - loop.time()) > 0:
            try:
                found: Any = await self.redis.xread(
                    {self.keys.input: last_id}, count=20, block=max(1, int(left * 1000))
                )
            except Exception as exc:  # Redis away: keep waiting on the database alone
                log.warning("task %s: reading input failed: %s", self.task.id, exc)
                await asyncio.sleep(left)
                return last_id
            for _stream, entries in found or []:
                for entry_id, fields in entries:
                    last_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
                    with suppress(Exception):
                        await self.redis.xdel(self.keys.input, entry_id)  # typed text is not kept
                    await self._apply({_text(k): _text(v) for k, v in fields.items()})
        return last_id

    async def _apply(self, event: dict[str, str]) -> None:
        page = self.page
        assert page is not None
        kind = event.get("type")
        try:
            if kind == "click":
                size = page.viewport_size or {"width": 1280, "height": 720}
                x, y = float(event["x"]) * size["width"], float(event["y"]) * size["height"]
                await page.mouse.click(x, y)
            elif kind == "scroll":
                await page.mouse.wheel(0, float(event.get("dy", 0)))
            elif kind == "key":
                await page.keyboard.press(event["key"])
            elif kind == "text":
                await page.keyboard.type(event["text"])
        except (PlaywrightError, KeyError, ValueError) as exc:
            # the text itself is never in the message
            log.info("task %s: a %s input could not be applied: %s", self.task.id, kind, type(exc).__name__)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
