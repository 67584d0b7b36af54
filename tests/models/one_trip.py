"""A one-statement write under watch: the NOTIFYs it sends and the statements its connection runs."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection

from models.db import Database
from models.events import CHANNEL


@dataclass
class Trip:
    notified: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    statements: list[str] = field(default_factory=list)


@asynccontextmanager
async def one_trip(db: Database) -> AsyncIterator[tuple[AsyncConnection, Trip]]:
    """``db.autocommit()``'s connection, with every statement it sends and every NOTIFY on
    ``CHANNEL`` (read by a LISTEN connection of its own) recorded in the ``Trip``."""
    trip = Trip()
    listener = await asyncpg.connect(db.asyncpg_dsn())
    await listener.add_listener(CHANNEL, lambda *args: trip.notified.put_nowait(json.loads(args[-1])))

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        trip.statements.append(statement)

    try:
        async with db.autocommit() as conn:
            engine = conn.engine.sync_engine  # the autocommit pool's engine where there is one
            event.listen(engine, "before_cursor_execute", seen)
            try:
                yield conn, trip
            finally:
                event.remove(engine, "before_cursor_execute", seen)
    finally:
        await listener.close()
