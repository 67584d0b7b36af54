"""The taskiq side: which broker, the one task, and how a doorbell is rung.

With ``REDIS_URL``: ``RedisStreamBroker`` (the only taskiq-redis broker with acknowledgements;
here its reconnecting subclass, ``workers/redis_broker.py``; its Sentinel or Cluster sibling
when ``REDIS_URL`` is ``redis+sentinel://…`` or ``TASKDECK_REDIS_CLUSTER=true``),
JSON serializer, stream trimmed at ``stream_maxlen``. Without it: ``InMemoryBroker``, which runs
the task in this process (embedded mode). The message is only the task id.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

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
    return ResilientStreamBroker(url, **common, **timeouts, health_check_interval=10, retry_on_timeout=True)


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
