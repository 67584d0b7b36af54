"""Races between a run, the user and the sweeper: a cancel sticks, runs are told apart by their
lease, a monitor's window holds at the claim, free slots are used (issue 12, holes 1, 4, 7, 9)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import update

from models import claims, outcomes
from models import tasks as ops
from models.db import Database
from models.errors import InvalidTransition
from models.states import TaskStatus
from models.tables import Task, TaskAttempt
from models.types import utcnow
from tests.conftest import wait_for
from tests.workers.conftest import Start, attempts, create, get, purchases, until_status
from workers.bots import registry
from workers.bots.base import BotContext
from workers.bots.base import Purchase as Bought
from workers.errors import NotAvailableYet, RetryableError

STORE = "engine-race"
gates: dict[str, asyncio.Event] = {}
in_stock: dict[str, bool] = {}
ran: list[tuple[str, int]] = []  # (task id, attempt) of every run that ended


def gate(name: str) -> asyncio.Event:
    return gates.setdefault(name, asyncio.Event())


async def race_bot(ctx: BotContext) -> Bought:
    """``gate:N`` waits for gate N; ``attempt-gate:N`` for gate N-<attempt>; ``stock-gate:N`` and
    ``retry-gate:N`` wait for gate N, then say "out of stock" (unless restocked) or "try again"."""
    kind, _, arg = ctx.task.product.partition(":")
    try:
        await ctx.progress("open product", 10)
        if kind == "attempt-gate":
            await gate(f"{arg}-{ctx.task.attempt}").wait()
        elif kind in ("gate", "stock-gate", "retry-gate"):
            await gate(arg).wait()
        if kind == "stock-gate" and not in_stock.get(arg):
            raise NotAvailableYet(observation="out of stock")
        if kind == "retry-gate":
            raise RetryableError("store hiccup")
        return Bought(
            order_number=f"R-{ctx.task.id[:6]}", quantity=1, unit_price=Decimal(1), total=Decimal(1)
        )
    finally:
        ran.append((ctx.task.id, ctx.task.attempt))


registry.register(registry.StoreBot(name=STORE, run=race_bot, needs_browser=False))


@pytest.fixture(autouse=True)
def _reset() -> None:
    gates.clear()
    in_stock.clear()
    ran.clear()


# A heartbeat that never comes during the test: each run ends before its worker hears of the cancel.
DEAF = {"heartbeat_interval": 30.0, "heartbeat_timeout": 120.0}


async def request_cancel(db: Database, task: Task) -> None:
    async with db.begin() as session:
        requested = await ops.cancel_task(session, task_id=task.id)
    assert requested.status == "running" and requested.cancel_requested  # the API's 202


# ---- 1. a cancel answered 202 sticks ------------------------------------------------------


async def test_cancelled_monitors_never_buy_after_the_restock(db: Database, runtimes: Start) -> None:
    rt = await runtimes(worker_concurrency=5, **DEAF)
    monitors = [
        await create(db, rt, store=STORE, product="stock-gate:m", mode="monitor", check_every=0.5)
        for _ in range(5)
    ]
    for task in monitors:
        await until_status(db, task.id, "running")
        await request_cancel(db, task)
    gate("m").set()  # each run ends "out of stock" before a heartbeat could tell it of the cancel
    await wait_for(lambda: len(ran) >= len(monitors), timeout=5, what="every run checked the stock")
    in_stock["m"] = True  # ... and the product is back: a monitor that runs again buys
    for task in monitors:
        done = await until_status(db, task.id, "cancelled", "completed")
        assert done.status == "cancelled", f"cancelled monitor {task.id} ended {done.status}"
        assert await purchases(db, task.id) == 0
        assert done.attempt == 0  # a not-in-stock check costs no attempt, cancelled or not


async def test_cancel_sticks_when_the_run_ends_retrying(db: Database, runtimes: Start) -> None:
    rt = await runtimes(**DEAF)
    task = await create(db, rt, store=STORE, product="retry-gate:r", backoff_seconds=0.1)
    await until_status(db, task.id, "running")
    await request_cancel(db, task)
    gate("r").set()
    done = await until_status(db, task.id, "cancelled", "retrying", "failed")
    assert done.status == "cancelled" and done.error == "cancelled by user"
    assert [a.outcome for a in await attempts(db, task.id)] == ["cancelled"]


async def test_cancel_sticks_when_the_run_is_handed_back(db: Database, runtimes: Start) -> None:
    rt = await runtimes(**DEAF)
    task = await create(db, rt, store=STORE, product="gate:never")
    await until_status(db, task.id, "running")
    await request_cancel(db, task)
    await rt.stop(grace=0)
    assert (await get(db, task.id)).status == "cancelled"


async def test_cancel_sticks_when_the_run_is_rescued(db: Database, runtimes: Start) -> None:
    task = await create(db, None, store=STORE, start="later")
    stale = utcnow() - timedelta(seconds=60)
    async with db.begin() as session:  # a worker died after the user asked to cancel
        await session.execute(
            update(Task)
            .where(Task.id == task.id)  # type: ignore[arg-type]
            .values(status="running", attempt=1, worker_id="dead", heartbeat_at=stale, cancel_requested=True)
        )
        session.add(TaskAttempt(task_id=task.id, number=1, worker_id="dead", started_at=stale))
    await runtimes()
    done = await until_status(db, task.id, "cancelled", "completed")
    assert done.status == "cancelled" and not ran


# ---- 4. a lease per claim -----------------------------------------------------------------


async def test_a_stale_run_cannot_write_after_a_retry_reset_its_attempt(db: Database) -> None:
    task = await create(db, None, store=STORE, product="p")
    async with db.begin() as session:
        first = await claims.claim_next(session, worker_id="w")
    assert first is not None and first.attempt == 1
    async with db.begin() as session:  # the run is rescued, fails elsewhere, and is retried
        await session.execute(
            # attempt 0 again (a retry continues the numbering): the next run has the same number
            update(Task).where(Task.id == task.id).values(status="failed", attempt=0)  # type: ignore[arg-type]
        )
        await ops.start_task(session, task_id=task.id, action="retry")
    async with db.begin() as session:
        second = await claims.claim_next(session, worker_id="w")  # same worker, same attempt number
    assert second is not None and second.attempt == first.attempt
    async with db.begin() as session:
        assert not await claims.checkpoint(session, task=first, worker_id="w", name="place order", known=[])
        assert not await claims.progress(session, task=first, worker_id="w", step="x", percent=50)
        with pytest.raises(InvalidTransition):
            await outcomes.record_outcome(
                session, task=first, worker_id="w", to=TaskStatus.COMPLETED, outcome="x"
            )
    async with db.begin() as session:
        assert await claims.checkpoint(session, task=second, worker_id="w", name="place order", known=[])


async def test_a_worker_reclaiming_its_own_task_tracks_the_new_run(db: Database, runtimes: Start) -> None:
    rt = await runtimes(worker_concurrency=2, heartbeat_timeout=120.0)
    task = await create(db, rt, store=STORE, product="attempt-gate:g")
    await until_status(db, task.id, "running", timeout=30)
    async with db.begin() as session:  # rescued while this worker's heartbeats did not get through
        await session.execute(
            update(Task).where(Task.id == task.id).values(status="queued", worker_id=None)  # type: ignore[arg-type]
        )
    await rt.kick(task.id)
    await wait_for(lambda: _attempt(db, task, 2), timeout=30, what="second run claimed")
    # the old run's heartbeat finds its lease gone and stops it, gate still closed: a lost run does
    # not go on to buy beside the new one (opening the gate first would race that heartbeat)
    await wait_for(lambda: (str(task.id), 1) in ran, timeout=30, what="old run stopped as lost")
    gate("g-1").set()
    seen = (await get(db, task.id)).heartbeat_at
    assert seen is not None
    await wait_for(lambda: _beat_after(db, task, seen), timeout=30, what="the new run heart-beating")
    await request_cancel(db, task)
    done = await until_status(db, task.id, "cancelled", timeout=30)
    assert done.attempt == 2 and await purchases(db, task.id) == 0


async def _attempt(db: Database, task: Task, n: int) -> bool:
    row = await get(db, task.id)
    return row.status == "running" and row.attempt == n


async def _beat_after(db: Database, task: Task, seen: object) -> bool:
    row = await get(db, task.id)
    return row.heartbeat_at is not None and row.heartbeat_at > seen  # type: ignore[operator]


# ---- 7. a monitor's window holds when it is claimed ---------------------------------------


async def test_a_monitor_claimed_after_its_window_expires_without_running(
    db: Database, runtimes: Start
) -> None:
    task = await create(db, None, store=STORE, product="p", mode="monitor", check_every=60)
    async with db.begin() as session:  # queued, but its window closed before a worker got to it
        await session.execute(
            update(Task).where(Task.id == task.id).values(until=utcnow() - timedelta(seconds=1))  # type: ignore[arg-type]
        )
    await runtimes()
    done = await until_status(db, task.id, "failed", "completed")
    assert done.status == "failed" and "not available before" in (done.error or "")
    assert not ran and await purchases(db, task.id) == 0


# ---- 9. every free slot looks for work ----------------------------------------------------


async def test_free_slots_claim_while_sweeper_claimed_runs_are_busy(db: Database, runtimes: Start) -> None:
    rt = await runtimes(worker_concurrency=4, rekick_after=3600.0)  # no second doorbell
    busy = [await create(db, None, store=STORE, product="gate:busy") for _ in range(2)]
    for task in busy:  # no doorbell: the sweeper's own drains claim them
        await until_status(db, task.id, "running")
    waiting = await create(db, None, store=STORE, product="p")
    await until_status(db, waiting.id, "completed", timeout=10)
    assert len(rt.running) == 2
    gate("busy").set()
