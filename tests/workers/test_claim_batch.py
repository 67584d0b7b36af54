"""Claiming several tasks in one statement and writing concurrent outcomes as one group commit
(issue 9): each claimed run still has its own lease, attempt row, event and NOTIFY; a refused
outcome in a group leaves the others written; a purchase is never taken back."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import asyncpg
from sqlalchemy import func, select, text, update

from models import claims
from models.db import Database
from models.states import TaskStatus
from models.tables import Purchase, Task, TaskAttempt, TaskEvent
from tests.workers.conftest import Start, attempts, create, get, purchases, until_status
from workers.bots import registry
from workers.bots.base import BotContext
from workers.bots.base import Purchase as Bought
from workers.group_commit import GroupCommit

STORE = "engine-batch"
gate = asyncio.Event()
seen_runs: list[tuple[str, int]] = []


async def batch_bot(ctx: BotContext) -> Bought:
    """``gate``: waits for the module's gate; anything else buys at once."""
    if ctx.task.product == "gate":
        await gate.wait()
    seen_runs.append((ctx.task.id, ctx.task.attempt))
    return Bought(order_number=f"B-{ctx.task.id[:6]}", quantity=1, unit_price=Decimal(1), total=Decimal(1))


registry.register(registry.StoreBot(name=STORE, run=batch_bot, needs_browser=False))


async def test_claim_many_claims_each_with_its_own_lease_attempt_event_and_notify(db: Database) -> None:
    low = await create(db, None, store=STORE, product="p", priority=0)
    high = [await create(db, None, store=STORE, product="p", priority=5) for _ in range(3)]
    listener = await asyncpg.connect(db.asyncpg_dsn())
    notified: list[dict[str, object]] = []
    await listener.add_listener("taskdeck", lambda *args: notified.append(json.loads(args[3])))
    try:
        async with db.begin() as session:
            claimed = await claims.claim_many(session, worker_id="w", limit=3)
        async with db.begin() as session:
            rest = await claims.claim_many(session, worker_id="w", limit=3)
        async with db.begin() as session:
            none = await claims.claim_many(session, worker_id="w", limit=3)
        for _ in range(50):
            if len(notified) >= 4:
                break
            await asyncio.sleep(0.05)
    finally:
        await listener.close()
    assert {t.id for t in claimed} == {t.id for t in high}  # priority first
    assert [t.id for t in rest] == [low.id] and none == []
    everyone = [*claimed, *rest]
    assert len({t.lease for t in everyone}) == 4 and all(t.lease is not None for t in everyone)
    assert all(t.status == "running" and t.attempt == 1 and t.worker_id == "w" for t in everyone)
    for task in everyone:
        assert [a.number for a in await attempts(db, task.id)] == [1]
        row = await get(db, task.id)
        assert row.status == "running" and row.lease == task.lease
    async with db.session() as session:
        events = (
            await session.scalars(
                select(TaskEvent).where(TaskEvent.status == "running")  # type: ignore[arg-type]
            )
        ).all()
    assert sorted(str(e.task_id) for e in events) == sorted(str(t.id) for t in everyone)
    assert all(e.message == "claimed by w" for e in events)
    by_task = {p["task"]: p for p in notified if p.get("status") == "running"}
    assert set(by_task) == {str(t.id) for t in everyone}
    one = by_task[str(low.id)]
    assert one["kind"] == "state" and one["attempt"] == 1 and one["owner"] is None
    assert one["id"] in {e.id for e in events}


async def test_a_claim_commits_without_waiting_for_its_flush_and_leaves_the_connection_as_it_was(
    db: Database,
) -> None:
    """The claim NOTIFYs; a NOTIFYing commit holds Postgres's notify lock through its WAL flush,
    so the claim turns ``synchronous_commit`` off for its own transaction only (models/claims.py
    ``_ASYNC_COMMIT``): never for the pooled connection, whose next transaction (an outcome,
    a purchase) flushes as always."""
    for _ in range(2):
        await create(db, None, store=STORE, product="p")
    async with db.begin() as session:
        claimed = await claims.claim_many(session, worker_id="w", limit=1)
        inside = (await session.execute(text("SHOW synchronous_commit"))).scalar_one()
    assert len(claimed) == 1 and inside == "off"  # for the claim's own transaction
    async with db.statements() as session:  # as the worker claims: one autocommitted statement
        again = await claims.claim_many(session, worker_id="w", limit=1)
        next_one = (await session.execute(text("SHOW synchronous_commit"))).scalar_one()
    assert len(again) == 1 and next_one == "on"
    async with db.begin() as session:  # the pool's connections kept the server's setting
        assert (await session.execute(text("SHOW synchronous_commit"))).scalar_one() == "on"


async def test_claim_many_with_a_store_limit_stays_inside_it(db: Database) -> None:
    from models.settings import StoreLimit

    for _ in range(3):
        await create(db, None, store=STORE, product="p")
    async with db.begin() as session:
        claimed = await claims.claim_many(
            session, worker_id="w", limit=3, limits={STORE: StoreLimit(max_concurrent=2)}
        )
    assert len(claimed) == 2


async def test_a_group_with_a_refused_outcome_writes_the_others_and_keeps_every_purchase(
    db: Database,
) -> None:
    tasks = [await create(db, None, store=STORE, product="p") for _ in range(3)]
    async with db.begin() as session:
        claimed = await claims.claim_many(session, worker_id="w", limit=3)
    lost = claimed[1]
    async with db.begin() as session:  # rescued elsewhere meanwhile: its lease is gone
        await session.execute(
            update(Task).where(Task.id == lost.id).values(status="queued", lease=None)  # type: ignore[arg-type]
        )
    group = GroupCommit(db, "w")
    bought = {"order_number": "X", "quantity": 1, "unit_price": Decimal(1), "total": Decimal(1)}
    answers = await asyncio.gather(
        *(
            group.write(
                task,
                to=TaskStatus.COMPLETED,
                outcome="completed",
                error=None,
                values={"progress": 100},
                purchase=bought,
            )
            for task in claimed
        )
    )
    assert answers == [True, False, True]
    for task in tasks:
        assert await purchases(db, task.id) == 1  # the refused one's purchase stays too
    assert (await get(db, lost.id)).status == "queued"
    for task in (claimed[0], claimed[2]):
        row = await get(db, task.id)
        assert row.status == "completed" and row.progress == 100
        assert [a.outcome for a in await attempts(db, task.id)] == ["completed"]
    async with db.session() as session:
        open_attempts = await session.scalar(
            select(func.count()).select_from(TaskAttempt).where(TaskAttempt.finished_at.is_(None))  # type: ignore[union-attr]
        )
        assert open_attempts == 1  # only the lost run's, closed by whoever rescued it
        assert await session.scalar(select(func.count()).select_from(Purchase)) == 3


async def test_a_worker_fills_its_free_slots_with_one_claim_and_runs_them_together(
    db: Database, runtimes: Start
) -> None:
    gate.clear()
    rt = await runtimes(worker_concurrency=4)
    tasks = [await create(db, None, store=STORE, product="gate") for _ in range(6)]
    await rt.ring()
    async with db.session() as session:  # the four free slots were filled by the one bell
        running = await session.scalar(
            select(func.count()).select_from(Task).where(Task.status == "running")  # type: ignore[arg-type]
        )
    assert running == 4 and len(rt.running) == 4
    gate.set()
    for task in tasks:
        await until_status(db, task.id, "completed")  # the freed slots claimed the last two
        assert await purchases(db, task.id) == 1
