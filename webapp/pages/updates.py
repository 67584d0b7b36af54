"""How pages stay live without polling: a throttled re-read, and the hub's connection state.

Pages subscribe to ``services.hub.changes`` (batches of event payloads) and ``services.hub.resync``.
Cheap changes are applied in place at once; anything that needs the database again goes through
a ``Throttle``, which coalesces any number of triggers into at most one re-read per interval.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from nicegui import Event, background_tasks, context

from webapp.live import LiveHub

if TYPE_CHECKING:
    from webapp.pages.notifications import Inbox

log = logging.getLogger(__name__)


class Throttle:
    """Run ``action`` soon after ``trigger()``, at most once per ``interval`` seconds.

    Triggers that arrive while a run waits are served by that run; triggers during a run cause
    exactly one more. Belongs to the page (client) it was created in and stops with it.
    """

    def __init__(self, action: Callable[[], Awaitable[None]], *, interval: float = 0.25) -> None:
        self.action = action
        self.interval = interval
        self._client = context.client
        self._slot = context.slot
        self._task: asyncio.Task[None] | None = None
        self._again = False
        self._last = 0.0
        self._client.on_delete(self.cancel)

    def trigger(self) -> None:
        if self._client.is_deleted:
            return
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = background_tasks.create(self._run(), name="taskdeck-page-refresh", context=self._slot)

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            wait = self._last + self.interval - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            self._again = False
            self._last = loop.time()
            if self._client.is_deleted:
                return
            try:
                await self.action()
            except Exception:  # a failed re-read must not end live updates for this page
                log.exception("page refresh failed")
            if not self._again:
                return


class HubWatch:
    """The live hub's connection state as an event, for the header's live indicator.

    ``LiveHub`` exposes ``connected`` but no event for losing the connection, so one task per
    process (not per page) looks at it every second and emits ``changed`` when it flips.
    """

    INTERVAL = 1.0

    def __init__(self, hub: LiveHub, inbox: Inbox | None = None) -> None:
        self.hub = hub
        self.inbox = inbox  # the header's bell (``notifications.py``)
        self.changed: Event[bool] = Event()
        self._task: asyncio.Task[None] | None = None
        self._last: bool | None = None

    @property
    def connected(self) -> bool:
        return bool(self.hub.connected)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._watch(), name="taskdeck-hub-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task

    async def _watch(self) -> None:
        while True:
            now = self.connected
            if now != self._last:
                self._last = now
                self.changed.emit(now)
            await asyncio.sleep(self.INTERVAL)


def reread_on_state_changes(hub: LiveHub, viewer: Any, refresher: Throttle) -> None:
    """Subscribe a page: any state change or deletion of the viewer's tasks (and a resync) asks
    ``refresher`` for one re-read."""

    def on_changes(batch: list[dict[str, Any]]) -> None:
        if any(p.get("kind") in ("state", "deleted") for p in batch):
            refresher.trigger()

    hub.subscribe(viewer, on_changes)
    hub.resync.subscribe(refresher.trigger)
