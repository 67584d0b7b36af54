"""The task engine on real Postgres with in-process worker runtimes and test bots.

Real-process proofs (separate `taskiq worker` processes, Redis, Chromium, kill -9) are in
tests/test_reliability.py; these pin down each rule of the lifecycle quickly.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import update

from models import actions
from models import tasks as ops
from models.db import Database
from models.settings import StoreLimit
from models.tables import Task, TaskAttempt
from models.types import utcnow
from tests.conftest import wait_for
from tests.workers.conftest import Start, attempts, create, get, purchases, until_status
from workers.bots import registry
from workers.bots.base import BotContext
from workers.bots.base import Purchase as Bought
from workers.errors import NotAvailableYet, PermanentError, RetryableError

# ---- test bots: behaviour chosen per task through the product field ----------------------

calls: dict[str, list[float]] = {}
running_now: dict[str, int] = {"max": 0, "now": 0}
gates: dict[str, asyncio.Event] = {}
available_at: dict[str, float] = {}


def bought(ctx: BotContext) -> Bought:
    return Bought(
        order_number=f"T-{ctx.task.id[:6]}-{ctx.task.attempt}",
        quantity=ctx.task.quantity,
        unit_price=Decimal("2.50"),
        total=Decimal("2.50") * ctx.task.quantity,
    )


async def engine_bot(ctx: BotContext) -> Bought:
    kind, _, arg = ctx.task.product.partition(":")
    calls.setdefault(ctx.task.id, []).append(time.monotonic())
    running_now["now"] += 1
    running_now["max"] = max(running_now["max"], running_now["now"])
    try:
        await ctx.progress("open product", 10)
        if kind == "fail-first":  # fail the first N attempts
            if ctx.task.attempt <= int(arg):
                raise RetryableError(f"flaky store (attempt {ctx.task.attempt})")
        elif kind == "always-fail":
            raise RetryableError("store down")
        elif kind == "boom":
            raise ZeroDivisionError("unexpected")
        elif kind == "permanent":
            raise PermanentError("price too high")
        elif kind == "restock":
            if time.monotonic() < available_at[ctx.task.id]:
                raise NotAvailableYet(observation="out of stock")
        elif kind == "sleep":
            await asyncio.sleep(float(arg))
        elif kind == "gate":
            await gates[arg].wait()
        await ctx.progress("confirm", 90)
        return bought(ctx)
    finally:
        running_now["now"] -= 1


registry.register(registry.StoreBot(name="engine-test", run=engine_bot, needs_browser=False))
registry.register(registry.StoreBot(name="engine-test-2", run=engine_bot, needs_browser=False))


@pytest.fixture(autouse=True)
def _reset_bot_state() -> None:
    calls.clear()
    running_now.update(max=0, now=0)


# ---- tests ----------------------------------------------------------------------------------


async def test_success_records_result_purchase_and_attempt(db: Database, runtimes: Start) -> None:
    rt = await runtimes()
    task = await create(db, rt, quantity=2)
    done = await until_status(db, task.id, "completed")
    assert done.result is not None and done.result["total"] == 5.0 and done.result["quantity"] == 2
    assert done.attempt == 1 and done.progress == 100 and done.finished_at is not None
    assert await purchases(db, task.id) == 1
    [attempt] = await attempts(db, task.id)
    assert attempt.outcome == "completed" and attempt.worker_id == rt.worker_id


async def test_retries_with_backoff_then_completes_on_attempt_3(db: Database, runtimes: Start) -> None:
    rt = await runtimes()
    task = await create(db, rt, product="fail-first:2", backoff_seconds=0.5)
    done = await until_status(db, task.id, "completed")
    history = await attempts(db, task.id)
    assert [a.outcome for a in history] == ["retrying", "retrying", "completed"]
    assert done.attempt == 3 and history[0].error == "flaky store (attempt 1)"
    starts = calls[str(task.id)]
    assert starts[1] - starts[0] >= 0.5 * 0.75  # backoff 0.5 s ± 25 %
    assert starts[2] - starts[1] >= 1.0 * 0.75  # then 1 s ± 25 %


async def test_exhausted_attempts_fail_with_last_error(db: Database, runtimes: Start) -> None:
    rt = await runtimes()
    task = await create(db, rt, product="always-fail", backoff_seconds=0.1)
    failed = await until_status(db, task.id, "failed")
    assert (
        failed.attempt == 3
        and "store down" in (failed.error or "")
        and "attempt 3 of 3" in (failed.error or "")
    )
    assert len(await attempts(db, task.id)) == 3
    assert await purchases(db, task.id) == 0


async def test_permanent_error_fails_at_once_and_unexpected_error_retries(
    db: Database, runtimes: Start
) -> None:
    rt = await runtimes()
    permanent = await create(db, rt, product="permanent")
    boom = await create(db, rt, product="boom", max_attempts=2, backoff_seconds=0.1)
    assert (await until_status(db, permanent.id, "failed")).attempt == 1
    failed = await until_status(db, boom.id, "failed")
    assert failed.attempt == 2 and "ZeroDivisionError" in (failed.error or "")


async def test_scheduled_start_fires_on_time(db: Database, runtimes: Start) -> None:
    rt = await runtimes()
    run_at = utcnow() + timedelta(seconds=2)
    task = await create(db, rt, start="at", run_at=run_at)
    assert task.status == "scheduled"
    done = await until_status(db, task.id, "completed", timeout=10)
    assert done.started_at is not None
    assert timedelta(0) <= done.started_at - run_at < timedelta(seconds=2)


async def test_monitor_waits_for_restock_without_using_attempts(db: Database, runtimes: Start) -> None:
    rt = await runtimes()
    task = await create(db, None, product="restock", mode="monitor", check_every=0.5, start="later")
    available_at[str(task.id)] = time.monotonic() + 2.5
    async with db.begin() as session:
        await ops.start_task(session, task_id=task.id)
    await rt.kick(task.id)
    done = await until_status(db, task.id, "completed", timeout=15)
    assert done.checks > 1 and done.attempt == 1 and done.last_check == "bought"
    assert await purchases(db, task.id) == 1


async def test_monitor_window_closing_fails_the_task(db: Database, runtimes: Start) -> None:
    rt = await runtimes()
    task = await create(
        db,
        None,
        product="restock",
        mode="monitor",
        check_every=0.5,
        until=utcnow() + timedelta(seconds=1.5),
        start="later",
    )
    available_at[str(task.id)] = time.monotonic() + 3600
    async with db.begin() as session:
        await ops.start_task(session, task_id=task.id)
    await rt.kick(task.id)
    failed = await until_status(db, task.id, "failed", timeout=10)
    assert "not available before" in (failed.error or "") and failed.checks >= 1


async def test_priority_picks_the_highest_queued_task_first(db: Database, runtimes: Start) -> None:
    rt = await runtimes()
    gates["prio"] = asyncio.Event()
    blocker = await create(db, rt, product="gate:prio")
    await until_status(db, blocker.id, "running")
    low = [await create(db, rt, name=f"low{i}", product="sleep:0.05") for i in range(5)]
    high = await create(db, rt, name="high", priority=10, product="sleep:0.05")
    gates["prio"].set()
    for t in [*low, high]:
        await until_status(db, t.id, "completed")
    started = {t.name: (await get(db, t.id)).started_at for t in [*low, high]}
    assert all(started["high"] < started[f"low{i}"] for i in range(5)), started
    lows = [started[f"low{i}"] for i in range(5)]
    assert lows == sorted(lows)  # FIFO within a priority


async def test_cancel_running_task_stops_within_two_seconds(db: Database, runtimes: Start) -> None:
    rt = await runtimes()
    task = await create(db, rt, product="sleep:30")
    await until_status(db, task.id, "running")
    t0 = time.monotonic()
    async with db.begin() as session:
        requested = await ops.cancel_task(session, task_id=task.id)
    assert requested.status == "running" and requested.cancel_requested
    cancelled = await until_status(db, task.id, "cancelled", timeout=5)
    assert time.monotonic() - t0 < 5
    assert cancelled.error == "cancelled by user" and await purchases(db, task.id) == 0
    assert not rt.running


async def test_pause_holds_and_resume_requeues(db: Database, runtimes: Start) -> None:
    rt = await runtimes()
    task = await create(db, None, start="later")
    async with db.begin() as session:
        await ops.pause_task(session, task_id=task.id)
    await asyncio.sleep(0.6)  # a few sweeps: nothing picks it up
    assert (await get(db, task.id)).status == "paused"
    async with db.begin() as session:
        resumed = await ops.resume_task(session, task_id=task.id)
    assert resumed.status == "pending"  # back to where it was: "start later" waits for a start
    async with db.begin() as session:
        await ops.pause_task(session, task_id=task.id)
        await ops.start_task(session, task_id=task.id)
    await until_status(db, task.id, "completed")
    future = await create(db, None, start="at", run_at=utcnow() + timedelta(hours=1))
    async with db.begin() as session:
        await ops.pause_task(session, task_id=future.id)
        assert (await ops.resume_task(session, task_id=future.id)).status == "scheduled"
    assert rt.processed == 1


async def test_retry_after_failure_continues_attempts_and_keeps_history(
    db: Database, runtimes: Start
) -> None:
    rt = await runtimes()
    task = await create(db, rt, product="permanent")
    await until_status(db, task.id, "failed")
    async with db.begin() as session:
        again = await actions.apply_action(session, task_id=task.id, action="retry")
    assert again is not None and again.attempt == 1 and again.error is None  # the numbering goes on
    await rt.kick(task.id)
    done = await until_status(db, task.id, "failed")
    assert done.attempt == 2 and [a.number for a in await attempts(db, task.id)] == [1, 2]


async def test_same_doorbell_twice_runs_once(db: Database, runtimes: Start) -> None:
    rt = await runtimes(worker_concurrency=4)
    task = await create(db, None, product="sleep:0.3", start="later")
    async with db.begin() as session:
        await ops.start_task(session, task_id=task.id)
    await asyncio.gather(rt.ring(str(task.id)), rt.ring(str(task.id)), rt.ring(str(task.id)))
    await until_status(db, task.id, "completed")
    assert len(calls[str(task.id)]) == 1 and await purchases(db, task.id) == 1


async def test_store_limit_holds_across_two_workers(db: Database, runtimes: Start) -> None:
    limits = {"engine-test": StoreLimit(max_concurrent=1)}
    a = await runtimes(worker_concurrency=3, store_limits=limits)
    await runtimes(worker_concurrency=3, store_limits=limits)
    many = [await create(db, a, product="sleep:0.15") for _ in range(6)]
    other = await create(db, a, store="engine-test-2", product="sleep:0.15")
    for t in [*many, other]:
        await until_status(db, t.id, "completed", timeout=20)
    assert running_now["max"] == 2  # one engine-test at a time, plus the unlimited store beside it


async def test_min_interval_spaces_task_starts(db: Database, runtimes: Start) -> None:
    rt = await runtimes(worker_concurrency=2, store_limits={"engine-test": StoreLimit(min_interval=0.6)})
    first, second = await create(db, rt), await create(db, rt)
    for t in (first, second):
        await until_status(db, t.id, "completed")
    a, b = sorted([calls[str(first.id)][0], calls[str(second.id)][0]])
    assert b - a >= 0.55


async def test_dead_worker_task_is_rescued_and_completed_once(db: Database, runtimes: Start) -> None:
    task = await create(db, None, start="later")
    stale = utcnow() - timedelta(seconds=60)
    async with db.begin() as session:  # what a worker killed mid-task leaves behind
        await session.execute(
            update(Task)
            .where(Task.id == task.id)
            .values(
                status="running", attempt=1, worker_id="dead-worker", heartbeat_at=stale, started_at=stale
            )
        )
        session.add(TaskAttempt(task_id=task.id, number=1, worker_id="dead-worker", started_at=stale))
    await runtimes()  # no doorbell: the sweeper alone must find it
    done = await until_status(db, task.id, "completed", timeout=10)
    history = await attempts(db, task.id)
    assert [a.outcome for a in history] == ["lost", "completed"] and done.attempt == 2
    assert await purchases(db, task.id) == 1


async def test_stale_task_without_attempts_left_fails(db: Database, runtimes: Start) -> None:
    task = await create(db, None, start="later", max_attempts=1)
    stale = utcnow() - timedelta(seconds=60)
    async with db.begin() as session:
        await session.execute(
            update(Task)
            .where(Task.id == task.id)
            .values(status="running", attempt=1, worker_id="dead-worker", heartbeat_at=stale)
        )
    await runtimes()
    failed = await until_status(db, task.id, "failed", timeout=10)
    assert failed.error == "worker lost and no attempts left"


async def test_queued_task_without_message_is_picked_up(db: Database, runtimes: Start) -> None:
    rt = await runtimes()
    task = await create(db, None)  # queued, but no doorbell was ever sent
    await until_status(db, task.id, "completed", timeout=5)
    assert rt.processed == 1


async def test_shutdown_hands_back_without_using_an_attempt(db: Database, runtimes: Start) -> None:
    rt = await runtimes()
    task = await create(db, rt, product="sleep:30")
    await until_status(db, task.id, "running")
    t0 = time.monotonic()
    await rt.stop(grace=0.5)
    assert time.monotonic() - t0 < 5
    back = await get(db, task.id)
    assert back.status == "queued" and back.attempt == 0 and back.worker_id is None
    assert [a.outcome for a in await attempts(db, task.id)] == ["handed back"]
    other = await runtimes()
    async with db.begin() as session:
        await session.execute(update(Task).where(Task.id == task.id).values(product="ok"))
    await other.kick(task.id)
    assert (await until_status(db, task.id, "completed")).attempt == 1


async def test_lost_ownership_stops_the_bot_without_writing(db: Database, runtimes: Start) -> None:
    rt = await runtimes()
    task = await create(db, rt, product="sleep:30")
    await until_status(db, task.id, "running")
    async with db.begin() as session:  # rescued meanwhile, and claimed by another worker
        await session.execute(
            update(Task)
            .where(Task.id == task.id)
            .values(worker_id="other-worker", attempt=2, lease=uuid.uuid4())
        )
    await wait_for(lambda: not rt.running, timeout=3, what="bot stopped")
    after = await get(db, task.id)
    assert (after.status, after.worker_id, after.attempt) == ("running", "other-worker", 2)  # nothing written


async def test_worker_rows_show_live_workers_and_mark_gone_ones(db: Database, runtimes: Start) -> None:
    from models.tables import Worker

    rt = await runtimes()
    task = await create(db, rt, product="sleep:2")
    await until_status(db, task.id, "running")

    async def row() -> Worker | None:
        async with db.session() as session:
            return await session.get(Worker, rt.worker_id, populate_existing=True)

    seen = await wait_for(
        lambda: _with_running(row, str(task.id)), timeout=5, what="worker row lists the task"
    )
    assert seen.status == "up" and seen.pid > 0 and seen.host and seen.version
    async with db.begin() as session:  # a worker that vanished long ago
        session.add(
            Worker(id="ghost", host="h", pid=1, version="x", last_seen=utcnow() - timedelta(minutes=5))
        )

    async def ghost_gone() -> bool:
        async with db.session() as session:
            ghost = await session.get(Worker, "ghost", populate_existing=True)
            return ghost is not None and ghost.status == "gone"

    await wait_for(ghost_gone, timeout=5, what="stale worker row marked gone")
    await rt.stop(grace=5)
    assert (await row()).status == "gone"  # type: ignore[union-attr]


async def _with_running(row: Any, task_id: str) -> Any:
    worker = await row()
    return worker if worker is not None and task_id in worker.running else None
