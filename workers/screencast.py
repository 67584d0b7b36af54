"""The live view of one running task: Chromium's screencast, relayed through Redis while watched.

``LiveView.watching()`` runs beside the bot for a browser task. Nobody watching costs one
``EXISTS`` of the presence key every ``POLL_INTERVAL`` s and nothing per frame. When a viewer's
key appears, a CDP session starts ``Page.startScreencast`` (JPEG); each frame is added to the
task's capped frame stream (``XADD MAXLEN ~``), counted, and acknowledged (``screencastFrameAck``)
``FRAME_INTERVAL`` s later, which paces Chromium to a few frames a second. When the key has
expired (the last viewer left) the screencast stops on the next poll.

``secret()`` wraps the bot's ``ctx.secret_input()``: while card, CVC or password fields are typed
and submitted the screencast is stopped, frames still in flight are dropped, and the state says
``secret`` (the task page shows "filling payment details"); ``pause``/``resume`` markers in the
frame stream bracket the section. Key names: ``models.live_keys``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any

from playwright.async_api import Error as PlaywrightError

from models.live_keys import FRAME_INTERVAL, FRAMES_KEPT, FRAMES_TTL, POLL_INTERVAL, LiveKeys

if TYPE_CHECKING:
    from playwright.async_api import CDPSession, Page
    from redis.asyncio import Redis

log = logging.getLogger(__name__)
JPEG_QUALITY = 60


class LiveView:
    def __init__(self, redis: Redis, keys: LiveKeys, page: Page, *, poll: float = POLL_INTERVAL) -> None:
        self.redis = redis
        self.keys = keys
        self.page = page
        self.poll = poll
        self.cdp: CDPSession | None = None
        self.secret_depth = 0
        self._relays: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()  # start/stop/secret never interleave

    # ---- the loop beside the bot ----------------------------------------------------------

    @asynccontextmanager
    async def watching(self) -> AsyncIterator[LiveView]:
        loop = asyncio.create_task(self._loop(), name=f"live-{self.keys.frames}")
        try:
            yield self
        finally:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await loop
            with contextlib.suppress(Exception):
                await self._stop()
            for relay in list(self._relays):
                relay.cancel()

    async def _loop(self) -> None:
        while True:
            try:
                watched = bool(await self.redis.exists(self.keys.viewers))
                if watched and self.cdp is None and not self.secret_depth:
                    await self._start()
                elif not watched and self.cdp is not None:
                    await self._stop()
            except (PlaywrightError, OSError) as exc:
                log.info("live view of %s: %s", self.keys.frames, exc)
            except Exception as exc:  # Redis away: the bot goes on unwatched
                log.warning("live view of %s: %s", self.keys.frames, exc)
            await asyncio.sleep(self.poll)

    # ---- screencast -----------------------------------------------------------------------

    async def _start(self) -> None:
        async with self._lock:
            if self.cdp is not None or self.secret_depth or self.page.is_closed():
                return
            cdp = await self.page.context.new_cdp_session(self.page)
            cdp.on("Page.screencastFrame", self._on_frame)
            size = self.page.viewport_size or {"width": 1280, "height": 720}
            await cdp.send(
                "Page.startScreencast",
                {
                    "format": "jpeg",
                    "quality": JPEG_QUALITY,
                    "maxWidth": size["width"],
                    "maxHeight": size["height"],
                },
            )
            self.cdp = cdp
            await self.redis.hset(self.keys.state, "casting", 1)

    async def _stop(self) -> None:
        async with self._lock:
            cdp, self.cdp = self.cdp, None
            if cdp is not None:
                with contextlib.suppress(PlaywrightError):
                    await cdp.send("Page.stopScreencast")
                with contextlib.suppress(PlaywrightError):
                    await cdp.detach()
            # a frame already being written lands before "not casting": none is counted after it
            await asyncio.gather(*self._relays, return_exceptions=True)
            try:
                await self.redis.hset(self.keys.state, "casting", 0)
            except Exception as exc:  # Redis away: frames stopped all the same
                log.warning("live view of %s: %s", self.keys.frames, exc)

    def _on_frame(self, params: dict[str, Any]) -> None:
        relay = asyncio.create_task(self._relay(self.cdp, params))
        self._relays.add(relay)
        relay.add_done_callback(self._relays.discard)

    async def _relay(self, cdp: CDPSession | None, params: dict[str, Any]) -> None:
        if cdp is None or cdp is not self.cdp or self.secret_depth:
            return  # stopped meanwhile, or a secret is being typed: this frame is dropped
        try:
            jpeg = base64.b64decode(params["data"])
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.hincrby(self.keys.state, "produced", 1)
                pipe.xadd(
                    self.keys.frames, {"kind": "frame", "jpeg": jpeg}, maxlen=FRAMES_KEPT, approximate=True
                )
                pipe.expire(self.keys.frames, FRAMES_TTL)
                pipe.expire(self.keys.state, FRAMES_TTL)
                await pipe.execute()
            await asyncio.sleep(FRAME_INTERVAL)  # pacing: the next frame only after the ack
            if cdp is self.cdp:
                await cdp.send("Page.screencastFrameAck", {"sessionId": params["sessionId"]})
        except (PlaywrightError, KeyError, ValueError) as exc:
            log.debug("frame of %s dropped: %s", self.keys.frames, exc)
        except Exception as exc:
            log.warning("frame of %s not relayed: %s", self.keys.frames, exc)

    # ---- secrets --------------------------------------------------------------------------

    def secret(
        self, section: Callable[[], AbstractAsyncContextManager[None]]
    ) -> Callable[[], AbstractAsyncContextManager[None]]:
        """``section`` (the trace/screenshot guard) with the screencast paused around it."""

        @asynccontextmanager
        async def guarded() -> AsyncIterator[None]:
            await self._pause()
            try:
                async with section():
                    yield
            finally:
                await self._resume()

        return guarded

    async def _pause(self) -> None:
        self.secret_depth += 1
        if self.secret_depth > 1:
            return
        try:
            await self.redis.hset(self.keys.state, "secret", 1)
            await self.redis.xadd(self.keys.frames, {"kind": "pause"}, maxlen=FRAMES_KEPT, approximate=True)
        except Exception as exc:
            log.warning("live view of %s: %s", self.keys.frames, exc)
        await self._stop()  # frames arriving after this are dropped (secret_depth is set)

    async def _resume(self) -> None:
        self.secret_depth -= 1
        if self.secret_depth:
            return
        try:
            await self.redis.hset(self.keys.state, "secret", 0)
            await self.redis.xadd(self.keys.frames, {"kind": "resume"}, maxlen=FRAMES_KEPT, approximate=True)
        except Exception as exc:
            log.warning("live view of %s: %s", self.keys.frames, exc)
        # the loop starts the screencast again on its next poll if someone still watches
