"""The stream broker acknowledges every doorbell through one Redis client (taskiq-redis builds a
client per XACK; issue 9's profile of the worker)."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio import Redis

from tests.conftest import REDIS_URL
from workers.redis_broker import ResilientStreamBroker


async def test_doorbells_are_acknowledged_through_one_client(
    redis_queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    group = f"{redis_queue}-workers"
    broker = ResilientStreamBroker(REDIS_URL, queue_name=redis_queue, consumer_group_name=group)
    await broker.startup()
    client = Redis.from_url(REDIS_URL)
    try:
        for n in range(5):
            await client.xadd(redis_queue, {b"data": f"doorbell {n}".encode()})
        listener = broker.listen()
        messages = [await anext(listener) for _ in range(5)]  # one XREADGROUP: read, not acknowledged
        assert (await client.xpending(redis_queue, group))["pending"] == 5
        built: list[Redis] = []
        real_init = Redis.__init__

        def counting_init(self: Redis, *args: Any, **kwargs: Any) -> None:
            built.append(self)
            real_init(self, *args, **kwargs)

        monkeypatch.setattr(Redis, "__init__", counting_init)
        for message in messages:
            await message.ack()  # type: ignore[misc]
        monkeypatch.undo()
        await listener.aclose()
        assert (await client.xpending(redis_queue, group))["pending"] == 0  # all five acknowledged
        assert len(built) <= 1  # one client for the acks, not one per doorbell
    finally:
        await client.aclose()
        await broker.shutdown()


def test_a_write_on_a_transport_redis_closed_counts_as_a_lost_connection() -> None:
    """uvloop raised this from the listener's XREADGROUP while Redis restarted; the worker died
    (taskiq restarted it) instead of reconnecting (CI, test_redis_restart_loses_nothing)."""
    from workers.redis_broker import closed_transport

    seen = RuntimeError(
        "unable to perform operation on <TCPTransport closed=True reading=False 0x5625b2402ae0>; "
        "the handler is closed"
    )
    assert closed_transport(seen)
    assert not closed_transport(RuntimeError("a bug of ours"))
