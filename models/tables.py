"""Tables. Alembic owns the DDL (alembic/versions); a test checks models and migrations agree."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import JSON, Column, Field, SQLModel

from models.states import TaskStatus
from models.types import UTCDateTime, one_of, serial_id, timestamp, utcnow


class Task(SQLModel, table=True):
    __tablename__ = "task"
    __table_args__ = (
        one_of("status", TaskStatus, name="task_status_valid"),
        sa.CheckConstraint("mode IN ('once', 'monitor')", name="task_mode_valid"),
        sa.CheckConstraint("quantity >= 1", name="task_quantity_positive"),
        sa.CheckConstraint("max_attempts >= 1", name="task_max_attempts_positive"),
        sa.CheckConstraint("attempt >= 0 AND attempt <= max_attempts", name="task_attempt_in_range"),
        sa.CheckConstraint("progress >= 0 AND progress <= 100", name="task_progress_pct"),
        sa.CheckConstraint("max_price IS NULL OR max_price >= 0", name="task_max_price_nonneg"),
        sa.CheckConstraint("mode = 'once' OR check_every > 0", name="task_monitor_has_interval"),
        # the claim's order over queued tasks only: a claim reads k entries, never sorts the queue
        sa.Index(
            "ix_task_claim_order",
            sa.text("priority DESC"),
            "queued_at",
            "id",
            postgresql_where=sa.text("status = 'queued'"),
            sqlite_where=sa.text("status = 'queued'"),
        ),
        sa.Index("ix_task_due", "status", "run_at"),
        sa.Index("ix_task_store_started", "store", "started_at"),
        sa.Index("ix_task_created", "created_at"),
        sa.Index("ix_task_finished", "status", "finished_at"),  # throughput charts
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(max_length=200)
    store: str = Field(max_length=64)
    product: str = Field(max_length=500)
    quantity: int = 1
    max_price: Decimal | None = Field(default=None, sa_column=Column(sa.Numeric(12, 2), nullable=True))
    status: str = Field(default=TaskStatus.PENDING.value, max_length=16)
    priority: int = 0
    mode: str = Field(default="once", max_length=16)
    check_every: float | None = None  # seconds between monitor checks
    until: datetime | None = timestamp()  # monitor window end
    run_at: datetime | None = timestamp()  # when a scheduled/retrying task is due
    max_attempts: int = 3
    backoff_base: float | None = None  # seconds; None = settings default
    backoff_cap: float | None = None
    attempt: int = 0  # attempts used so far (the running one included)
    attempts_per_run: int | None = None  # a retry's fresh attempts (None: max_attempts, never retried)
    checks: int = 0  # monitor checks made
    last_check: str | None = Field(default=None, max_length=500)
    last_check_at: datetime | None = timestamp()
    progress: int = 0
    step: str | None = Field(default=None, max_length=100)
    error: str | None = Field(default=None, sa_column=Column(sa.Text, nullable=True))
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    checkpoints: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    cancel_requested: bool = False
    trace: bool = False  # keep a Playwright trace of every attempt, not only failed ones
    profile_id: uuid.UUID | None = Field(default=None, foreign_key="profile.id", ondelete="SET NULL")
    owner_id: uuid.UUID | None = Field(default=None, foreign_key="user.id", ondelete="CASCADE", index=True)
    worker_id: str | None = Field(default=None, max_length=100)
    lease: uuid.UUID | None = None  # the current run's own id, fresh at every claim; guards its writes
    heartbeat_at: datetime | None = timestamp()
    queued_at: datetime | None = timestamp()
    kicked_at: datetime | None = timestamp()  # last doorbell sent
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    started_at: datetime | None = timestamp()
    finished_at: datetime | None = timestamp()

    @property
    def budget(self) -> int:
        """The attempts a run gets, the number a person set (``maxAttempts`` on the wire). A retry
        continues the numbering, so ``max_attempts`` (the ceiling of the current run) moves on
        by this much at each retry while the budget stays."""
        return self.attempts_per_run or self.max_attempts

    @property
    def run_attempt(self) -> int:
        """The attempts used in the current run, counted from 1 (0 before its first claim): what a
        person reads as "attempt n of ``budget``". A retry continues the numbering (#4 after #3:
        ``attempt``, the history's numbers) while this starts over, and so does the backoff.

        attempt 4, max_attempts 6, budget 3 → 1; attempt 2, max 3, never retried → 2; retried and
        not yet claimed (attempt 3, max 6, budget 3) → 0."""
        return max(0, self.attempt - (self.max_attempts - self.budget))


class TaskEvent(SQLModel, table=True):
    """Every state change and progress step; the live hub catches up from here."""

    __tablename__ = "task_event"
    __table_args__ = (
        sa.Index("ix_task_event_task", "task_id", "id"),
        sa.Index("ix_task_event_at", "at"),  # throughput charts read recent events by time
        # SQLite: ids are never reused after the newest rows are deleted (the live hub keys on them)
        {"sqlite_autoincrement": True},
    )

    id: int | None = serial_id()
    task_id: uuid.UUID = Field(foreign_key="task.id", ondelete="CASCADE")
    at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    kind: str = Field(max_length=16)  # state | progress | log | checkpoint | artifact
    status: str | None = Field(default=None, max_length=16)
    step: str | None = Field(default=None, max_length=100)
    progress: int | None = None
    message: str | None = Field(default=None, sa_column=Column(sa.Text, nullable=True))
    data: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class TaskAttempt(SQLModel, table=True):
    __tablename__ = "task_attempt"
    __table_args__ = (sa.Index("ix_task_attempt_task", "task_id", "id"),)

    id: int | None = serial_id()
    task_id: uuid.UUID = Field(foreign_key="task.id", ondelete="CASCADE")
    number: int
    worker_id: str | None = Field(default=None, max_length=100)
    started_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    finished_at: datetime | None = timestamp()
    outcome: str | None = Field(default=None, max_length=32)
    error: str | None = Field(default=None, sa_column=Column(sa.Text, nullable=True))


class Purchase(SQLModel, table=True):
    """An order placed for a task; the unique key makes a second one impossible."""

    __tablename__ = "purchase"
    __table_args__ = (
        sa.CheckConstraint("quantity >= 1", name="purchase_quantity_positive"),
        # at most one purchase per watch, whatever the code does (models/watches.py)
        sa.Index(
            "uq_purchase_watch",
            "watch_id",
            unique=True,
            postgresql_where=sa.text("watch_id IS NOT NULL"),
            sqlite_where=sa.text("watch_id IS NOT NULL"),
        ),
    )

    id: int | None = serial_id()
    task_id: uuid.UUID | None = Field(default=None, foreign_key="task.id", ondelete="SET NULL", unique=True)
    owner_id: uuid.UUID | None = Field(default=None, foreign_key="user.id", ondelete="CASCADE", index=True)
    store: str = Field(max_length=64)
    product: str = Field(max_length=500)
    product_name: str | None = Field(default=None, max_length=200)
    quantity: int
    unit_price: Decimal = Field(sa_column=Column(sa.Numeric(12, 2), nullable=False))
    total: Decimal = Field(sa_column=Column(sa.Numeric(12, 2), nullable=False))
    currency: str = Field(default="USD", max_length=3)
    order_number: str = Field(max_length=100)
    screenshot: str | None = Field(default=None, max_length=200)
    watch_id: uuid.UUID | None = Field(default=None, foreign_key="watch.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class Worker(SQLModel, table=True):
    """A live (or gone) worker process, for the queue page and stuck-task rescue."""

    __tablename__ = "worker"

    id: str = Field(primary_key=True, max_length=100)
    host: str = Field(max_length=200)
    pid: int
    version: str = Field(max_length=32)
    status: str = Field(default="up", max_length=16)  # up | stopping | gone
    concurrency: int = 1
    running: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    processed: int = 0
    browser_contexts: int = 0  # contexts open in its Chromium at the last beat (for /metrics)
    browser_memory_mb: float | None = None  # its Chromium's memory at the last beat (PSS, else RSS)
    started_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    last_seen: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class Profile(SQLModel, table=True):
    """A checkout profile; everything but its name is encrypted at rest."""

    __tablename__ = "profile"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    owner_id: uuid.UUID | None = Field(default=None, foreign_key="user.id", ondelete="CASCADE", index=True)
    name: str = Field(max_length=100)
    secret: str = Field(sa_column=Column(sa.Text, nullable=False))  # Fernet token of the JSON fields
    card_last4: str | None = Field(default=None, max_length=4)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class Account(SQLModel, table=True):
    """A store login; the password is encrypted at rest."""

    __tablename__ = "account"
    __table_args__ = (
        sa.UniqueConstraint("owner_id", "store", "login", name="account_owner_store_login_key"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    owner_id: uuid.UUID | None = Field(default=None, foreign_key="user.id", ondelete="CASCADE", index=True)
    store: str = Field(max_length=64)
    login: str = Field(max_length=200)
    secret: str = Field(sa_column=Column(sa.Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class User(SQLModel, table=True):
    """A person who signs in. Emails are stored lower-cased; the unique index makes them
    case-insensitively unique."""

    __tablename__ = "user"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    email: str = Field(max_length=254, unique=True)
    password_hash: str = Field(max_length=200)  # argon2id (pwdlib)
    is_admin: bool = False
    disabled: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    last_login_at: datetime | None = timestamp()


class ApiToken(SQLModel, table=True):
    """A bearer token for the API. Only its SHA-256 is stored; the token is shown once."""

    __tablename__ = "api_token"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    owner_id: uuid.UUID = Field(foreign_key="user.id", ondelete="CASCADE", index=True)
    name: str = Field(max_length=100)
    token_hash: str = Field(max_length=64, unique=True)  # hex SHA-256 of the token
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    last_used_at: datetime | None = timestamp()


# Which code runs on which schema (models/migrations.py): a row per revision since 0006, written
# by the revision itself. Not an ORM model; only the start-up check reads it.
schema_compat = sa.Table(
    "schema_compat",
    SQLModel.metadata,
    sa.Column("revision", sa.String(length=32), primary_key=True),
    sa.Column("oldest_code", sa.String(length=32), nullable=False),
)


class IdempotencyKey(SQLModel, table=True):
    """An ``Idempotency-Key`` a user sent with ``POST /api/tasks``: the hash of the body and the
    answer given, replayed for the same key and body for 24 hours (then pruned). Unique per user
    and key, so two concurrent requests with one key create the tasks once."""

    __tablename__ = "idempotency_key"
    __table_args__ = (
        sa.UniqueConstraint("owner_id", "key", name="uq_idempotency_key_owner_key"),
        sa.Index("ix_idempotency_key_created_at", "created_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    owner_id: uuid.UUID = Field(foreign_key="user.id", ondelete="CASCADE")
    key: str = Field(max_length=255)
    body_hash: str = Field(max_length=64)  # hex SHA-256 of the canonical JSON body
    status_code: int
    response: Any = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class Webhook(SQLModel, table=True):
    """Where a user's events are POSTed. ``events`` is a comma-separated list of event names;
    ``secret`` (the signing secret) is sealed by the vault, shown once when the hook is made."""

    __tablename__ = "webhook"
    __table_args__ = (
        sa.CheckConstraint("format IN ('json', 'discord', 'slack')", name="webhook_format_valid"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    owner_id: uuid.UUID = Field(foreign_key="user.id", ondelete="CASCADE", index=True)
    url: str = Field(max_length=2000)
    events: str = Field(max_length=300)
    format: str = Field(default="json", max_length=16)
    secret: str = Field(sa_column=Column(sa.Text, nullable=False))
    enabled: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class WebhookDelivery(SQLModel, table=True):
    """One event for one webhook: the outbox row, written in the transaction that records the
    event, then POSTed (and retried) by the workers' delivery loop."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'failed')", name="webhook_delivery_status_valid"
        ),
        sa.Index("ix_webhook_delivery_due", "status", "next_at"),
        sa.Index("ix_webhook_delivery_hook", "webhook_id", "id"),
    )

    id: int | None = serial_id()
    webhook_id: uuid.UUID = Field(foreign_key="webhook.id", ondelete="CASCADE")
    event: str = Field(max_length=32)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="pending", max_length=16)
    tries: int = 0
    next_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    delivered_at: datetime | None = timestamp()
    last_code: int | None = None


class WebhookAttempt(SQLModel, table=True):
    """One POST of a delivery: the answer's status code or the error, and how long it took."""

    __tablename__ = "webhook_attempt"
    __table_args__ = (sa.Index("ix_webhook_attempt_delivery", "delivery_id", "id"),)

    id: int | None = serial_id()
    delivery_id: int = Field(
        sa_column=Column(
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            sa.ForeignKey("webhook_delivery.id", ondelete="CASCADE"),
            nullable=False,
        )
    )
    at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    status_code: int | None = None
    error: str | None = Field(default=None, sa_column=Column(sa.Text, nullable=True))
    duration_ms: int = 0


class QueuePause(SQLModel, table=True):
    """Processing held by an admin: ``store`` = ``*`` holds the whole queue, else that store's
    tasks. While a row stands, the claim takes no queued task it covers (``models.pauses``)."""

    __tablename__ = "queue_pause"

    store: str = Field(primary_key=True, max_length=64)  # a store's name, or ALL_STORES ("*")
    paused_by: uuid.UUID | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    paused_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


# the watch tables live in their own module; imported here so the metadata holds them
from models.watch_tables import Watch, WatchListing, WatchObservation  # noqa: E402, F401
