"""The live hub: one LISTEN connection per webapp process, fanned out to pages.

Postgres: a dedicated asyncpg connection (never a pooled one; to ``TASKDECK_LISTEN_DATABASE_URL``
when set, for a pool behind PgBouncer in transaction mode) LISTENs on ``taskdeck``; each
NOTIFY payload (committed events only) reaches pages through ``changes`` at once while the hub
is quiet, and in batches (at most one per ``BATCH_WINDOW``) once a burst has used up ``BURST``.
When the connection drops, the hub reconnects, catches up from
``task_event`` (re-reading an overlap before the last id it saw and dropping ids it already
delivered, since sequence order is not commit order) and fires ``resync`` so pages re-read
what they show. Embedded SQLite: the database hands committed payloads over in-process.

Pages subscribe with their viewer (``subscribe``): each payload names its task's owner, and a
page receives only the changes of tasks its viewer may see (an admin's: all).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from contextlib import suppress
from typing import Any

import asyncpg
from nicegui import Event
from sqlalchemy import select

from models.access import Viewer
from models.db import Database, plain_dsn
from models.events import CHANNEL
from models.tables import Task, TaskEvent
from models.users import AUTH_CHANNEL

log = logging.getLogger(__name__)

# Batching only under load: a token bucket of BURST batches, refilled at one per BATCH_WINDOW.
# A quiet hub (fewer than one batch per window on average) delivers each payload at once; a busy
# one (a burst past BURST) holds payloads and sends at most one batch per BATCH_WINDOW, which is
# what keeps a thousand changes a second from being a thousand page updates a second.
BATCH_WINDOW = 0.025  # seconds between batches under load
BURST = 8  # batches that may go out back to back before the window applies
CATCH_UP_OVERLAP = 1000  # event ids re-read before the last one seen, after a reconnect
SEEN_MAX = 20_000
RECONNECTED = "live hub: LISTEN connection back"  # logged at each reconnect (a resync follows)


_closing: set[asyncio.Future[None]] = set()


def visible(viewer: Viewer, payload: dict[str, Any]) -> bool:
    """May ``viewer`` see this change? Its payload names the task's owner (``owner``)."""
    return viewer.is_admin or (
        payload.get("owner") is not None and payload.get("owner") == str(viewer.user_id)
    )


def _close_quietly(fut: asyncio.Future[asyncpg.Connection]) -> None:
    if not fut.cancelled() and fut.exception() is None:
        closing = asyncio.ensure_future(fut.result().close())
        _closing.add(closing)
        closing.add_done_callback(_closing.discard)


class LiveHub:
    def __init__(self, db: Database, *, listen_url: str | None = None) -> None:
        self.db = db
        # LISTEN's own connection: TASKDECK_LISTEN_DATABASE_URL when the pool goes through
        # PgBouncer in transaction mode (a LISTEN there would be lost), else DATABASE_URL
        self.listen_dsn = (
            plain_dsn(listen_url) if listen_url else (None if db.is_sqlite else db.asyncpg_dsn())
        )
        self.changes: Event[list[dict[str, Any]]] = Event()  # a batch of event payloads
        self.resync: Event[[]] = Event()  # re-read everything: events may have been missed
        self.connected = False
        self.reconnects = 0
        self.on_lag: Callable[[float], None] | None = None  # seconds from an event's write to here
        self._buffer: list[dict[str, Any]] = []
        self._flush: asyncio.Handle | None = None
        self._tokens = float(BURST)
        self._refilled = 0.0
        self._seen: OrderedDict[int, None] = OrderedDict()
        self._last_id = 0
        self._task: asyncio.Task[None] | None = None
        self._conn: asyncpg.Connection | None = None
        self._lost = asyncio.Event()
        self._listeners: list[Callable[[list[dict[str, Any]]], None]] = []
        # called when a token was revoked or a user disabled (``AUTH_CHANNEL``), and after a
        # reconnect (such a NOTIFY may have been missed): the token cache empties
        self.auth_changed: list[Callable[[], None]] = []

    def subscribe(self, viewer: Viewer, handler: Callable[[list[dict[str, Any]]], Any]) -> None:
        """Hand ``handler`` (a page's, in its client's context) the batches of changes to tasks
        ``viewer`` may see; nothing of anyone else's reaches it. Unsubscribed with the client."""

        def deliver(batch: list[dict[str, Any]]) -> Any:
            mine = batch if viewer.is_admin else [p for p in batch if visible(viewer, p)]
            return handler(mine) if mine else None

        self.changes.subscribe(deliver)

    def listen(self, viewer: Viewer, handler: Callable[[list[dict[str, Any]]], None]) -> Callable[[], None]:
        """Like ``subscribe``, for a listener that is no page (an event stream): ``handler`` is
        called in the hub's task with each batch of ``viewer``'s changes. Returns the unsubscribe."""

        def deliver(batch: list[dict[str, Any]]) -> None:
            mine = batch if viewer.is_admin else [p for p in batch if visible(viewer, p)]
            if mine:
                handler(mine)

        self._listeners.append(deliver)
        return lambda: self._listeners.remove(deliver)

    async def start(self) -> None:
        if self.db.is_sqlite:
            self.db.local_listeners.append(self._on_local)
            self.connected = True
            return
        self._task = asyncio.create_task(self._run(), name="taskdeck-live-hub")

    async def stop(self) -> None:
        if self.db.is_sqlite:
            with suppress(ValueError):
                self.db.local_listeners.remove(self._on_local)
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
        await self._close()

    # ---- in-process (SQLite) ----------------------------------------------------------

    def _on_local(self, payloads: list[dict[str, Any]]) -> None:
        for payload in payloads:
            self._accept(payload)

    # ---- Postgres ---------------------------------------------------------------------

    async def _run(self) -> None:
        delay = 0.2
        first = True
        while True:
            try:
                self._lost.clear()
                connecting = asyncio.ensure_future(asyncpg.connect(self.listen_dsn, timeout=5))
                try:
                    conn: asyncpg.Connection = await asyncio.shield(connecting)
                    self._conn = conn
                except asyncio.CancelledError:  # stopped mid-connect: close what it opens
                    connecting.add_done_callback(_close_quietly)
                    raise
                conn.add_termination_listener(lambda _c: self._lost.set())
                await conn.add_listener(CHANNEL, self._on_notify)
                await conn.add_listener(AUTH_CHANNEL, self._on_auth)
                self._auth_changed()
                self.connected = True
                if first:
                    self._last_id = await self._max_event_id()
                    first = False
                else:
                    self.reconnects += 1
                    log.warning("%s (%d): pages read again what they show", RECONNECTED, self.reconnects)
                    await self._catch_up()
                    self.resync.emit()
                delay = 0.2
                while not self._lost.is_set():  # asyncpg notices a dead socket only on use
                    with suppress(TimeoutError):
                        await asyncio.wait_for(self._lost.wait(), timeout=2)
                    if not self._lost.is_set():
                        try:
                            await asyncio.wait_for(conn.execute("SELECT 1"), timeout=5)
                        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
                            self._lost.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("live hub: LISTEN connection failed: %s", exc)
            self.connected = False
            await self._close()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        with suppress(ValueError):
            self._accept(json.loads(payload))

    def _on_auth(self, _conn: Any, _pid: int, _channel: str, _payload: str) -> None:
        self._auth_changed()

    def _auth_changed(self) -> None:
        for callback in list(self.auth_changed):
            try:
                callback()
            except Exception:
                log.exception("live hub: an auth-change callback failed")

    async def _max_event_id(self) -> int:
        from sqlalchemy import func

        async with self.db.session() as session:
            return await session.scalar(select(func.max(TaskEvent.id))) or 0

    async def _catch_up(self) -> None:
        async with self.db.session() as session:
            rows = await session.execute(
                select(TaskEvent, Task.owner_id)  # type: ignore[call-overload]
                .join(Task, Task.id == TaskEvent.task_id)  # type: ignore[arg-type]
                .where(TaskEvent.id > self._last_id - CATCH_UP_OVERLAP)  # type: ignore[operator,arg-type]
                .order_by(TaskEvent.id)  # type: ignore[arg-type]
                .limit(50_000)
            )
            for ev, owner in rows.all():
                self._accept(
                    {
                        "id": ev.id,
                        "owner": str(owner) if owner else None,
                        "task": str(ev.task_id),
                        "kind": ev.kind,
                        "status": ev.status,
                        "step": ev.step,
                        "progress": ev.progress,
                    }
                )

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            with suppress(Exception):
                await asyncio.wait_for(conn.close(), timeout=2)

    # ---- fan-out --------------------------------------------------------------------------

    def _accept(self, payload: dict[str, Any]) -> None:
        sent = payload.get("ts")
        if isinstance(sent, int | float) and self.on_lag is not None:
            self.on_lag(max(0.0, time.time() - sent))
        event_id = payload.get("id")
        if isinstance(event_id, int):
            if event_id in self._seen:
                return
            self._seen[event_id] = None
            if len(self._seen) > SEEN_MAX:
                self._seen.popitem(last=False)
            self._last_id = max(self._last_id, event_id)
        self._buffer.append(payload)
        if self._flush is None:  # quiet: deliver at once (same-tick payloads ride along); busy: batch
            loop = asyncio.get_running_loop()
            tokens = self._refill(loop.time())
            if tokens >= 1:
                self._flush = loop.call_soon(self._emit)
            else:
                self._flush = loop.call_later((1 - tokens) * BATCH_WINDOW, self._emit)

    def _refill(self, now: float) -> float:
        self._tokens = min(float(BURST), self._tokens + (now - self._refilled) / BATCH_WINDOW)
        self._refilled = now
        return self._tokens

    def _emit(self) -> None:
        batch, self._buffer, self._flush = self._buffer, [], None
        self._refill(asyncio.get_running_loop().time())
        self._tokens -= 1
        if batch:
            self.changes.emit(batch)
            for listener in list(self._listeners):
                try:
                    listener(batch)
                except Exception:
                    log.exception("live hub: a listener failed")
