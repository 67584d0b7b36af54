"""One clock for every process: the database's (issue 12, hole 5). A worker host whose clock is
off must neither get its healthy tasks rescued nor stage tasks before their time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from models import claims, migrations, sweeps
from models import tasks as ops
from models.db import Database
from models.schemas import TaskCreate
from models.settings import Settings
from models.tables import Task

SKEW = timedelta(seconds=11)


def skewed(offset: timedelta) -> Callable[[], datetime]:
    return lambda: datetime.now(UTC) + offset


def skew_process(monkeypatch: pytest.MonkeyPatch, offset: timedelta) -> None:
    """This process's wall clock, as the engine's modules read it, is ``offset`` off."""
    for module in ("models.claims", "models.outcomes", "models.sweeps", "models.tasks", "models.events"):
        monkeypatch.setattr(f"{module}.utcnow", skewed(offset))


async def _create(db: Database, **fields: object) -> Task:
    async with db.begin() as session:
        return await ops.create_task(
            session,
            data=TaskCreate(**{"name": "c", "store": "noop", "product": "p", **fields}),  # type: ignore[arg-type]
            settings=Settings(),
        )


async def test_a_worker_behind_keeps_its_healthy_task(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    task = await _create(db)
    with monkeypatch.context() as m:
        skew_process(m, -SKEW)  # the worker's host is 11 s behind
        async with db.begin() as session:
            claimed = await claims.claim_next(session, worker_id="behind")
        assert claimed is not None and claimed.id == task.id
    async with db.begin() as session:  # a sweeper on a right clock, heartbeat timeout 10 s
        assert await sweeps.rescue_stale(session, timeout=10) == []
    with monkeypatch.context() as m:
        skew_process(m, -SKEW)
        async with db.begin() as session:
            assert await claims.heartbeat(session, runs={claimed.lease: claimed.id})  # type: ignore[dict-item]
    async with db.begin() as session:
        assert await sweeps.rescue_stale(session, timeout=10) == []
    with monkeypatch.context() as m:
        skew_process(m, SKEW)  # ... and one 11 s ahead
        async with db.begin() as session:
            assert await sweeps.rescue_stale(session, timeout=10) == []


async def test_a_sweeper_ahead_stages_nothing_early(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    soon = datetime.now(UTC) + timedelta(seconds=5)
    task = await _create(db, start="at", run_at=soon)
    assert task.status == "scheduled"
    with monkeypatch.context() as m:
        skew_process(m, SKEW)
        async with db.begin() as session:
            assert await sweeps.stage_due(session) == []


async def test_sqlite_uses_its_own_clock_in_the_stored_format(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}")
    await migrations.upgrade(db)
    try:
        past = await _create(db, start="later")
        ahead = await _create(db, start="later")
        now = datetime.now(UTC)
        async with db.begin() as session:
            for task, run_at in ((past, now - timedelta(seconds=1)), (ahead, now + timedelta(minutes=5))):
                await session.execute(
                    update(Task).where(Task.id == task.id).values(status="scheduled", run_at=run_at)  # type: ignore[arg-type]
                )
        async with db.begin() as session:
            assert await sweeps.stage_due(session) == [past.id]
        async with db.begin() as session:
            claimed = await claims.claim_next(session, worker_id="w")
        assert claimed is not None and claimed.heartbeat_at is not None
        assert abs(claimed.heartbeat_at - datetime.now(UTC)) < timedelta(seconds=5)
        async with db.begin() as session:
            assert await sweeps.rescue_stale(session, timeout=10) == []
            assert await sweeps.rescue_stale(session, timeout=-60) == [(past.id, "queued")]
    finally:
        await db.dispose()
