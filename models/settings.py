"""Taskdeck's configuration: one pydantic-settings class.

Only entry points build it (`webapp/main.py`, `workers/broker.py`, `alembic/env.py`); everything
else receives it or what was built from it. `DATABASE_URL` and `REDIS_URL` keep their
conventional names; every other variable is prefixed `TASKDECK_`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, BaseModel, Field, NonNegativeFloat, PositiveFloat, PositiveInt
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    demo_store: bool = True
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

    # browser
    browser_path: str | None = None
    headless: bool = True
    browser_recycle_after: PositiveInt = 100  # tasks per Chromium before a fresh one
    browser_memory_limit_mb: PositiveInt = 1500  # Chromium's tree above this → recycled
    artifacts_dir: Path = Path("./artifacts")
    artifacts_keep_tasks: PositiveInt = 500  # newest tasks whose artifacts are kept

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def embedded_queue(self) -> bool:
        return not self.redis_url

    def store_base_url(self) -> str:
        return self.demo_store_url or f"http://{self.host}:{self.port}/demo-store"
