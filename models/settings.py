"""Taskdeck's configuration: one pydantic-settings class.

Only entry points build it (`webapp/main.py`, `workers/broker.py`, `alembic/env.py`); everything
else receives it or what was built from it. `DATABASE_URL` and `REDIS_URL` keep their
conventional names; every other variable is prefixed `TASKDECK_`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import (
    AliasChoices,
    BaseModel,
    Field,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SQLITE_DEFAULT = "sqlite+aiosqlite:///./taskdeck.db"


class StoreLimit(BaseModel):
    """Politeness towards one store, honoured across all workers."""

    max_concurrent: PositiveInt | None = None  # tasks of this store running at once
    min_interval: NonNegativeFloat = 0.0  # seconds between two task starts


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TASKDECK_", extra="ignore")

    database_url: str = Field(
        default=SQLITE_DEFAULT, validation_alias=AliasChoices("DATABASE_URL", "TASKDECK_DATABASE_URL")
    )
    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("REDIS_URL", "TASKDECK_REDIS_URL")
    )

    # web process
    host: str = "127.0.0.1"
    port: int = 8080
    demo_store: bool | None = None  # unset: on in embedded mode (SQLite, no Redis), off otherwise
    noop_store: bool = False  # the engine-test store `noop`; also on whenever the demo store is
    # Host headers answered (comma-separated; "*" = any); unset: `host`, localhost and 127.0.0.1
    allowed_hosts: Annotated[list[str] | None, NoDecode] = None
    demo_store_url: str | None = None  # where bots reach the demo store; default: this webapp
    # Fernet key for profiles/accounts (every process needs the same); the session cookie's
    # signing secret is derived from it. On Postgres a process refuses to start without one.
    secret_key: str | None = None
    secret_key_file: Path = Path(".taskdeck/secret.key")  # when no key is set; SQLite mode creates it
    session_hours: PositiveFloat = 12.0  # a dashboard sign-in lasts this long
    cookie_secure: bool = False  # mark the session cookie Secure (set it when served over HTTPS)

    # queue
    queue_name: str = "taskdeck"  # Redis stream key; tests give each run its own
    stream_maxlen: int = 100_000  # acked doorbells are trimmed beyond this

    # engine
    max_attempts: PositiveInt = 3
    backoff_base: NonNegativeFloat = 2.0  # seconds; delay = base * 2**(attempt-1) + jitter
    backoff_cap: NonNegativeFloat = 300.0
    bot_timeout: float = 120.0  # seconds for a whole bot run
    step_timeout: float = 15.0  # seconds for any single browser wait inside a bot
    heartbeat_interval: float = 1.0
    heartbeat_timeout: float = 10.0  # a running task whose heartbeat is older is rescued
    sweep_interval: float = 1.0
    rekick_after: float = 10.0  # a queued task not claimed for this long gets a new doorbell
    worker_concurrency: PositiveInt = 4  # tasks one worker process runs at once
    shutdown_grace: float = 20.0  # seconds running tasks get to finish on SIGTERM
    store_limits: dict[str, StoreLimit] = Field(default_factory=dict)
    # past the place-order checkpoint, an attempt that ended without a confirmation asks the store
    # this many times, this many seconds apart, before the task is left `unknown` for a person
    order_check_tries: PositiveInt = 3
    order_check_interval: NonNegativeFloat = 5.0
    # a bot that asks for a person (ctx.needs_attention) waits this long by default before it fails
    attention_timeout: PositiveFloat = 600.0

    # browser
    browser_path: str | None = None
    headless: bool = True
    browser_recycle_after: PositiveInt = 100  # tasks per Chromium before a fresh one
    browser_memory_limit_mb: PositiveInt = 1500  # Chromium's tree above this → recycled
    artifacts_dir: Path = Path("./artifacts")
    artifacts_keep_tasks: PositiveInt = 500  # newest tasks whose artifacts are kept
    traces_keep_days: PositiveFloat = 7  # Playwright traces older than this are deleted

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [h.strip() for h in value.split(",") if h.strip()]
        return value

    @model_validator(mode="after")
    def _embedded_defaults(self) -> Self:
        if self.demo_store is None:
            self.demo_store = self.is_sqlite and self.embedded_queue
        if self.allowed_hosts is None:
            self.allowed_hosts = list(dict.fromkeys([self.host, "localhost", "127.0.0.1"]))
        return self

    @property
    def noop_enabled(self) -> bool:
        """Whether the `noop` store exists (webapp and workers must agree)."""
        return bool(self.demo_store) or self.noop_store

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def embedded_queue(self) -> bool:
        return not self.redis_url

    def store_base_url(self) -> str:
        return self.demo_store_url or f"http://{self.host}:{self.port}/demo-store"
