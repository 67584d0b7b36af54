"""Taskdeck's configuration: one pydantic-settings class.

Only entry points build it (`webapp/main.py`, `workers/broker.py`, `alembic/env.py`); everything
else receives it or what was built from it. `DATABASE_URL` and `REDIS_URL` keep their
conventional names; every other variable is prefixed `TASKDECK_`.
"""

from __future__ import annotations

import base64
import binascii
import sys
from pathlib import Path
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit, urlunsplit

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SQLITE_DEFAULT = "sqlite+aiosqlite:///./taskdeck.db"
# URL schemes given without a driver, and the async driver Taskdeck uses for them
ASYNC_DRIVERS = {
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
}
SUPPORTED_DATABASES = ("postgresql+asyncpg", "sqlite+aiosqlite")
Port = Annotated[int, Field(ge=1, le=65535)]


def mask_url(url: str | None) -> str:
    """``url`` with its password replaced by ``***``: the only form in which a URL is logged."""
    if not url:
        return str(url)
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        user = parts.username or ""
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:  # unparseable: show nothing of what followed the scheme
        return url.split(":", 1)[0] + "://***"


class StoreLimit(BaseModel):
    """Politeness towards one store, honoured across all workers."""

    max_concurrent: PositiveInt | None = None  # tasks of this store running at once
    min_interval: NonNegativeFloat = 0.0  # seconds between two task starts


class StoreConfig(StoreLimit):
    """One store of ``TASKDECK_STORES``: where its bot goes (``ctx.store_url``), its limits, and any
    other setting its bot reads from ``ctx.settings``."""

    model_config = ConfigDict(extra="allow")

    url: str | None = None  # the store's base URL, given to its bot as ctx.store_url

    def bot_settings(self) -> dict[str, Any]:
        """What the bot gets as ``ctx.settings``: every setting but the URL."""
        return self.model_dump(exclude={"url"})


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
    port: Port = 8080
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
    # /metrics answers `Authorization: Bearer <this>` (a scraper's own secret) or an admin's token
    # or session; unset: admins only
    metrics_token: str | None = None

    # operations
    log_format: Literal["text", "json"] = "text"  # json: one object a line (task, attempt, worker)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    retention_days: PositiveFloat = 30  # finished tasks, their events and artifacts older → pruned

    # LISTEN needs a direct connection: behind PgBouncer (transaction mode) set this to Postgres itself
    listen_database_url: str | None = None
    # REDIS_URL names a Redis Cluster node (redis+sentinel://host:port,host:port/master is Sentinel)
    redis_cluster: bool = False

    # webhooks: a failed delivery is tried again after base * 2**(tries-1) s (at most an hour)
    # until it is webhook_retry_for s old
    webhook_retry_base: PositiveFloat = 10.0
    webhook_retry_for: PositiveFloat = 24 * 3600.0
    webhook_timeout: PositiveFloat = 10.0  # seconds for one POST
    # seconds between the SSE streams' keep-alive comments (proxies close silent streams)
    sse_heartbeat: PositiveFloat = 15.0

    # queue
    queue_name: str = "taskdeck"  # Redis stream key; tests give each run its own
    # the sweeper trims delivered and acknowledged doorbells once the stream is longer than this
    stream_maxlen: Annotated[int, Field(ge=1000)] = 100_000

    # engine
    max_attempts: PositiveInt = 3
    backoff_base: NonNegativeFloat = 2.0  # seconds; delay = base * 2**(attempt-1) + jitter
    backoff_cap: NonNegativeFloat = 300.0
    bot_timeout: PositiveFloat = 120.0  # seconds for a whole bot run
    step_timeout: PositiveFloat = 15.0  # seconds for any single browser wait inside a bot
    heartbeat_interval: PositiveFloat = 1.0
    heartbeat_timeout: PositiveFloat = 10.0  # a running task whose heartbeat is older is rescued
    sweep_interval: PositiveFloat = 1.0
    rekick_after: PositiveFloat = 10.0  # a queued task not claimed for this long gets a new doorbell
    worker_concurrency: PositiveInt = 4  # tasks one worker process runs at once
    shutdown_grace: NonNegativeFloat = 20.0  # seconds running tasks get to finish on SIGTERM
    store_limits: dict[str, StoreLimit] = Field(default_factory=dict)
    # per store: {"name": {"url": …, "max_concurrent": …, "min_interval": …, <bot settings>}};
    # its limits are folded into store_limits (a store named in both: TASKDECK_STORE_LIMITS wins)
    stores: dict[str, StoreConfig] = Field(default_factory=dict)
    # past the place-order checkpoint, an attempt that ended without a confirmation asks the store
    # this many times, this many seconds apart, before the task is left `unknown` for a person
    order_check_tries: PositiveInt = 3
    order_check_interval: NonNegativeFloat = 5.0
    # a bot that asks for a person (ctx.needs_attention) waits this long by default before it fails
    attention_timeout: PositiveFloat = 600.0

    # browser
    browser_path: str | None = None
    browser_sandbox: bool | None = None  # unset: on unless root; the image sets false (see Dockerfile)
    headless: bool = True
    browser_recycle_after: PositiveInt = 100  # tasks per Chromium before a fresh one
    browser_memory_limit_mb: PositiveInt = 1500  # Chromium's tree above this → recycled
    artifacts_dir: Path = Path("./artifacts")
    artifacts_keep_tasks: PositiveInt = 500  # newest tasks whose artifacts are kept
    traces_keep_days: PositiveFloat = 7  # Playwright traces older than this are deleted
    # all artifacts together stay under this (the least recently written tasks' go first); a task
    # directory untouched for TASKDECK_RETENTION_DAYS goes too
    artifacts_max_mb: PositiveFloat = 2000.0
    # product previews (POST /api/lookup): at most this many at once, the rest answered 503 at once;
    # the web process's own preview Chromium is closed after this many seconds without one
    lookup_concurrency: PositiveInt = 4
    preview_idle_close: PositiveFloat = 60.0

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        scheme, sep, rest = value.partition("://")
        if not sep:
            raise ValueError("not a URL; expected postgresql+asyncpg://user:password@host:5432/name")
        scheme = ASYNC_DRIVERS.get(scheme.lower(), scheme)
        if scheme not in SUPPORTED_DATABASES:
            raise ValueError(
                f"unsupported driver {scheme!r}; use postgresql+asyncpg:// (or postgresql://) or "
                "sqlite+aiosqlite:///path"
            )
        return f"{scheme}://{rest}"

    @field_validator("secret_key")
    @classmethod
    def _fernet_key(cls, value: str | None) -> str | None:
        if not value:
            return None
        try:
            raw = base64.urlsafe_b64decode(value.encode())
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != 32:
            raise ValueError(
                "not a Fernet key (32 url-safe base64 bytes); make one with `python -m webapp secret-key`"
            )
        return value

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [h.strip() for h in value.split(",") if h.strip()]
        return value

    @model_validator(mode="after")
    def _heartbeat_order(self) -> Self:
        if self.heartbeat_timeout <= self.heartbeat_interval:
            raise ValueError(
                f"TASKDECK_HEARTBEAT_TIMEOUT ({self.heartbeat_timeout}) must be above "
                f"TASKDECK_HEARTBEAT_INTERVAL ({self.heartbeat_interval}), or every running task looks dead"
            )
        return self

    @model_validator(mode="after")
    def _embedded_defaults(self) -> Self:
        if self.demo_store is None:
            self.demo_store = self.is_sqlite and self.embedded_queue
        if self.allowed_hosts is None:
            self.allowed_hosts = list(dict.fromkeys([self.host, "localhost", "127.0.0.1"]))
        return self

    @model_validator(mode="after")
    def _fold_store_limits(self) -> Self:
        for name, config in self.stores.items():
            if name not in self.store_limits and (config.max_concurrent or config.min_interval):
                self.store_limits[name] = StoreLimit(
                    max_concurrent=config.max_concurrent, min_interval=config.min_interval
                )
        return self

    def store_url(self, store: str) -> str:
        """The base URL a store's bot is given: ``TASKDECK_STORES``'s ``url``; the demo store's own
        otherwise; "" for a store with none configured."""
        config = self.stores.get(store)
        if config is not None and config.url:
            return config.url.rstrip("/")
        return self.store_base_url() if store == "demo" else ""

    def store_settings(self, store: str) -> dict[str, Any]:
        """What a store's bot gets as ``ctx.settings`` (its limits included)."""
        config = self.stores.get(store)
        if config is not None:
            return config.bot_settings()
        limit = self.store_limits.get(store)
        return limit.model_dump() if limit else {}

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


def env_name(field: str) -> str:
    """The environment variable that sets ``field``."""
    info = Settings.model_fields.get(field)
    if info is None:  # pydantic reports an aliased field by the alias it was read from
        return field
    alias = info.validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return f"TASKDECK_{field.upper()}"


def describe(error: ValidationError) -> list[str]:
    """One line per invalid setting, naming its environment variable (never echoing its value:
    it may be a key or hold a password)."""
    lines = []
    for item in error.errors():
        loc = item["loc"]
        name = env_name(str(loc[0])) if loc else "settings"
        where = "".join(f"[{part}]" for part in loc[1:])
        message = str(item["msg"]).removeprefix("Value error, ")
        lines.append(f"invalid setting {name}{where}: {message}")
    return lines


def load_settings(program: str = "taskdeck") -> Settings:
    """Settings from the environment for an entry point; invalid values end the process with one
    line per variable on stderr (exit status 2), no traceback."""
    try:
        return Settings()
    except ValidationError as exc:
        for line in describe(exc):
            print(f"{program}: {line}", file=sys.stderr)
        raise SystemExit(2) from None
