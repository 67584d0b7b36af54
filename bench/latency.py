"""Live latency: a committed state change → ``LiveHub.changes`` delivering it, vs raw LISTEN/NOTIFY.

Taskdeck: one task row; for each event a transaction does ``UPDATE task`` + ``models.events.publish``
(event row + ``pg_notify``), and the clock runs from the ``COMMIT`` being sent to the hub's
``changes`` event carrying that event id, in this same process, through the hub's own LISTEN
connection, its de-duplication and its batching. Events are sent one at a time, each
``QUIET_GAP`` after the previous one arrived (≈ 30 changes/s), so this is the latency of a quiet
system, not of a burst: the hub batches only under load (``BURST``, ``BATCH_WINDOW``), and the
loaded case is the ``browser`` benchmark's (1,000 tasks flowing, seen in a real page).

Baseline: two plain asyncpg connections, ``SELECT pg_notify(...)`` (autocommit) on one, a
listener callback on the other; from the statement being sent to the callback.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import asyncpg
from sqlalchemy import update

from bench.harness import BenchEnv, BenchError, Result, percentile, wait_until
from models.events import CHANNEL, publish
from models.tables import Task
from models.types import utcnow
from webapp import live

DELIVERY_TIMEOUT = 5.0
QUIET_GAP = 0.03  # seconds between one delivery and the next change


async def run(env: BenchEnv, *, events: int) -> Result:
    result = Result(
        "latency",
        f"{events} committed changes → LiveHub.changes (same process), one at a time, "
        f"{QUIET_GAP * 1000:.0f} ms apart",
        params={"events": events, "batchWindowS": live.BATCH_WINDOW, "burst": live.BURST, "gapS": QUIET_GAP},
    )
    deck = await _taskdeck(env, events)
    raw = await raw_notify(env, events)
    raw_name, same = "raw LISTEN/NOTIFY round trip", "plain listener, same commits"
    for pct in (50, 95):
        figure = percentile(deck["delivery"], pct)
        result.add(f"delivery p{pct}", "ms", figure, percentile(raw, pct), raw_name)
        result.add(f"delivery p{pct}", "ms", figure, percentile(deck["notify"], pct), same)
    result.add("delivery max", "ms", max(deck["delivery"]), max(raw), raw_name)
    result.notes.append(
        f"LiveHub delivers a payload at once while quiet and, once a burst of BURST = {live.BURST} "
        f"batches is spent, at most one batch per BATCH_WINDOW = {live.BATCH_WINDOW * 1000:.0f} ms "
        "(webapp/live.py); 'plain listener' is a second "
        "asyncpg LISTEN connection in this process that "
        "receives the same NOTIFYs, so the gap to it is the hub's own cost"
    )
    result.notes.append(
        "clocks start when COMMIT is sent (Taskdeck) or when pg_notify is sent in autocommit (raw); "
        f"the writing transaction (UPDATE + event INSERT + pg_notify + COMMIT) takes "
        f"{percentile(deck['txn'], 50):.2f} ms p50, its COMMIT {percentile(deck['commit'], 50):.2f} ms"
    )
    return result


async def _taskdeck(env: BenchEnv, events: int) -> dict[str, list[float]]:
    async with env.database() as db:
        async with db.begin() as session:
            task = Task(name="latency", store="noop", product="noop", status="pending")
            session.add(task)
        hub = live.LiveHub(db)
        waiting: dict[int, asyncio.Future[float]] = {}
        notified: dict[int, float] = {}

        def on_changes(batch: list[dict[str, Any]]) -> None:
            now = time.perf_counter()
            for payload in batch:
                future = waiting.pop(payload.get("id", -1), None)
                if future is not None and not future.done():
                    future.set_result(now)

        hub.changes.subscribe(on_changes)

        def on_notify(_c: Any, _pid: int, _channel: str, payload: str) -> None:
            notified[json.loads(payload)["id"]] = time.perf_counter()

        # a second, independent LISTEN connection: when the NOTIFY itself reaches a listener
        probe = await asyncpg.connect(env.asyncpg_dsn)
        await probe.add_listener(CHANNEL, on_notify)
        await hub.start()
        try:

            async def connected() -> bool:
                return hub.connected

            await wait_until(connected, timeout=10, what="the live hub's LISTEN connection")
            await asyncio.sleep(0.2)
            delivery, notify, txn, commit = [], [], [], []
            loop = asyncio.get_running_loop()
            for i in range(events + 5):  # the first 5 warm up and are not counted
                async with db.sessions() as session:
                    began = time.perf_counter()
                    await session.begin()
                    await session.execute(
                        update(Task).where(Task.id == task.id).values(progress=i % 101, updated_at=utcnow())  # type: ignore[arg-type]
                    )
                    event_id = await publish(
                        session, task_id=task.id, kind="progress", status="pending", progress=i % 101
                    )
                    future: asyncio.Future[float] = loop.create_future()
                    waiting[event_id] = future
                    sent = time.perf_counter()
                    await session.commit()
                    committed = time.perf_counter()
                try:
                    delivered = await asyncio.wait_for(future, DELIVERY_TIMEOUT)
                except TimeoutError:
                    raise BenchError(
                        f"event {event_id} not delivered by the live hub in {DELIVERY_TIMEOUT} s"
                    ) from None
                await asyncio.sleep(QUIET_GAP)
                if i >= 5:
                    delivery.append((delivered - sent) * 1000)
                    txn.append((committed - began) * 1000)
                    commit.append((committed - sent) * 1000)
                    if event_id in notified:
                        notify.append((notified[event_id] - sent) * 1000)
        finally:
            await hub.stop()
            await probe.close()
    return {"delivery": delivery, "notify": notify, "txn": txn, "commit": commit}


async def raw_notify(env: BenchEnv, events: int) -> list[float]:
    channel = f"bench_{env.run_id}"
    listener = await asyncpg.connect(env.asyncpg_dsn)
    sender = await asyncpg.connect(env.asyncpg_dsn)
    waiting: dict[str, asyncio.Future[float]] = {}

    def on_notify(_c: Any, _pid: int, _channel: str, payload: str) -> None:
        future = waiting.pop(payload, None)
        if future is not None and not future.done():
            future.set_result(time.perf_counter())

    try:
        await listener.add_listener(channel, on_notify)
        loop = asyncio.get_running_loop()
        out: list[float] = []
        for i in range(events + 5):
            future: asyncio.Future[float] = loop.create_future()
            waiting[str(i)] = future
            sent = time.perf_counter()
            await sender.execute("SELECT pg_notify($1, $2)", channel, str(i))
            delivered = await asyncio.wait_for(future, DELIVERY_TIMEOUT)
            if i >= 5:
                out.append((delivered - sent) * 1000)
        return out
    finally:
        await listener.close()
        await sender.close()
