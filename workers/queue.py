"""The taskiq side: which broker, the one task, and how a doorbell is rung.

With ``REDIS_URL``: ``RedisStreamBroker`` (the only taskiq-redis broker with acknowledgements;
here its reconnecting subclass, ``workers/redis_broker.py``; its Sentinel or Cluster sibling
when ``REDIS_URL`` is ``redis+sentinel://…`` or ``TASKDECK_REDIS_CLUSTER=true``),
JSON serializer; the stream is trimmed by the sweeper (``trim_stream``), never past an entry
not yet delivered or acknowledged. Without it: ``InMemoryBroker``, which runs
the task in this process (embedded mode). The message is only the task id.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError
from taskiq import AsyncBroker, Context, InMemoryBroker, TaskiqDepends
from taskiq.serializers import JSONSerializer

from models.settings import Settings
from workers.redis_broker import (
    ResilientClusterBroker,
    ResilientSentinelBroker,
    ResilientStreamBroker,
    redis_target,
)

TASK_NAME = "taskdeck.run_task"


async def run_task(task_id: str, context: Annotated[Context, TaskiqDepends()]) -> None:
    """Doorbell: some task is claimable; ``task_id`` is only a hint."""
    runtime = getattr(context.state, "runtime", None)
    if runtime is not None:
        await runtime.ring(task_id)


def _redis_broker(settings: Settings, url: str) -> AsyncBroker:
    """The stream broker ``REDIS_URL`` names: one Redis, a Sentinel set, or (with
    ``TASKDECK_REDIS_CLUSTER=true``) a Redis Cluster — taskiq-redis's own brokers, reconnecting."""
    common: dict[str, Any] = {
        "queue_name": settings.queue_name,
        "consumer_group_name": f"{settings.queue_name}-workers",
        # Sentinel/Cluster: capped at XADD (the sweeper's safe trim needs the plain broker's pool)
        "maxlen": settings.stream_maxlen,
        "xread_block": 1000,
    }
    timeouts: dict[str, Any] = {"socket_timeout": 10, "socket_connect_timeout": 5}
    sentinel = redis_target(url)
    if sentinel is not None:
        sentinel_kwargs = dict(timeouts)
        if sentinel.sentinel_password:
            sentinel_kwargs["password"] = sentinel.sentinel_password
        return ResilientSentinelBroker(
            sentinels=sentinel.sentinels,
            master_name=sentinel.master,
            sentinel_kwargs=sentinel_kwargs,
            db=sentinel.db,
            password=sentinel.password,
            retry_on_timeout=True,
            **common,
            **timeouts,
        )
    if settings.redis_cluster:
        return ResilientClusterBroker(url, **common, **timeouts)
    plain = {**common, "maxlen": None}  # trimmed by the sweeper, never past an undelivered/pending entry
    return ResilientStreamBroker(url, **plain, **timeouts, health_check_interval=10, retry_on_timeout=True)


def make_broker(settings: Settings) -> AsyncBroker:
    broker: AsyncBroker
    if settings.redis_url:
        broker = _redis_broker(settings, settings.redis_url).with_serializer(JSONSerializer())
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
