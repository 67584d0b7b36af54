"""Retention: the sweeper prunes old finished tasks with their events and artifacts, in batches,
and trims the Redis stream without dropping an entry not yet delivered or acknowledged."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from sqlalchemy import func, select, text, update
from sqlmodel import col

from models.db import Database
from models.events import publish
from models.tables import Purchase, Task, TaskEvent
from tests.conftest import REDIS_URL
from tests.workers.conftest import Start, create
from workers import queue, sweeper


async def _finish(db: Database, task: Task, *, status: str, days_ago: float) -> None:
    async with db.begin() as session:
        await session.execute(
            update(Task)
            .where(col(Task.id) == task.id)
            .values(status=status, finished_at=func.now() - text(f"interval '{days_ago} days'"))
        )
        await publish(session, task_id=task.id, kind="state", status=status)


async def test_old_finished_tasks_their_events_and_artifacts_go_the_rest_stays(
    db: Database, runtimes: Start, monkeypatch: Any
) -> None:
    monkeypatch.setattr(sweeper, "PRUNE_EVERY", 1e9)  # this test calls the pass itself
    rt = await runtimes(retention_days=30, worker_concurrency=1)
    rt.stopping = True  # this test's sweeps only; nothing claims
    old = [await create(db, name=f"old{i}") for i in range(3)]
    recent = await create(db, name="recent")
    await _finish(db, recent, status="failed", days_ago=29)
    doubt = await create(db, name="in doubt")
    await _finish(db, doubt, status="unknown", days_ago=90)  # a person decides; never pruned
    async with db.begin() as session:
        session.add(
            Purchase(
                task_id=old[0].id,
                store="demo",
                product="p",
                quantity=1,
                unit_price=1,
                total=1,
                order_number="A1",
            )
        )
    for t in old:
        await _finish(db, t, status="completed", days_ago=31)
    assert rt.artifacts is not None
    for t in (*old, recent):
        rt.artifacts.task_dir(str(t.id)).mkdir(parents=True, exist_ok=True)
        (rt.artifacts.task_dir(str(t.id)) / "step.png").write_bytes(b"png")

    assert await sweeper.retain(rt.db, rt.settings, artifacts=rt.artifacts, trim=rt.trim) == 3

    async with db.session() as session:
        left = set((await session.execute(select(Task.name))).scalars())
        gone = [t.id for t in old]
        events = (
            await session.execute(select(func.count()).where(col(TaskEvent.task_id).in_(gone)))
        ).scalar_one()
        kept = (await session.execute(select(func.count()).select_from(TaskEvent))).scalar_one()
        purchase = (await session.execute(select(Purchase))).scalar_one()
    assert left == {"recent", "in doubt"}
    assert events == 0 and kept > 0  # the old tasks' events went with them, the others' stay
    assert purchase.task_id is None and purchase.order_number == "A1"  # money spent is kept
    assert not any(rt.artifacts.task_dir(str(t.id)).exists() for t in old)
    assert rt.artifacts.task_dir(str(recent.id)).exists()


async def test_retention_works_in_small_batches(db: Database, runtimes: Start, monkeypatch: Any) -> None:
    from models import retention

    monkeypatch.setattr(retention, "BATCH", 2)
    monkeypatch.setattr(sweeper, "PRUNE_EVERY", 1e9)
    rt = await runtimes(retention_days=1)
    rt.stopping = True
    for i in range(5):
        await _finish(db, await create(db, name=f"t{i}"), status="cancelled", days_ago=2)
    pruned = await sweeper.retain(rt.db, rt.settings, artifacts=rt.artifacts, trim=rt.trim)
    assert pruned == 5  # 2 + 2 + 1, each its own transaction
    async with db.session() as session:
        assert (await session.execute(select(func.count()).select_from(Task))).scalar_one() == 0


async def test_stream_trim_keeps_undelivered_and_pending_entries(redis_queue: str) -> None:
    client = aioredis.from_url(REDIS_URL, decode_responses=True)
    group = f"{redis_queue}-workers"
    try:
        await client.xgroup_create(redis_queue, group, id="0", mkstream=True)
        ids = [await client.xadd(redis_queue, {"data": str(i)}) for i in range(10)]
        delivered = await client.xreadgroup(group, "c1", {redis_queue: ">"}, count=6)
        assert [e[0] for e in delivered[0][1]] == ids[:6]
        await client.xack(redis_queue, group, ids[0], ids[1], ids[3], ids[4])  # ids[2], ids[5] pending

        assert (
            await queue.trim_stream(client, stream=redis_queue, group=group, maxlen=100) == 0
        )  # short: kept
        assert await queue.trim_stream(client, stream=redis_queue, group=group) == 2
        left = [e[0] for e in await client.xrange(redis_queue)]
        assert left == ids[2:]  # the oldest pending one and everything after it stay

        await client.xack(redis_queue, group, ids[2], ids[5])
        assert await queue.trim_stream(client, stream=redis_queue, group=group) == 4
        assert [e[0] for e in await client.xrange(redis_queue)] == ids[6:]  # never delivered: kept
        pending = await client.xpending(redis_queue, group)
        assert pending["pending"] == 0
    finally:
        await client.aclose()
