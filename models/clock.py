"""The database's clock, as a SQL expression: the one clock every process agrees on.

Heartbeats, staleness, ``run_at``, ``until`` and store intervals are written and compared with
``db_now()`` inside the statement, never with a process's wall clock: a worker host whose clock
is 11 s behind must not get its healthy tasks rescued, nor a sweeper ahead stage tasks early.

Postgres: ``clock_timestamp()`` (the time the statement runs, not the transaction's start).
SQLite: ``strftime('%Y-%m-%d %H:%M:%f000', 'now')`` — the same text form as the stored
timestamps (microseconds, UTC), so comparisons stay text comparisons of one format.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import Float, Uuid

from models.types import UTCDateTime

_SQLITE_FORMAT = "'%Y-%m-%d %H:%M:%f000'"


class DbNow(FunctionElement[datetime]):
    """``now`` on the database's clock, plus an optional offset in seconds (its one argument)."""

    inherit_cache = True
    type = UTCDateTime()
    name = "db_now"


def _offset(element: DbNow, compiler: SQLCompiler, **kw: Any) -> str | None:
    clauses = list(element.clauses)
    return compiler.process(clauses[0], **kw) if clauses else None


@compiles(DbNow)
def _default(element: DbNow, compiler: SQLCompiler, **kw: Any) -> str:
    offset = _offset(element, compiler, **kw)
    return "CURRENT_TIMESTAMP" if offset is None else f"(CURRENT_TIMESTAMP + {offset} * INTERVAL '1 second')"


@compiles(DbNow, "postgresql")
def _postgres(element: DbNow, compiler: SQLCompiler, **kw: Any) -> str:
    offset = _offset(element, compiler, **kw)
    return "clock_timestamp()" if offset is None else f"(clock_timestamp() + make_interval(secs => {offset}))"


@compiles(DbNow, "sqlite")
def _sqlite(element: DbNow, compiler: SQLCompiler, **kw: Any) -> str:
    offset = _offset(element, compiler, **kw)
    if offset is None:
        return f"strftime({_SQLITE_FORMAT}, 'now')"
    return f"strftime({_SQLITE_FORMAT}, 'now', printf('%+.6f seconds', {offset}))"


def db_now(offset_seconds: float | ColumnElement[float] | None = None) -> DbNow:
    """The database's ``now`` (plus ``offset_seconds``), for a statement to write or compare."""
    if offset_seconds is None:
        return DbNow()
    if isinstance(offset_seconds, ColumnElement):
        return DbNow(offset_seconds)
    return DbNow(literal(float(offset_seconds), Float()))


class NewLease(FunctionElement[Any]):
    """A fresh random UUID per row, made by the database (for statements that lease many rows)."""

    inherit_cache = True
    type = Uuid()
    name = "new_lease"


@compiles(NewLease, "postgresql")
def _new_lease_postgres(element: NewLease, compiler: SQLCompiler, **kw: Any) -> str:
    return "gen_random_uuid()"


@compiles(NewLease)
def _new_lease_default(element: NewLease, compiler: SQLCompiler, **kw: Any) -> str:
    return "lower(hex(randomblob(16)))"  # SQLite: a Uuid is stored as 32 hex digits
