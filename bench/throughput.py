"""Throughput: N ``noop`` tasks through 2 Taskdeck worker processes vs bare taskiq in the same run.

Taskdeck: N tasks are inserted ``pending`` (not timed) and two ``taskiq worker workers.broker:broker``
processes start (``TASKDECK_WORKER_CONCURRENCY=8``). Then the clock starts, one UPDATE stages the
batch to ``queued`` and N doorbells are kicked; the clock stops at the last ``finished_at``.
Every task goes the whole way: claim (``FOR UPDATE SKIP LOCKED`` + guarded UPDATE + event +
NOTIFY + attempt row), the noop bot, the outcome (guarded UPDATE + event + NOTIFY + purchase row).

Baselines, same machine, same run, same shape (2 processes, the broker built like Taskdeck's,
ack after the task, doorbells sent the same way):

- bare taskiq: ``bench.bare_broker`` with a no-op task; done when the consumer group has read and
  acknowledged every message;
- taskiq + two UPDATEs: the same workers, each task doing a guarded claim UPDATE and a completing
  UPDATE in plain asyncpg (pool of 8 per process) on a ``bench_job`` table.

Doorbells are the exact messages ``kiq(task_id)`` sends (built with the broker's formatter before
the clock starts) written with pipelined XADDs, so the figure is the workers', not how fast one
sender calls ``kiq``. A warm-up batch runs first in each set-up and is not counted.

Then the kill -9 row: one noop ``sleep:30`` task is started, the worker process holding it is
killed with SIGKILL, and the clock runs until the task is ``running`` in another process, with
no doorbell from the bench (the surviving workers' sweeper rescues it once its heartbeat is older
than ``TASKDECK_HEARTBEAT_TIMEOUT``, and rings for it). The bound is that timeout + 5 s. Queue latency
is ``started_at - queued_at`` per row; with the whole batch queued at once it is mostly the backlog
ahead of a task. Worker CPU is the user + system time of the worker process trees during the
timed batch, per task: it is steadier than wall time when the machine is busy.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from redis.asyncio import Redis
from taskiq import AsyncBroker, TaskiqMessage

from bench import bare_broker
from bench.harness import BenchEnv, Proc, Result, cpu_seconds, percentile, wait_until
from models.settings import Settings
from models.tables import Task
from models.types import utcnow
from workers.queue import TASK_NAME, make_broker

WORKER_PROCESSES = 2
CONCURRENCY = 8
KICK_CHUNK = 500  # XADDs per pipeline
KILL_METRIC = "kill -9 → running elsewhere"
# How often a batch's rows are counted in Postgres to see it finished. The figures come from the
# rows' own stamps, not from this poll; at every 10 ms its count over the batch's 2,000 ids kept
# a Postgres backend busy 35-70 % of the run (pg_stat_activity, issue 9), CPU the workers of both
# columns then did not get.
DONE_POLL = 0.05
BARE = "bare taskiq no-op task"
UPDATES = "taskiq + 2 UPDATEs (asyncpg)"


@dataclass
class Round:
    """One timed batch."""

    tasks: int
    seconds: float
    kick_seconds: float
    cpu_seconds: float
    queue_ms: list[float]
    run_ms: list[float]
    completed: int | None = None
    per_worker: str = ""
    recovery: tuple[float, str] | None = None  # kill -9 → running elsewhere: (s, what happened)

    @property
    def rate(self) -> float:
        return self.tasks / self.seconds

    @property
    def cpu_ms_per_task(self) -> float:
        return self.cpu_seconds * 1000 / self.tasks


async def run(env: BenchEnv, *, tasks: int, warmup: int) -> Result:
    result = Result(
        "throughput",
        f"{tasks} noop tasks, {WORKER_PROCESSES} worker processes x concurrency {CONCURRENCY}",
        params={"tasks": tasks, "warmup": warmup, "processes": WORKER_PROCESSES, "concurrency": CONCURRENCY},
    )
    conn = await asyncpg.connect(env.asyncpg_dsn)
    try:
        bare, updates = await _baselines(env, conn, tasks=tasks, warmup=warmup)
        deck = await _taskdeck(env, conn, tasks=tasks, warmup=warmup)
    finally:
        await conn.close()

    result.add("throughput", "tasks/s", deck.rate, bare.rate, BARE)
    result.add("throughput", "tasks/s", deck.rate, updates.rate, UPDATES)
    result.add("worker CPU per task", "ms", deck.cpu_ms_per_task, bare.cpu_ms_per_task, BARE)
    result.add("worker CPU per task", "ms", deck.cpu_ms_per_task, updates.cpu_ms_per_task, UPDATES)
    for pct in (50, 95):
        result.add(
            f"queue latency p{pct}",
            "ms",
            percentile(deck.queue_ms, pct),
            percentile(updates.queue_ms, pct),
            UPDATES,
        )
    result.add("claim→done p50", "ms", percentile(deck.run_ms, 50), percentile(updates.run_ms, 50), UPDATES)
    if deck.recovery is not None:
        seconds, story = deck.recovery
        bound = Settings().heartbeat_timeout + 5
        result.add(KILL_METRIC, "s", seconds, bound, f"heartbeat timeout + 5 s ({bound:g} s)")
        result.notes.append(story)
    result.notes.append(
        f"Taskdeck: {deck.completed}/{tasks} completed in {deck.seconds:.2f} s "
        f"(doorbells sent in {deck.kick_seconds:.3f} s); tasks per worker process: {deck.per_worker}"
    )
    result.notes.append(
        f"baselines: no-op {bare.seconds:.2f} s, 2 UPDATEs {updates.seconds:.2f} s "
        f"(doorbells sent in {bare.kick_seconds:.3f} s / {updates.kick_seconds:.3f} s)"
    )
    result.notes.append(
        "DESIGN.md measured here: bare taskiq ≈ 4,800/s on two processes, ≈ 1,670/s with two UPDATEs"
    )
    if tasks < 1000:
        result.notes.append("few tasks (--quick): fixed costs weigh more; the default N gives the figures")
    return result


# ---- doorbells ----------------------------------------------------------------------------


def doorbells(broker: AsyncBroker, task_name: str, args: Sequence[Any]) -> list[bytes]:
    """The messages ``kiq(arg)`` would send for each of ``args``, serialized by the broker."""
    return [
        broker.formatter.dumps(
            TaskiqMessage(
                task_id=broker.id_generator(),
                task_name=task_name,
                labels={},
                labels_types={},
                args=[arg],
                kwargs={},
            )
        ).message
        for arg in args
    ]


async def kick_all(client: Redis, queue: str, messages: Sequence[bytes], *, maxlen: int) -> float:
    """XADD each message as ``RedisStreamBroker.kick`` does, ``KICK_CHUNK`` per round trip → s."""
    started = time.perf_counter()
    for start in range(0, len(messages), KICK_CHUNK):
        pipe = client.pipeline(transaction=False)
        for message in messages[start : start + KICK_CHUNK]:
            pipe.xadd(queue, {b"data": message}, maxlen=maxlen, approximate=True)
        await pipe.execute()
    return time.perf_counter() - started


async def _timed(
    proc: Proc,
    stage_and_kick: Callable[[], Awaitable[float]],
    done: Callable[[], Awaitable[bool]],
    n: int,
    *,
    poll: float = 0.01,
) -> tuple[float, float, float]:
    """Run one batch → (wall seconds until ``done``, kick seconds, worker CPU seconds). ``done`` is
    asked every ``poll`` s."""
    cpu_before = cpu_seconds(proc.tree())
    started = time.perf_counter()
    kick_seconds = await stage_and_kick()
    await wait_until(done, timeout=max(60, n / 20), what=f"{n} tasks", procs=[proc], interval=poll)
    wall = time.perf_counter() - started
    return wall, kick_seconds, cpu_seconds(proc.tree()) - cpu_before


# ---- baselines ----------------------------------------------------------------------------


async def _baselines(
    env: BenchEnv, conn: asyncpg.Connection, *, tasks: int, warmup: int
) -> tuple[Round, Round]:
    queue = env.queue("bare")
    broker = bare_broker.make_broker(env.redis_url, queue)
    await broker.startup()  # the consumer group exists before anything is sent
    await conn.execute(bare_broker.JOB_TABLE)
    await conn.execute(
        "INSERT INTO bench_job (id, status) SELECT g, 'pending' FROM generate_series(1, $1) g",
        warmup + tasks,
    )
    client = env.redis()
    proc = env.taskiq_worker(
        "bare-worker",
        "bench.bare_broker:broker",
        workers=WORKER_PROCESSES,
        env=env.child_env(BENCH_REDIS_URL=env.redis_url, BENCH_QUEUE_NAME=queue, BENCH_DSN=env.asyncpg_dsn),
    )
    try:

        async def workers_up() -> bool:
            ready = [k async for k in client.scan_iter(bare_broker.ready_key(queue, "*"))]
            return len(ready) >= WORKER_PROCESSES

        await wait_until(workers_up, timeout=60, what="bare taskiq workers", procs=[proc], interval=0.1)
        await asyncio.sleep(0.5)  # from start-up done to the first XREADGROUP
        sent = 0

        async def noop_round(n: int) -> Round:
            nonlocal sent
            sent += n
            messages = doorbells(broker, bare_broker.NOOP, range(n))

            async def drained() -> bool:
                info = (await client.xinfo_groups(queue))[0]
                return bool((info["entries-read"] or 0) >= sent and info["pending"] == 0)

            wall, kicked, cpu = await _timed(
                proc, lambda: kick_all(client, queue, messages, maxlen=bare_broker.MAXLEN), drained, n
            )
            return Round(n, wall, kicked, cpu, [], [])

        async def updates_round(ids: list[int]) -> Round:
            messages = doorbells(broker, bare_broker.TWO_UPDATES, ids)
            started_wall = time.time()

            async def stage_and_kick() -> float:
                await conn.execute(
                    "UPDATE bench_job SET status = 'queued', queued_at = clock_timestamp() "
                    "WHERE id = ANY($1)",
                    ids,
                )
                return await kick_all(client, queue, messages, maxlen=bare_broker.MAXLEN)

            async def done() -> bool:
                n = await conn.fetchval(
                    "SELECT count(*) FROM bench_job WHERE id = ANY($1) AND status = 'completed'", ids
                )
                return bool(n == len(ids))

            _wall, kicked, cpu = await _timed(proc, stage_and_kick, done, len(ids), poll=DONE_POLL)
            rows = await conn.fetch(
                "SELECT extract(epoch FROM started_at - queued_at) * 1000 AS queue_ms, "
                "extract(epoch FROM finished_at - started_at) * 1000 AS run_ms, "
                "extract(epoch FROM finished_at) AS finished FROM bench_job WHERE id = ANY($1)",
                ids,
            )
            return Round(
                tasks=len(ids),
                seconds=max(float(r["finished"]) for r in rows) - started_wall,
                kick_seconds=kicked,
                cpu_seconds=cpu,
                queue_ms=[float(r["queue_ms"]) for r in rows],
                run_ms=[float(r["run_ms"]) for r in rows],
                completed=len(ids),
            )

        await noop_round(warmup)
        bare = await noop_round(tasks)
        await updates_round(list(range(1, warmup + 1)))
        updates = await updates_round(list(range(warmup + 1, warmup + tasks + 1)))
        return bare, updates
    finally:
        await env.stop(proc, grace=3)
        await client.aclose()
        await broker.shutdown()
        await conn.execute("DROP TABLE IF EXISTS bench_job")


# ---- Taskdeck -----------------------------------------------------------------------------


async def _taskdeck(env: BenchEnv, conn: asyncpg.Connection, *, tasks: int, warmup: int) -> Round:
    await env.reset_tables()
    queue = env.queue("throughput")
    settings = Settings(database_url=env.db_url, redis_url=env.redis_url, queue_name=queue)
    broker = make_broker(settings)
    await broker.startup()  # creates the consumer group: nothing kicked before it is lost
    client = env.redis()
    warm_ids = await _insert_pending(env, warmup)
    ids = await _insert_pending(env, tasks)
    proc = env.taskiq_worker(
        "taskdeck-worker",
        "workers.broker:broker",
        workers=WORKER_PROCESSES,
        env=env.child_env(
            DATABASE_URL=env.db_url,
            REDIS_URL=env.redis_url,
            TASKDECK_QUEUE_NAME=queue,
            TASKDECK_WORKER_CONCURRENCY=CONCURRENCY,
        ),
    )
    try:

        async def workers_up() -> bool:
            n = await conn.fetchval("SELECT count(*) FROM worker WHERE status = 'up'")
            return bool(n >= WORKER_PROCESSES)

        await wait_until(workers_up, timeout=60, what="Taskdeck workers", procs=[proc], interval=0.1)
        await asyncio.sleep(0.5)  # from start-up done to the first XREADGROUP

        async def one_round(batch: list[uuid.UUID]) -> Round:
            messages = doorbells(broker, TASK_NAME, [str(task_id) for task_id in batch])
            started_wall = time.time()

            async def stage_and_kick() -> float:
                await conn.execute(
                    "UPDATE task SET status = 'queued', queued_at = $2, kicked_at = $2, updated_at = $2 "
                    "WHERE id = ANY($1) AND status = 'pending'",
                    batch,
                    utcnow(),
                )
                return await kick_all(client, queue, messages, maxlen=settings.stream_maxlen)

            async def finished() -> bool:
                n = await conn.fetchval(
                    "SELECT count(*) FROM task "
                    "WHERE id = ANY($1) AND status IN ('completed', 'failed', 'cancelled')",
                    batch,
                )
                return bool(n == len(batch))

            _wall, kicked, cpu = await _timed(proc, stage_and_kick, finished, len(batch), poll=DONE_POLL)
            rows = await conn.fetch(
                "SELECT status, worker_id, extract(epoch FROM started_at - queued_at) * 1000 AS queue_ms, "
                "extract(epoch FROM finished_at - started_at) * 1000 AS run_ms, "
                "extract(epoch FROM finished_at) AS finished FROM task WHERE id = ANY($1)",
                batch,
            )
            per_worker = sorted(Counter(r["worker_id"] for r in rows).values(), reverse=True)
            return Round(
                tasks=len(batch),
                seconds=max(float(r["finished"]) for r in rows) - started_wall,
                kick_seconds=kicked,
                cpu_seconds=cpu,
                queue_ms=[float(r["queue_ms"]) for r in rows],
                run_ms=[float(r["run_ms"]) for r in rows],
                completed=sum(1 for r in rows if r["status"] == "completed"),
                per_worker="/".join(str(n) for n in per_worker),
            )

        await one_round(warm_ids)
        timed = await one_round(ids)
        timed.recovery = await _kill_one_holding_a_task(env, conn, client, broker, queue, settings)
        return timed
    finally:
        await env.stop(proc, grace=5)
        await client.aclose()
        await broker.shutdown()


async def _insert_pending(env: BenchEnv, n: int, batch: int = 1000, product: str = "noop") -> list[uuid.UUID]:
    """``n`` pending noop tasks (one multi-row INSERT per ``batch``): set-up, not timed."""
    ids: list[uuid.UUID] = []
    async with env.database() as db:
        for start in range(0, n, batch):
            now = utcnow()
            rows = [
                Task(
                    name=f"bench {start + i}",
                    store="noop",
                    product=product,
                    status="pending",
                    created_at=now,
                    updated_at=now,
                )
                for i in range(min(batch, n - start))
            ]
            async with db.begin() as session:
                session.add_all(rows)
            ids.extend(row.id for row in rows)
    return ids


async def _kill_one_holding_a_task(
    env: BenchEnv,
    conn: asyncpg.Connection,
    client: Redis,
    broker: AsyncBroker,
    queue: str,
    settings: Settings,
) -> tuple[float, str]:
    """A worker process holding a task is killed with SIGKILL (no hand-back, no last write): the
    seconds until the task runs again in another process, with no new doorbell from here (the
    survivors' sweeper rescues it after the heartbeat timeout and rings for it)."""
    [task_id] = await _insert_pending(env, 1, product="sleep:30")
    await conn.execute(
        "UPDATE task SET status = 'queued', queued_at = $2, kicked_at = $2, updated_at = $2 WHERE id = $1",
        task_id,
        utcnow(),
    )
    await kick_all(client, queue, doorbells(broker, TASK_NAME, [str(task_id)]), maxlen=settings.stream_maxlen)

    async def held() -> bool:
        return bool(await conn.fetchval("SELECT status = 'running' FROM task WHERE id = $1", task_id))

    await wait_until(held, timeout=30, what="the sleeping task to run", interval=0.05)
    holder = await conn.fetchval("SELECT worker_id FROM task WHERE id = $1", task_id)
    pid = int(str(holder).rsplit("-", 2)[1])  # worker ids are <host>-<pid>-<4 hex>
    os.kill(pid, signal.SIGKILL)
    killed = time.perf_counter()

    async def elsewhere() -> bool:
        row = await conn.fetchrow("SELECT status, worker_id FROM task WHERE id = $1", task_id)
        return bool(row["status"] == "running" and row["worker_id"] != holder)

    await wait_until(elsewhere, timeout=120, what="the task running elsewhere", interval=0.05)
    seconds = time.perf_counter() - killed
    again = await conn.fetchval("SELECT worker_id FROM task WHERE id = $1", task_id)
    return (
        seconds,
        f"kill -9: worker process {pid} held a noop 'sleep:30' task; "
        f"running again on {again} after {seconds:.1f} s",
    )
