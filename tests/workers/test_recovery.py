"""Money is never lost track of: past the place-order checkpoint the store is asked before any
ending is recorded (real Chromium, the demo store, Postgres, in-process workers).
"""

from __future__ import annotations

import os
import signal
import uuid
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import update

from models import claims
from models import tasks as ops
from models.db import Database
from models.settings import Settings
from models.states import TaskStatus as S
from models.tables import Task
from tests.conftest import wait_for
from tests.workers.conftest import Start, attempts, create, get, purchases, until_status
from tests.workers.test_demo_outcomes import events
from workers.bots.base import Purchase
from workers.outcome import Outcome, classify
from workers.recording import Recorder

pytestmark = pytest.mark.slow
SLOW_CONFIRM = 6000  # ms: the confirmation answers after the bot's 2 s step timeout


@pytest.fixture
async def demo_runtime(runtimes: Start, demo_store: Any) -> Any:
    return await runtimes(demo_store_url=demo_store.url, step_timeout=2)


async def checkpointed(db: Database, task_id: Any) -> None:
    async def seen() -> bool:
        return any(e.kind == "checkpoint" for e in await events(db, task_id))

    await wait_for(seen, timeout=40, interval=0.05, what="the place-order checkpoint")


async def test_confirmation_after_the_timeout_is_recovered_from_the_store(
    db: Database, demo_runtime: Any, demo_store: Any
) -> None:
    """The issue's report: the order went through, the answer came too late. Now: completed."""
    await demo_store.configure("sneaker-drop", confirmDelayMs=SLOW_CONFIRM)
    task = await create(db, demo_runtime, store="demo", product="sneaker-drop", max_attempts=1)
    done = await until_status(db, task.id, "completed", "failed", "unknown", timeout=60)
    assert done.status == "completed", done.error
    [order] = await demo_store.orders(str(task.id))
    assert done.result and done.result["orderNumber"] == order["orderNumber"]
    assert await purchases(db, task.id) == 1
    messages = [e.message or "" for e in await events(db, task.id)]
    assert any(m.startswith("order recovered from the store: " + order["orderNumber"]) for m in messages)
    [attempt] = await attempts(db, task.id)
    assert attempt.outcome == "recovered"


async def test_store_that_cannot_be_asked_leaves_the_task_unknown(
    db: Database, demo_runtime: Any, demo_store: Any
) -> None:
    await demo_store.configure("sneaker-drop", confirmDelayMs=SLOW_CONFIRM, ordersApiDown=True)
    task = await create(db, demo_runtime, store="demo", product="sneaker-drop", max_attempts=3)
    done = await until_status(db, task.id, "completed", "failed", "unknown", "retrying", timeout=60)
    assert done.status == "unknown", done.error
    assert "order may have been placed — check the store" in (done.error or "")
    assert "503" in (done.error or "")
    assert done.attempt == 1 and len(await attempts(db, task.id)) == 1  # not retried
    assert await purchases(db, task.id) == 0
    await demo_store.configure("sneaker-drop", ordersApiDown=False)
    assert len(await demo_store.orders(str(task.id))) == 1  # the one click, no second order
    after = await get(db, task.id)
    assert after.status == "unknown" and len(await attempts(db, task.id)) == 1


async def test_store_without_the_order_fails_the_attempt_as_before(
    db: Database, demo_runtime: Any, demo_store: Any
) -> None:
    """A refusal after the click (sold out at checkout): asked, the store has no order."""
    await demo_store.configure("sneaker-drop", soldOutAtCheckout=True)
    task = await create(db, demo_runtime, store="demo", product="sneaker-drop")
    done = await until_status(db, task.id, "completed", "failed", "unknown", timeout=60)
    assert done.status == "failed" and "sold out at checkout" in (done.error or ""), done.error
    messages = [e.message or "" for e in await events(db, task.id)]
    assert any("the store has no order with reference" in m for m in messages)


async def test_cancel_after_the_checkpoint_waits_and_the_purchase_wins(
    db: Database, demo_runtime: Any, demo_store: Any
) -> None:
    await demo_store.configure("sneaker-drop", confirmDelayMs=1200)
    task = await create(db, demo_runtime, store="demo", product="sneaker-drop")
    await checkpointed(db, task.id)
    async with db.begin() as session:
        asked = await ops.cancel_task(session, task_id=task.id)
    assert asked.status == "running" and asked.cancel_requested
    done = await until_status(db, task.id, "completed", "cancelled", "failed", "unknown", timeout=30)
    assert done.status == "completed", done.error
    assert await purchases(db, task.id) == 1 and len(await demo_store.orders(str(task.id))) == 1


async def test_browser_crash_after_the_click_is_recovered_from_the_store(
    db: Database, demo_runtime: Any, demo_store: Any
) -> None:
    await demo_store.configure("sneaker-drop", confirmDelayMs=SLOW_CONFIRM)
    task = await create(db, demo_runtime, store="demo", product="sneaker-drop", max_attempts=1)

    async def ordered() -> bool:
        return len(await demo_store.orders(str(task.id))) == 1

    await wait_for(ordered, timeout=40, interval=0.05, what="the order behind the click")
    pid = demo_runtime.browser.browser_pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    done = await until_status(db, task.id, "completed", "failed", "unknown", timeout=60)
    assert done.status == "completed", done.error
    [attempt] = await attempts(db, task.id)
    assert attempt.outcome == "recovered" and await purchases(db, task.id) == 1
    assert len(await demo_store.orders(str(task.id))) == 1


def test_a_returned_purchase_wins_over_any_stop_reason() -> None:
    task = Task(name="t", store="demo", product="p", attempt=1, max_attempts=3)
    for reason in ("cancel", "shutdown"):
        outcome = classify(task, None, stop_reason=reason, settings=Settings(), bought=True)
        assert outcome.to == "completed", reason
        assert classify(task, None, stop_reason=reason, settings=Settings()).to != "completed"


@pytest.mark.parametrize("checkpoint", [False, True], ids=["rescued", "taken-over-after-checkpoint"])
async def test_purchase_survives_a_refused_outcome_and_completes_the_task(
    db: Database, runtimes: Start, checkpoint: bool
) -> None:
    """Hole 3: the worker lost the task before recording; its purchase is kept, and the task ends
    completed from it instead of "worker lost"."""
    task = await create(db, None, store="demo", product="sneaker-drop")
    async with db.begin() as session:
        claimed = await claims.claim_next(session, worker_id="gone-worker")
    assert claimed is not None and claimed.id == task.id
    if checkpoint:
        async with db.begin() as session:
            await claims.checkpoint(
                session, task=claimed, worker_id="gone-worker", name="place-order", known=[]
            )
    bought = Purchase(order_number="DS-1", quantity=1, unit_price=Decimal("120"), total=Decimal("120"))
    async with db.begin() as session:  # someone else holds it now: the outcome is refused
        await session.execute(
            update(Task).where(Task.id == task.id).values(worker_id="other-worker", lease=uuid.uuid4())
        )

    async def no_doorbell(_: Any) -> None:
        return None

    gone = Recorder(db, "gone-worker", no_doorbell)
    await gone.record(claimed, Outcome(S.COMPLETED, "completed", None, {"progress": 100}), purchase=bought)
    assert (await get(db, task.id)).status == "running"
    assert await purchases(db, task.id) == 1  # not rolled back with the refused outcome
    await runtimes(heartbeat_timeout=1.0)  # its sweeper finds the stale task with a purchase
    done = await until_status(db, task.id, "completed", "failed", "queued", timeout=15)
    assert done.status == "completed" and done.error is None
    if checkpoint:  # taken over: recorded from the purchase row, with its result
        assert done.result and done.result["orderNumber"] == "DS-1"
        assert [a.outcome for a in await attempts(db, task.id)] == ["recovered"]
