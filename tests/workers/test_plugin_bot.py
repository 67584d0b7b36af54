"""A store bot shipped as its own package (tests/plugins/taskdeck-example-bot, installed for the
tests only by `make test-plugin`) is found through the `taskdeck.bots` entry point and runs in a
real browser; what `make run` serves does not have it."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import entry_points

import pytest

from models.db import Database
from tests.workers.conftest import Start, create, purchases, until_status
from workers.bots import registry


def test_entry_point_is_installed_and_registered() -> None:
    names = [ep.name for ep in entry_points(group=registry.ENTRY_POINT_GROUP)]
    assert "example-shop" in names, "run `make test-plugin` (make test does): it installs the test plugin"
    assert "example-shop" in registry.names()
    assert registry.get("example-shop").title == "Example shop (plugin)"


def test_the_plugin_is_not_served_by_make_run() -> None:
    """`make run` is this venv's python without the tests' path: the plugin's store is unknown there."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("TASKDECK_")}
    script = "from workers.bots import registry; registry.configure(noop=True); print(registry.names())"
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert "demo" in out.stdout and "example-shop" not in out.stdout


def test_duplicate_store_name_is_an_error() -> None:
    spec = registry.get("demo")
    with pytest.raises(registry.DuplicateStore):
        registry.register(registry.StoreBot(name="demo", run=spec.run, title="impostor"))


def test_unknown_store_is_a_clear_permanent_error() -> None:
    with pytest.raises(registry.UnknownStore, match=r"unknown store .nope.; known stores: .*demo"):
        registry.get("nope")


async def test_plugin_bot_runs_end_to_end(db: Database, runtimes: Start) -> None:
    rt = await runtimes()
    task = await create(db, rt, store="example-shop", product="Plugin Lamp", quantity=3)
    done = await until_status(db, task.id, "completed", "failed", timeout=30)
    assert done.status == "completed", done.error
    assert done.result is not None and done.result["orderNumber"].startswith("EX-")
    assert done.result["total"] == 9.75 and await purchases(db, task.id) == 1
