"""Events: a row and a notification in the same transaction, delivered only on commit."""

from __future__ import annotations

import asyncio
import json
import time

import asyncpg
import pytest

from models.db import Database
from models.events import CHANNEL, publish
from models.schemas import TaskCreate
from models.settings import Settings
from models.tables import TaskEvent
from models.tasks import create_task
from tests.conftest import AuthUser


async def test_notify_carries_the_committed_event_and_nothing_on_rollback(
    db: Database, api_user: AuthUser
) -> None:
    owner = api_user.id
    got: asyncio.Queue[dict] = asyncio.Queue()
    conn = await asyncpg.connect(db.asyncpg_dsn())
    await conn.add_listener(CHANNEL, lambda *args: got.put_nowait(json.loads(args[-1])))
    try:
        async with db.begin() as session:
            task = await create_task(
                session,
                data=TaskCreate(name="e", store="noop", product="p", start="later"),
                settings=Settings(),
                owner_id=owner,
            )
        created = await asyncio.wait_for(got.get(), 5)
        assert created["task"] == str(task.id) and created["status"] == "pending"
        assert created["owner"] == str(owner)  # the live hub sends it to the owner's pages only
        assert created["created"] is True  # a new task: /tasks re-reads which tasks it shows

        with pytest.raises(RuntimeError):
            async with db.begin() as session:
                await publish(session, task_id=task.id, kind="log", message="rolled back")
                raise RuntimeError
        async with db.begin() as session:
            event_id = await publish(
                session, task_id=task.id, kind="progress", step="check stock", progress=40, attempt=1
            )
        payload = await asyncio.wait_for(got.get(), 5)
        sent = payload.pop("ts")  # the writer's clock, for the live hub's lag (/metrics)
        assert isinstance(sent, float) and abs(sent - time.time()) < 60
        assert payload == {
            "id": event_id,
            "owner": str(owner),
            "task": str(task.id),
            "kind": "progress",
            "status": None,
            "step": "check stock",
            "progress": 40,
            "attempt": 1,
        }
        async with db.session() as session:
            row = await session.get(TaskEvent, event_id)
        assert row is not None and row.step == "check stock"
        assert got.empty()  # the rolled-back event never reached anyone
    finally:
        await conn.close()


async def test_sqlite_listeners_hear_committed_events_only(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from models import migrations

    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'e.db'}")
    await migrations.upgrade(db)
    heard: list[dict] = []
    db.local_listeners.append(heard.extend)
    try:
        async with db.begin() as session:
            task = await create_task(
                session, data=TaskCreate(name="e", store="noop", product="p"), settings=Settings()
            )
        with pytest.raises(RuntimeError):
            async with db.begin() as session:
                await publish(session, task_id=task.id, kind="log", message="rolled back")
                raise RuntimeError
        assert [(p["task"], p["status"]) for p in heard] == [(str(task.id), "queued")]
    finally:
        await db.dispose()
