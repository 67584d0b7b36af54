"""Production defaults: the demo store and the `noop` store are on in embedded mode only."""

from __future__ import annotations

import pytest

from models.settings import Settings

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
