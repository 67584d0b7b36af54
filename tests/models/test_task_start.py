"""A person's start in one autocommitted statement (``models.task_start``): the guarded move with
the owner rule in its WHERE, the ``state`` event and the NOTIFY land together and the statement is
the only one sent; anything else (another user's task, a state it cannot start from, a watch's
listing) changes nothing and answers None, for the session path to explain."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import pytest
from sqlalchemy import func, select, update

from models.db import Database
from models.schemas import TaskCreate
from models.settings import Settings
from models.tables import Task, TaskEvent
from models.task_insert import insert_task
from models.task_start import start_now
from models.tasks import build_task
from models.watch_tables import Watch, WatchListing
from tests.conftest import AuthUser
from tests.models.one_trip import one_trip


async def a_task(db: Database, owner: AuthUser, **columns: Any) -> Task:
    task = build_task(
        TaskCreate(name="later", store="noop", product="p", start="later"),
        settings=Settings(),
        owner_id=owner.id,
    )
    async with db.autocommit() as conn:
        await insert_task(conn, task)
    if columns:
        async with db.begin() as session:
            await session.execute(update(Task).where(Task.id == task.id).values(**columns))  # type: ignore[arg-type]
    return task


async def events_of(db: Database, task_id: uuid.UUID) -> list[TaskEvent]:
    async with db.session() as session:
        return list(
            await session.scalars(
                select(TaskEvent).where(TaskEvent.task_id == task_id).order_by(TaskEvent.id)
            )
        )


async def test_move_event_and_notify_in_one_round_trip(db: Database, api_user: AuthUser) -> None:
    task = await a_task(db, api_user, step="open product", progress=40)
    async with one_trip(db) as (sa_conn, trip):
        started = await start_now(sa_conn, task_id=task.id, action="execute", owner_id=api_user.id)
        statements = list(trip.statements)
        payload = await asyncio.wait_for(trip.notified.get(), 5)
    assert len(statements) == 1 and statements[0].lstrip().upper().startswith("WITH")
    assert started is not None and (started.id, started.status) == (task.id, "queued")
    assert started.queued_at is not None and started.owner_id == api_user.id
    evs = await events_of(db, task.id)
    assert [(e.kind, e.status, e.message) for e in evs] == [
        ("state", "pending", "created"),
        ("state", "queued", "started"),
    ]
    assert (evs[-1].step, evs[-1].progress) == ("open product", 40)
    assert payload == {
        "id": evs[-1].id,
        "owner": str(api_user.id),
        "task": str(task.id),
        "kind": "state",
        "status": "queued",
        "step": "open product",
        "progress": 40,
        "ts": payload["ts"],
        "attempt": 0,
    }
    assert isinstance(payload["ts"], float)
    async with db.session() as session:  # committed without a transaction of its own
        row = await session.get(Task, task.id)
        assert row is not None and row.status == "queued" and row.kicked_at is not None


async def test_a_retry_is_a_fresh_run_of_the_budget(db: Database, api_user: AuthUser) -> None:
    task = await a_task(db, api_user, status="failed", attempt=3, max_attempts=3, error="boom")
    async with db.autocommit() as conn:
        started = await start_now(conn, task_id=task.id, action="retry", owner_id=None)  # an admin
    assert started is not None
    assert (started.status, started.attempt, started.max_attempts, started.attempts_per_run) == (
        "queued",
        3,
        6,
        3,
    )
    assert started.error is None and started.run_attempt == 0 and started.budget == 3
    assert (await events_of(db, task.id))[-1].message == "queued again"


@pytest.mark.parametrize("case", ["another user's", "running", "a watch's listing"])
async def test_anything_else_changes_nothing(
    db: Database, api_user: AuthUser, second_user: AuthUser, case: str
) -> None:
    task = await a_task(db, api_user, **({"status": "running"} if case == "running" else {}))
    if case == "a watch's listing":
        async with db.begin() as session:
            watch = Watch(name="w", owner_id=api_user.id)
            session.add(watch)
            await session.flush()
            session.add(
                WatchListing(watch_id=watch.id, store="noop", product="p", max_price=10, task_id=task.id)
            )
    owner = second_user.id if case == "another user's" else api_user.id
    async with db.autocommit() as conn:
        assert await start_now(conn, task_id=task.id, action="execute", owner_id=owner) is None
    async with db.session() as session:
        row = await session.get(Task, task.id)
        assert row is not None and row.status == ("running" if case == "running" else "pending")
    assert len(await events_of(db, task.id)) == 1  # only its ``created``


async def test_a_pinging_database_pings_its_one_statement_writes_in_one_round_trip(pg_url: str) -> None:
    """The web process pings every connection it draws; one in autocommit from the start is pinged
    with ``;`` alone (not BEGIN, ``;``, ROLLBACK), and a connection that died meanwhile is still
    replaced before use (the point of the ping)."""
    db = Database(pg_url, pre_ping=True)
    sent: list[str] = []
    try:
        async with db.autocommit() as conn:
            await conn.execute(select(1))
            killed = (await conn.execute(select(func.pg_backend_pid()))).scalar_one()
        raw = await asyncpg.connect(db.asyncpg_dsn())
        try:
            await raw.execute("SELECT pg_terminate_backend($1)", killed)
        finally:
            await raw.close()
        async with db.autocommit() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            assert driver is not None
            driver.add_query_logger(lambda record: sent.append(record.query))
            assert (await conn.execute(select(func.pg_backend_pid()))).scalar_one() != killed
        async with db.autocommit() as conn:  # drawn again: pinged, then used
            assert (await conn.execute(select(1))).scalar_one() == 1
        assert [
            q.strip().upper() for q in sent if "pg_backend_pid" not in q and "SELECT 1" not in q.upper()
        ] == [";"]
    finally:
        await db.dispose()
