"""Sequential: an idle system, N noop tasks one after another — ``POST /api/tasks/execute`` →
the task ``running`` → ``completed``, seen on a LISTEN connection in this process.

The webapp and one ``taskiq worker workers.broker:broker --workers 1`` run as in ``memory``; N
``noop`` tasks are made ``pending`` first (one list create, not timed). Then, one at a time, the
clock starts when the execute request is sent and stops when the NOTIFY of the task's
``running`` (the worker's claim committed) and then its ``completed`` event reaches this process;
the next task starts after the previous one completed. So each figure is the whole way of one
task through a quiet system: HTTP, the guarded UPDATE to ``queued``, the doorbell over Redis,
the worker's read of the stream, its claim, the noop bot and the outcome.

Baselines from the same run: ``GET /api/health`` on the same server (the floor of any request),
and a raw LISTEN/NOTIFY round trip (the floor of seeing a change).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import asyncpg
import httpx

from bench.harness import BenchEnv, BenchError, Result, create_pending, percentile, wait_until
from bench.latency import raw_notify
from models.events import CHANNEL

WARMUP = 10
TIMEOUT = 10.0


async def run(env: BenchEnv, *, tasks: int) -> Result:
    result = Result(
        "sequential",
        f"{tasks} noop tasks one at a time on an idle system, 1 worker process",
        params={"tasks": tasks, "warmup": WARMUP},
    )
    queue = env.queue("sequential")
    webapp = await env.start_webapp(queue)
    listener = await asyncpg.connect(env.asyncpg_dsn)
    waiting: dict[tuple[str, str], asyncio.Future[float]] = {}

    def on_notify(_c: Any, _pid: int, _channel: str, payload: str) -> None:
        now = time.perf_counter()
        data = json.loads(payload)
        future = waiting.pop((data.get("task", ""), data.get("status") or ""), None)
        if future is not None and not future.done():
            future.set_result(now)

    await listener.add_listener(CHANNEL, on_notify)
    try:
        worker = env.taskdeck_worker("sequential-worker", queue, workers=1)

        async def worker_up() -> bool:
            return bool(await listener.fetchval("SELECT count(*) FROM worker WHERE status = 'up'"))

        await wait_until(worker_up, timeout=60, what="the worker", procs=[worker], interval=0.1)
        await asyncio.sleep(1.0)  # start-up settles: an idle system
        async with httpx.AsyncClient(
            base_url=webapp.url or "", timeout=30, headers=env.api_headers
        ) as client:
            ids = await create_pending(client, tasks + WARMUP, "seq")
            health: list[float] = []
            for _ in range(tasks // 5 + WARMUP):
                began = time.perf_counter()
                (await client.get("/api/health")).raise_for_status()
                health.append((time.perf_counter() - began) * 1000)
            health = health[WARMUP:]
            loop = asyncio.get_running_loop()
            running, completed, answered = [], [], []
            began_at: dict[str, float] = {}  # wall clock, to split the way with the rows' stamps
            for n, task_id in enumerate(ids):
                seen_running: asyncio.Future[float] = loop.create_future()
                seen_completed: asyncio.Future[float] = loop.create_future()
                waiting[(task_id, "running")] = seen_running
                waiting[(task_id, "completed")] = seen_completed
                began = time.perf_counter()
                began_at[task_id] = time.time()
                response = await client.post("/api/tasks/execute", json={"taskId": task_id})
                replied = time.perf_counter()
                if response.status_code != 202 and response.status_code != 200:
                    raise BenchError(
                        f"POST /api/tasks/execute answered {response.status_code}: {response.text}"
                    )
                try:
                    at_running = await asyncio.wait_for(seen_running, TIMEOUT)
                    at_completed = await asyncio.wait_for(seen_completed, TIMEOUT)
                except TimeoutError:
                    raise BenchError(f"task {task_id} not completed within {TIMEOUT} s") from None
                if n >= WARMUP:
                    answered.append((replied - began) * 1000)
                    running.append((at_running - began) * 1000)
                    completed.append((at_completed - began) * 1000)
            rows = await listener.fetch(
                "SELECT id::text, queued_at, started_at, finished_at FROM task WHERE id::text = ANY($1)",
                ids[WARMUP:],
            )
        raw = await raw_notify(env, max(50, tasks // 5))
    finally:
        await listener.close()
        await env.stop(*[p for p in env.procs if p.name == "sequential-worker"], grace=10)
        await env.stop(webapp, grace=10)

    hname, rname = "GET /api/health", "raw LISTEN/NOTIFY round trip"
    result.add("execute → running p50", "ms", percentile(running, 50), percentile(health, 50), hname)
    result.add("execute → running p95", "ms", percentile(running, 95), percentile(health, 95), hname)
    result.add("execute → completed p50", "ms", percentile(completed, 50), percentile(health, 50), hname)
    result.add("execute → completed p95", "ms", percentile(completed, 95), percentile(health, 95), hname)
    result.add("execute answered p50", "ms", percentile(answered, 50), percentile(health, 50), hname)
    result.add("execute → running p50", "ms", percentile(running, 50), percentile(raw, 50), rname)
    parts: dict[str, list[float]] = {"request → queued": [], "queued → claimed": [], "claimed → finished": []}
    for row in rows:
        began_wall = began_at[row["id"]]
        parts["request → queued"].append((row["queued_at"].timestamp() - began_wall) * 1000)
        parts["queued → claimed"].append((row["started_at"] - row["queued_at"]).total_seconds() * 1000)
        parts["claimed → finished"].append((row["finished_at"] - row["started_at"]).total_seconds() * 1000)
    result.notes.append(
        "where the time goes, p50 from the rows' own stamps: "
        + ", ".join(f"{name} {percentile(v, 50):.1f} ms" for name, v in parts.items())
    )
    result.notes.append(
        "targets (issue 9): → running p50 < 5 ms, p95 < 10 ms; → completed p50 < 15 ms; the clock "
        "starts when the request is sent and stops when the event's NOTIFY reaches this process"
    )
    return result
