"""The tables of a watch: one product watched at several stores, bought once (``models/watches.py``).

``watch``: the watch and its state (``WatchStatus``); ``claimed_by`` is the listing task that holds
the claim while the watch is ``buying``. ``watch_listing``: one per store and product, each run by
one monitor task (``task_id``), with the last price and stock seen. ``watch_observation``: a row
per listing whenever its price or stock changed. A purchase names its watch (``purchase.watch_id``);
a partial unique index makes a second purchase for one watch impossible.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Column, Field, SQLModel

from models.types import UTCDateTime, one_of, serial_id, timestamp, utcnow


class WatchStatus(StrEnum):
    WATCHING = "watching"  # its listings are checked; none has bought yet
    BUYING = "buying"  # one listing claimed the watch and is buying (``claimed_by``)
    BOUGHT = "bought"  # the one purchase is made; every listing stopped
    UNKNOWN = "unknown"  # an order may have been placed: a person decides (the task is ``unknown``)
    EXPIRED = "expired"  # its ``until`` passed before anything was bought
    CANCELLED = "cancelled"  # stopped by its owner


ACTIVE_WATCH = frozenset({WatchStatus.WATCHING, WatchStatus.BUYING})


class Watch(SQLModel, table=True):
    __tablename__ = "watch"
    __table_args__ = (
        one_of("status", WatchStatus, name="watch_status_valid"),
        sa.CheckConstraint("quantity >= 1", name="watch_quantity_positive"),
        sa.CheckConstraint("check_every > 0", name="watch_check_every_positive"),
        sa.CheckConstraint("status <> 'buying' OR claimed_by IS NOT NULL", name="watch_buying_claimed"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    owner_id: uuid.UUID | None = Field(default=None, foreign_key="user.id", ondelete="CASCADE", index=True)
    name: str = Field(max_length=200)
    quantity: int = 1
    profile_id: uuid.UUID | None = Field(default=None, foreign_key="profile.id", ondelete="SET NULL")
    check_every: float = 60.0  # seconds between checks of each listing
    until: datetime | None = timestamp()  # watching ends then (``expired``)
    status: str = Field(default=WatchStatus.WATCHING.value, max_length=16)
    claimed_by: uuid.UUID | None = None  # the listing task buying now (status ``buying``)
    error: str | None = Field(default=None, sa_column=Column(sa.Text, nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    finished_at: datetime | None = timestamp()


class WatchListing(SQLModel, table=True):
    __tablename__ = "watch_listing"
    __table_args__ = (
        sa.UniqueConstraint("watch_id", "store", "product", name="watch_listing_once"),
        sa.CheckConstraint("max_price >= 0", name="watch_listing_max_price_nonneg"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    watch_id: uuid.UUID = Field(foreign_key="watch.id", ondelete="CASCADE", index=True)
    position: int = 0
    store: str = Field(max_length=64)
    product: str = Field(max_length=500)
    max_price: Decimal = Field(sa_column=Column(sa.Numeric(12, 2), nullable=False))
    task_id: uuid.UUID | None = Field(
        default=None, foreign_key="task.id", ondelete="SET NULL", unique=True
    )  # its monitor task
    last_price: Decimal | None = Field(default=None, sa_column=Column(sa.Numeric(12, 2), nullable=True))
    in_stock: bool | None = None  # None: not checked yet
    changed_at: datetime | None = timestamp()  # the last change of price or stock


class WatchObservation(SQLModel, table=True):
    """A listing's price and stock when either changed (never an unchanged check)."""

    __tablename__ = "watch_observation"
    __table_args__ = (sa.Index("ix_watch_observation_listing", "listing_id", "id"),)

    id: int | None = serial_id()
    listing_id: uuid.UUID = Field(foreign_key="watch_listing.id", ondelete="CASCADE")
    at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    price: Decimal | None = Field(default=None, sa_column=Column(sa.Numeric(12, 2), nullable=True))
    in_stock: bool
