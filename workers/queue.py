"""The taskiq side: which broker, the one task, and how a doorbell is rung.

With ``REDIS_URL``: ``RedisStreamBroker`` (the only taskiq-redis broker with acknowledgements;
here its reconnecting subclass, ``workers/redis_broker.py``),
JSON serializer, stream trimmed at ``stream_maxlen``. Without it: ``InMemoryBroker``, which runs
the task in this process (embedded mode). The message is only the task id.
"""

from __future__ import annotations

import uuid
from typing import Annotated

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
            maxlen=settings.stream_maxlen,
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
