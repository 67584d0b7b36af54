"""The live hub on embedded SQLite: event ids are never reused, so later changes are never taken
for ones already delivered (issue 12, hole 8)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from models import migrations
from models import tasks as ops
from models.db import Database
from models.schemas import TaskCreate
from models.settings import Settings
from models.tables import TaskEvent
from tests.conftest import wait_for
from webapp.live import LiveHub


async def _create(db: Database, name: str) -> Any:
    async with db.begin() as session:
        return await ops.create_task(
            session, data=TaskCreate(name=name, store="noop", product="p", start="later"), settings=Settings()
        )


async def test_deleting_the_newest_task_never_reuses_event_ids(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'live.db'}")
    await migrations.upgrade(db)
    hub = LiveHub(db)
    heard: list[dict[str, Any]] = []
    hub.changes.subscribe(lambda batch: heard.extend(batch))
    await hub.start()
    try:
        await _create(db, "old")
        newest = await _create(db, "newest")
        async with db.begin() as session:
            await ops.start_task(session, task_id=newest.id)  # a second event of the newest task
        async with db.session() as session:
            top = await session.scalar(select(func.max(TaskEvent.id)))
        async with db.begin() as session:  # its events go with it: the highest ids are free again
            await ops.delete_task(session, task_id=newest.id)
        later = await _create(db, "later")
        async with db.begin() as session:
            await ops.start_task(session, task_id=later.id)
        async with db.session() as session:
            ids = list(await session.scalars(select(TaskEvent.id).where(TaskEvent.task_id == later.id)))
        assert ids and min(ids) > top  # type: ignore[operator]
        await wait_for(
            lambda: [p["status"] for p in heard if p["task"] == str(later.id)] == ["pending", "queued"],
            timeout=5,
            what="the live hub delivering the later task's changes",
        )
    finally:
        await hub.stop()
        await asyncio.sleep(0)
        await db.dispose()
