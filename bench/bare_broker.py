"""The throughput baseline: a bare taskiq ``RedisStreamBroker`` with two tiny tasks.

Run as ``taskiq worker bench.bare_broker:broker``; configured by ``BENCH_REDIS_URL``,
``BENCH_QUEUE_NAME`` and, for ``two_updates``, ``BENCH_DSN`` (plain asyncpg). The broker is built
exactly like Taskdeck's (``workers.queue.make_broker``: JSON serializer, same stream options,
no result backend), so the difference measured is what Taskdeck does per task.

- ``bench.noop(job)``: does nothing.
- ``bench.two_updates(job)``: the least a Postgres-backed queue does per task, two guarded
  UPDATEs in autocommit (claim: queued → running, then running → completed) on ``bench_job``.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

import asyncpg
from redis.asyncio import Redis
from taskiq import AsyncBroker, Context, TaskiqDepends, TaskiqEvents, TaskiqState
from taskiq.serializers import JSONSerializer
from taskiq_redis import RedisStreamBroker

NOOP = "bench.noop"
TWO_UPDATES = "bench.two_updates"
MAXLEN = 100_000  # Taskdeck's default stream_maxlen
POOL_SIZE = 8  # like Taskdeck's worker concurrency in the throughput benchmark

JOB_TABLE = """
CREATE TABLE IF NOT EXISTS bench_job (
    id bigint PRIMARY KEY,
    status text NOT NULL,
    queued_at timestamptz,
    started_at timestamptz,
    finished_at timestamptz
)
"""


async def noop(job: int) -> None:
    return None


async def two_updates(job: int, context: Annotated[Context, TaskiqDepends()]) -> None:
    pool: asyncpg.Pool = context.state.pool
    claimed = await pool.fetchval(
        "UPDATE bench_job SET status = 'running', started_at = clock_timestamp() "
        "WHERE id = $1 AND status = 'queued' RETURNING id",
        job,
    )
    if claimed is not None:
        await pool.execute(
            "UPDATE bench_job SET status = 'completed', finished_at = clock_timestamp() "
            "WHERE id = $1 AND status = 'running'",
            job,
        )


def ready_key(queue_name: str, pid: int | str) -> str:
    return f"{queue_name}-ready-{pid}"


def make_broker(redis_url: str, queue_name: str) -> AsyncBroker:
    broker = RedisStreamBroker(
        redis_url,
        queue_name=queue_name,
        consumer_group_name=f"{queue_name}-workers",
        maxlen=MAXLEN,
        xread_block=1000,
        socket_timeout=10,
        socket_connect_timeout=5,
        health_check_interval=10,
        retry_on_timeout=True,
    ).with_serializer(JSONSerializer())
    broker.register_task(noop, task_name=NOOP)
    broker.register_task(two_updates, task_name=TWO_UPDATES)

    @broker.on_event(TaskiqEvents.WORKER_STARTUP)
    async def startup(state: TaskiqState) -> None:
        dsn = os.environ.get("BENCH_DSN")
        state.pool = await asyncpg.create_pool(dsn, min_size=1, max_size=POOL_SIZE) if dsn else None
        # a blocking XREADGROUP that returns nothing registers no consumer: say "ready" ourselves
        async with Redis.from_url(redis_url) as client:
            await client.set(ready_key(queue_name, os.getpid()), "1", ex=3600)

    @broker.on_event(TaskiqEvents.WORKER_SHUTDOWN)
    async def shutdown(state: TaskiqState) -> None:
        pool: Any = getattr(state, "pool", None)
        if pool is not None:
            await pool.close()

    return broker


broker = make_broker(
    os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
    os.environ.get("BENCH_QUEUE_NAME", "taskdeck-bench-bare"),
)
