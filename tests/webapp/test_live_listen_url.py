"""``TASKDECK_LISTEN_DATABASE_URL``: the live hub's LISTEN connection goes there, not through
``DATABASE_URL`` (behind PgBouncer in transaction mode a LISTEN on a pooled connection is lost)."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import text
from sqlalchemy.engine import make_url

from models.db import Database
from models.events import publish
from models.tables import Task
from tests.conftest import wait_for
from webapp.live import LiveHub


async def test_the_hub_listens_on_the_listen_url(db: Database, pg_url: str) -> None:
    name = f"taskdeck-listen-{uuid.uuid4().hex[:8]}"
    listen_url = (
        make_url(pg_url).update_query_dict({"application_name": name}).render_as_string(hide_password=False)
    )
    hub = LiveHub(db, listen_url=listen_url)
    heard: list[dict[str, object]] = []
    hub.changes.subscribe(heard.extend, unsubscribe_on_delete=False)
    await hub.start()
    try:
        await wait_for(lambda: hub.connected, timeout=15, what="the hub connected")

        async def listening() -> object:
            async with db.session() as session:
                return await session.scalar(
                    text("SELECT query FROM pg_stat_activity WHERE application_name = :n"), {"n": name}
                )

        query = await wait_for(listening, timeout=10, what="a connection named by the listen URL")
        assert "LISTEN" in str(query).upper()

        async with db.begin() as session:
            task = Task(name="t", store="noop", product="p")
            session.add(task)
            await session.flush()
            await publish(session, task_id=task.id, kind="state", status="pending")
        await wait_for(
            lambda: any(p.get("task") == str(task.id) for p in heard), timeout=10, what="the NOTIFY"
        )
    finally:
        await hub.stop()
        await asyncio.sleep(0)


def test_without_it_the_hub_uses_the_database_url(db: Database) -> None:
    assert LiveHub(db).listen_dsn == db.asyncpg_dsn()
