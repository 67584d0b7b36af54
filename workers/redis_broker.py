"""taskiq-redis's stream broker, made to ride out a Redis restart.

``RedisStreamBroker.listen`` raises on the first connection error, which ends the worker
process (taskiq's process manager starts a new one) and with it every task that process was
running. Here the listener waits and reconnects instead, and declares the consumer group again:
a Redis that restarted without persistence comes back without the stream and the group
(``NOGROUP``), and the group is then created at the start of the new stream, so doorbells rung
while the workers were reconnecting are still delivered. Running tasks never notice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from taskiq import AckableMessage
from taskiq_redis import RedisStreamBroker

log = logging.getLogger(__name__)

RECONNECT_MAX_DELAY = 5.0


class ResilientStreamBroker(RedisStreamBroker):
    async def listen(self) -> AsyncGenerator[AckableMessage, None]:  # type: ignore[override]
        delay = 0.2
        while True:
            try:
                async for message in super().listen():
                    delay = 0.2
                    yield message
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                log.warning("Redis unreachable (%s); reconnecting in %.1f s", exc, delay)
            except ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                log.warning("Redis lost the consumer group (restarted?); declaring it again")
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_DELAY)
            try:
                await self._redeclare_group()
            except (RedisConnectionError, RedisTimeoutError, OSError):
                continue

    async def _redeclare_group(self) -> None:
        async with Redis(connection_pool=self.connection_pool) as redis:
            for stream in (self.queue_name, *self.additional_streams):
                try:
                    await redis.xgroup_create(stream, self.consumer_group_name, id="0", mkstream=True)
                except ResponseError as exc:  # BUSYGROUP: it survived, nothing to do
                    if "BUSYGROUP" not in str(exc):
                        raise
