"""Workers agree with the webapp about which stores exist: `noop` runs only where it is switched on."""

from __future__ import annotations

from models.db import Database
from tests.workers.conftest import Start, create, until_status


async def test_noop_is_unknown_to_a_production_worker(db: Database, runtimes: Start) -> None:
    rt = await runtimes()  # Postgres, demo store and noop store left at their defaults: off
    task = await create(db, rt, store="noop")
    done = await until_status(db, task.id, "completed", "failed")
    assert done.status == "failed"
    assert done.error is not None and "unknown store 'noop'" in done.error


async def test_noop_runs_where_it_is_switched_on(db: Database, runtimes: Start) -> None:
    rt = await runtimes(noop_store=True)
    task = await create(db, rt, store="noop")
    done = await until_status(db, task.id, "completed", "failed")
    assert done.status == "completed", done.error
