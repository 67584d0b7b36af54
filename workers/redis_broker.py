"""taskiq-redis's stream brokers (plain, Sentinel, Cluster), made to ride out a Redis restart or
a failover.

``listen`` of taskiq-redis's stream brokers raises on the first connection error, which ends the
worker process (taskiq's process manager starts a new one) and with it every task that process
was running. Here the listener waits and reconnects instead, and declares the consumer group
again: a Redis that restarted without persistence (or a promoted replica that never saw the
group) comes back without the stream and the group (``NOGROUP``), and the group is then created
at the start of the new stream, so doorbells rung while the workers were reconnecting are still
delivered. Running tasks never notice. With Sentinel, every reconnect asks the sentinels for the
current master (redis-py's ``SentinelManagedConnection``; a demoted master's ``READONLY`` answer
counts as a lost connection).

``REDIS_URL`` chooses the broker (``redis_target``):
    redis://host:port/db, rediss://…                          one Redis
    redis+sentinel://[:password@]host:port[,host:port…]/<master>[/db]   Sentinel
    TASKDECK_REDIS_CLUSTER=true with redis://node:port        Redis Cluster
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ClusterDownError, MasterDownError, ResponseError, TryAgainError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from taskiq import AckableMessage
from taskiq_redis import RedisStreamBroker, RedisStreamClusterBroker, RedisStreamSentinelBroker

from models.redis_url import SentinelTarget, redis_target

__all__ = ["SentinelTarget", "redis_target"]

log = logging.getLogger(__name__)

RECONNECT_MAX_DELAY = 5.0
# unreachable, or a cluster/replica set between masters (a node down, a failover under way)
LOST = (RedisConnectionError, RedisTimeoutError, OSError, ClusterDownError, TryAgainError, MasterDownError)


STARTUP_WAIT = 60.0  # seconds a starting worker waits for Redis before it gives up


def closed_transport(exc: RuntimeError) -> bool:
    """uvloop's answer to a write on a socket Redis closed meanwhile (seen while Redis restarts:
    redis-py reconnects and sends ``HELLO`` on a transport that has just closed): a lost
    connection, not a bug."""
    return "handler is closed" in str(exc)


class Reconnecting:
    """The reconnecting ``listen`` shared by the three stream brokers below."""

    queue_name: str
    consumer_group_name: str
    additional_streams: Any

    def _admin(self) -> AbstractAsyncContextManager[Any]:
        raise NotImplementedError

    async def listen(self) -> AsyncGenerator[AckableMessage, None]:
        delay = 0.2
        while True:
            try:
                async for message in super().listen():  # type: ignore[misc]
                    delay = 0.2
                    yield message
            except LOST as exc:
                log.warning("Redis unreachable (%s); reconnecting in %.1f s", exc, delay)
            except RuntimeError as exc:
                if not closed_transport(exc):
                    raise
                log.warning(
                    "Redis connection closed under the reader (%s); reconnecting in %.1f s", exc, delay
                )
            except ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                log.warning("Redis lost the consumer group (restarted?); declaring it again")
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_DELAY)
            try:
                await self._redeclare_group()
            except LOST:
                continue

    async def _declare_consumer_group(self) -> None:
        """At start-up too: a worker started mid-failover waits for Redis instead of dying
        (taskiq would restart the child)."""
        delay, waited = 0.2, 0.0
        while True:
            try:
                await super()._declare_consumer_group()  # type: ignore[misc]
                return
            except LOST as exc:
                if waited >= STARTUP_WAIT:
                    raise
                log.warning("Redis unreachable at start-up (%s); trying again in %.1f s", exc, delay)
            await asyncio.sleep(delay)
            waited += delay
            delay = min(delay * 2, RECONNECT_MAX_DELAY)

    async def _redeclare_group(self) -> None:
        async with self._admin() as redis:
            for stream in (self.queue_name, *self.additional_streams):
                try:
                    await redis.xgroup_create(stream, self.consumer_group_name, id="0", mkstream=True)
                except ResponseError as exc:  # BUSYGROUP: it survived, nothing to do
                    if "BUSYGROUP" not in str(exc):
                        raise


class ResilientStreamBroker(Reconnecting, RedisStreamBroker):
    _acker: Redis | None = None

    def _admin(self) -> AbstractAsyncContextManager[Any]:
        return Redis(connection_pool=self.connection_pool)

    def _ack_generator(self, id: str, queue_name: str) -> Callable[[], Awaitable[None]]:
        """taskiq-redis builds a Redis client for every XACK (one per doorbell); one client on the
        broker's pool serves them all (each command still takes a pooled connection of its own)."""
        if self._acker is None:
            self._acker = Redis(connection_pool=self.connection_pool)
        acker, group = self._acker, self.consumer_group_name

        async def _ack() -> None:
            await acker.xack(queue_name, group, id)

        return _ack


class ResilientSentinelBroker(Reconnecting, RedisStreamSentinelBroker):
    def _admin(self) -> AbstractAsyncContextManager[Any]:
        return self._acquire_master_conn()


class ResilientClusterBroker(Reconnecting, RedisStreamClusterBroker):
    @asynccontextmanager
    async def _admin(self) -> AsyncIterator[Any]:
        yield self.redis
