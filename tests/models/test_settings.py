"""Production defaults: the demo store and the `noop` store are on in embedded mode only."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

from models.settings import Settings, mask_url

PG = "postgresql+asyncpg://root@127.0.0.1:5432/taskdeck"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TASKDECK_DEMO_STORE", "TASKDECK_NOOP_STORE", "TASKDECK_ALLOWED_HOSTS", "TASKDECK_HOST"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("database_url", "redis_url", "env", "demo", "noop"),
    [
        (None, None, {}, True, True),  # embedded: `make run` on a fresh machine
        (PG, "redis://r:6379/0", {}, False, False),  # a deployment
        (PG, None, {}, False, False),
        (None, "redis://r:6379/0", {}, False, False),
        (PG, "redis://r:6379/0", {"TASKDECK_NOOP_STORE": "true"}, False, True),
        (PG, "redis://r:6379/0", {"TASKDECK_DEMO_STORE": "true"}, True, True),
        (None, None, {"TASKDECK_DEMO_STORE": "false"}, False, False),
        (None, None, {"TASKDECK_DEMO_STORE": "false", "TASKDECK_NOOP_STORE": "1"}, False, True),
    ],
)
def test_demo_and_noop_stores_default_by_mode(
    monkeypatch: pytest.MonkeyPatch,
    database_url: str | None,
    redis_url: str | None,
    env: dict[str, str],
    demo: bool,
    noop: bool,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    urls = {"database_url": database_url} if database_url else {}
    settings = Settings(**urls, redis_url=redis_url)
    assert (settings.demo_store, settings.noop_enabled) == (demo, noop)


def test_allowed_hosts_default_and_list(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().allowed_hosts == ["127.0.0.1", "localhost"]
    assert Settings(host="shop.example").allowed_hosts == ["shop.example", "localhost", "127.0.0.1"]
    monkeypatch.setenv("TASKDECK_ALLOWED_HOSTS", "shop.example, webapp")
    assert Settings().allowed_hosts == ["shop.example", "webapp"]


# ---- strict validation: one line naming the variable, no traceback ------------------------------

BAD = [
    ("TASKDECK_HEARTBEAT_TIMEOUT", "0"),
    ("TASKDECK_SHUTDOWN_GRACE", "-5"),
    ("TASKDECK_BOT_TIMEOUT", "-1"),
    ("TASKDECK_STREAM_MAXLEN", "0"),
    ("TASKDECK_PORT", "99999"),
    ("TASKDECK_SECRET_KEY", "not-a-fernet-key"),
    ("DATABASE_URL", "mysql://u:pw@db/x"),
]


@pytest.mark.parametrize(("name", "value"), BAD)
def test_a_bad_setting_is_one_line_naming_the_variable(name: str, value: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKDECK_") and k != "DATABASE_URL"}
    env[name] = value
    result = subprocess.run(
        [sys.executable, "-c", "from models.settings import load_settings; load_settings('taskdeck')"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"taskdeck: invalid setting {name}"), lines[0]
    assert "Traceback" not in result.stderr
    if name in ("TASKDECK_SECRET_KEY", "DATABASE_URL"):
        assert value not in result.stderr  # a secret or a password is never echoed


def test_heartbeat_timeout_must_exceed_the_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKDECK_HEARTBEAT_INTERVAL", "5")
    monkeypatch.setenv("TASKDECK_HEARTBEAT_TIMEOUT", "5")
    with pytest.raises(ValidationError, match="TASKDECK_HEARTBEAT_TIMEOUT"):
        Settings()


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgresql://u@h:5432/d", "postgresql+asyncpg://u@h:5432/d"),
        ("postgres://u@h/d", "postgresql+asyncpg://u@h/d"),
        ("postgresql+asyncpg://u@h/d", "postgresql+asyncpg://u@h/d"),
        ("sqlite:///./x.db", "sqlite+aiosqlite:///./x.db"),
    ],
)
def test_database_url_without_a_driver_uses_the_async_one(given: str, used: str) -> None:
    assert Settings(database_url=given).database_url == used


def test_a_psycopg_url_is_refused_with_a_clear_error() -> None:
    with pytest.raises(ValidationError, match="unsupported driver 'postgresql\\+psycopg'"):
        Settings(database_url="postgresql+psycopg://u@h/d")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql+asyncpg://taskdeck:s3cret@db:5432/x", "postgresql+asyncpg://taskdeck:***@db:5432/x"),
        ("redis://:s3cret@redis:6379/0", "redis://:***@redis:6379/0"),
        ("redis://redis:6379/0", "redis://redis:6379/0"),
        (None, "None"),
    ],
)
def test_mask_url_hides_the_password(url: str | None, shown: str) -> None:
    assert mask_url(url) == shown
