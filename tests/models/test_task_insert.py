"""A new task in one autocommitted statement (``models.task_insert``): the row, its ``created``
event and the NOTIFY (naming the owner) all land, and the statement is the only one sent."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from models.db import Database
from models.schemas import TaskCreate
from models.settings import Settings
from models.tables import Task, TaskEvent
from models.task_insert import insert_task
from models.tasks import build_task
from tests.conftest import AuthUser
from tests.models.one_trip import one_trip


async def test_row_event_and_notify_in_one_round_trip(db: Database, api_user: AuthUser) -> None:
    task = build_task(
        TaskCreate(name="one trip", store="noop", product="p", start="now", quantity=2),
        settings=Settings(),
        owner_id=api_user.id,
    )
    async with one_trip(db) as (sa_conn, trip):
        event_id = await insert_task(sa_conn, task)
        statements = list(trip.statements)
        payload = await asyncio.wait_for(trip.notified.get(), 5)
    assert len(statements) == 1 and statements[0].lstrip().upper().startswith("WITH")
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
