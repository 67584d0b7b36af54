"""A new task in one autocommitted statement (``models.task_insert``): the row, its ``created``
event and the NOTIFY (naming the owner) all land, and the statement is the only one sent."""

from __future__ import annotations

import asyncio
import json

import asyncpg
from sqlalchemy import event, select

from models.db import Database
from models.events import CHANNEL
from models.schemas import TaskCreate
from models.settings import Settings
from models.tables import Task, TaskEvent
from models.task_insert import insert_task
from models.tasks import build_task
from tests.conftest import AuthUser


async def test_row_event_and_notify_in_one_round_trip(db: Database, api_user: AuthUser) -> None:
    got: asyncio.Queue[dict] = asyncio.Queue()
    conn = await asyncpg.connect(db.asyncpg_dsn())
    await conn.add_listener(CHANNEL, lambda *args: got.put_nowait(json.loads(args[-1])))
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    try:
        task = build_task(
            TaskCreate(name="one trip", store="noop", product="p", start="now", quantity=2),
            settings=Settings(),
            owner_id=api_user.id,
        )
        async with db.autocommit() as sa_conn:
            event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
            try:
                event_id = await insert_task(sa_conn, task)
            finally:
                event.remove(db.engine.sync_engine, "before_cursor_execute", seen)
        assert len(statements) == 1 and statements[0].lstrip().upper().startswith("WITH")
        payload = await asyncio.wait_for(got.get(), 5)
        assert payload["id"] == event_id and payload["task"] == str(task.id)
        assert payload["owner"] == str(api_user.id) and payload["status"] == "queued"
        assert payload["kind"] == "state" and isinstance(payload["ts"], float)
        assert payload["created"] is True  # a new task: /tasks re-reads which tasks it shows
        async with db.session() as session:  # committed without a transaction of its own
            row = await session.get(Task, task.id)
            assert row is not None and row.status == "queued" and row.quantity == 2
            assert row.owner_id == api_user.id and row.queued_at is not None
            ev = (await session.execute(select(TaskEvent).where(TaskEvent.id == event_id))).scalar_one()
            assert (ev.task_id, ev.kind, ev.status, ev.message) == (task.id, "state", "queued", "created")
    finally:
        await conn.close()
