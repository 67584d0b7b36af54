"""Column types that behave the same on Postgres and SQLite, and the column helpers the tables share."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy import DateTime, Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Column, Field


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps: ``timestamptz`` on Postgres, UTC text on SQLite."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: Taskdeck stores aware UTC times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def timestamp(*, nullable: bool = True, index: bool = False) -> Any:
    """A timezone-aware time column (``UTCDateTime``) for a SQLModel field, None by default."""
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


def serial_id() -> Any:
    """A big-integer primary key numbered by the database (a plain INTEGER on SQLite, so it is
    its rowid and autoincrements)."""
    return Field(
        default=None,
        sa_column=Column(
            sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
    )


def one_of(column: str, values: Iterable[StrEnum], *, name: str) -> sa.CheckConstraint:
    """``CHECK (<column> IN ('a', 'b', ...))`` over an enum's values (a state column's guard)."""
    listed = ", ".join(f"'{value.value}'" for value in values)
    return sa.CheckConstraint(f"{column} IN ({listed})", name=name)
