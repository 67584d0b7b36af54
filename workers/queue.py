"""The taskiq side: which broker, the one task, and how a doorbell is rung.

With ``REDIS_URL``: ``RedisStreamBroker`` (the only taskiq-redis broker with acknowledgements;
here its reconnecting subclass, ``workers/redis_broker.py``),
JSON serializer; the stream is trimmed by the sweeper (``trim_stream``), never past an entry
not yet delivered or acknowledged. Without it: ``InMemoryBroker``, which runs
the task in this process (embedded mode). The message is only the task id.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from redis.asyncio import Redis
from redis.exceptions import ResponseError
from taskiq import AsyncBroker, Context, InMemoryBroker, TaskiqDepends
from taskiq.serializers import JSONSerializer

from models.settings import Settings
from workers.redis_broker import ResilientStreamBroker

TASK_NAME = "taskdeck.run_task"


async def run_task(task_id: str, context: Annotated[Context, TaskiqDepends()]) -> None:
    """Doorbell: some task is claimable; ``task_id`` is only a hint."""
    runtime = getattr(context.state, "runtime", None)
    if runtime is not None:
        await runtime.ring(task_id)


def make_broker(settings: Settings) -> AsyncBroker:
    broker: AsyncBroker
    if settings.redis_url:
        broker = ResilientStreamBroker(
            settings.redis_url,
            queue_name=settings.queue_name,
            consumer_group_name=f"{settings.queue_name}-workers",
            maxlen=None,  # trimmed by the sweeper, never past an undelivered or pending entry
            xread_block=1000,
            socket_timeout=10,
            socket_connect_timeout=5,
            health_check_interval=10,
            retry_on_timeout=True,
        ).with_serializer(JSONSerializer())
    else:
        broker = InMemoryBroker(max_async_tasks=1000, propagate_exceptions=False)
    broker.register_task(run_task, task_name=TASK_NAME)
    return broker


async def kick(broker: AsyncBroker, task_id: uuid.UUID | str) -> None:
    task = broker.find_task(TASK_NAME)
    assert task is not None, "make_broker registers the task"
    await task.kiq(str(task_id))


async def trim_stream(redis: Redis, *, stream: str, group: str, maxlen: int = 0) -> int:
    """Drop the stream's entries that every consumer has been handed and has acknowledged; never
    one not yet delivered or still pending (unacknowledged). Returns how many went. A stream of
    at most ``maxlen`` entries (``TASKDECK_STREAM_MAXLEN``) is left alone, for inspection.

    The stream is not capped at ``XADD`` (an ``XADD MAXLEN`` cap would drop the oldest entries
    whatever their state): the sweeper trims here instead, up to the older of the group's
    oldest pending entry and its last delivered one (``XTRIM MINID``)."""
    try:
        if await redis.xlen(stream) <= maxlen:
            return 0
        groups = await redis.xinfo_groups(stream)
    except ResponseError:  # no stream yet
        return 0
    mine = next((g for g in groups if _text(g["name"]) == group), None)
    if mine is None:
        return 0
    bounds = [_next_id(_text(mine["last-delivered-id"]))]  # entries up to it were delivered
    pending = await redis.xpending(stream, group)
    if pending.get("pending"):
        bounds.append(_text(pending["min"]))  # the oldest unacknowledged entry stays
    keep_from = min(bounds, key=_id_key)
    return int(await redis.xtrim(stream, minid=keep_from, approximate=False))


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _id_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _next_id(entry_id: str) -> str:
    ms, seq = _id_key(entry_id)
    return f"{ms}-{seq + 1}"
