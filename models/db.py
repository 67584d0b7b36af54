"""Engine and session factory, built from settings by an entry point and passed down.

On Postgres, events reach other processes through ``pg_notify`` in the writing transaction.
On embedded SQLite everything runs in one process: ``publish`` queues the payload on the
session and ``Database`` hands it to local listeners after the commit, so the live hub sees
exactly what was committed, as with NOTIFY.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session

from models import failures

log = logging.getLogger(__name__)

LocalListener = Callable[[list[dict[str, Any]]], None]
PENDING_KEY = "taskdeck_notify"


class Database:
    def __init__(self, url: str, *, pool_size: int = 10, pre_ping: bool = False) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        # Workers: no pool_pre_ping, it cost a round trip per transaction. A connection cut meanwhile
        # fails its first statement instead; SQLAlchemy then discards it (and the pool's others), and
        # every worker caller already retries (outcome writes) or looks again on the next sweep.
        # The web process pings (``pre_ping=True``): a person's request after a Postgres restart must
        # not answer 500 because it drew a connection that died while idle.
        kwargs: dict[str, Any] = (
            {}
            if self.is_sqlite
            else {"pool_size": pool_size, "pool_recycle": 1800, "pool_pre_ping": pre_ping}
        )
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        # One-statement writes (``autocommit``) of a pinging process get a pool of their own whose
        # connections are in autocommit from the start: the ping of such a connection is one
        # round trip (``;``), where a pooled connection outside a transaction is pinged with BEGIN,
        # ``;`` and ROLLBACK (SQLAlchemy's asyncpg dialect) — three of the four round trips of a
        # person's create or execute. Workers do not ping and keep one pool.
        self.autocommit_engine: AsyncEngine | None = (
            create_async_engine(url, isolation_level="AUTOCOMMIT", **kwargs)
            if pre_ping and not self.is_sqlite
            else None
        )
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.local_listeners: list[LocalListener] = []
        if self.is_sqlite:
            _sqlite_setup(self.engine)
            event.listen(Session, "after_commit", self._after_commit)
            event.listen(Session, "after_rollback", _drop_pending)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction, committed on success."""
        async with self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[AsyncConnection]:
        """A connection without a transaction: each statement commits by itself (one round trip
        for a statement that must be atomic on its own, no BEGIN/COMMIT)."""
        if self.autocommit_engine is not None:
            async with self.autocommit_engine.connect() as conn:
                yield conn
            return
        async with self.engine.connect() as conn:
            yield await conn.execution_options(isolation_level="AUTOCOMMIT")

    @asynccontextmanager
    async def statements(self) -> AsyncIterator[AsyncSession]:
        """A session whose every statement commits by itself (``autocommit``): for writes that
        are one atomic statement each (the worker's batched claim and group commit on Postgres),
        without the BEGIN and COMMIT round trips."""
        async with self.autocommit() as conn:
            async with AsyncSession(bind=conn, expire_on_commit=False) as session:
                yield session

    def asyncpg_dsn(self) -> str:
        """The URL as plain asyncpg wants it (for the live hub's own LISTEN connection)."""
        return plain_dsn(self.url)

    async def dispose(self) -> None:
        if self.is_sqlite:
            event.remove(Session, "after_commit", self._after_commit)
            event.remove(Session, "after_rollback", _drop_pending)
        await self.engine.dispose()
        if self.autocommit_engine is not None:
            await self.autocommit_engine.dispose()

    def _after_commit(self, session: Session) -> None:
        pending = session.info.pop(PENDING_KEY, None)
        if not pending or session.bind is None or session.bind.engine is not self.engine.sync_engine:
            return
        for listener in list(self.local_listeners):
            try:
                listener(pending)
            except Exception:  # a broken listener must not break the writer
                log.exception("local event listener failed")


def plain_dsn(url: str | URL) -> str:
    """A SQLAlchemy URL (``postgresql+asyncpg://…``) as plain asyncpg takes it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _drop_pending(session: Session) -> None:
    session.info.pop(PENDING_KEY, None)


def _sqlite_setup(engine: AsyncEngine) -> None:
    """WAL, foreign keys, and BEGIN IMMEDIATE so concurrent writers wait instead of failing."""

    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()
        dbapi_conn.create_function("td_signature", 2, failures.signature, deterministic=True)

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
