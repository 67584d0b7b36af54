"""API: ``POST /api/tasks`` against a running ``python -m webapp`` vs ``GET /api/health`` on it.

The webapp runs as a subprocess on the bench database and its own stream key (no workers).
Each POST creates a ``noop`` task with ``start: now``, so it does what a real client's request
does: validate, INSERT the row, write the event + NOTIFY, commit, and kick the doorbell to Redis.
The baseline is the cheapest route of the same server (no database), so the ratio is the cost of
creating a task on top of the web stack. The client is httpx in this process, ``concurrency``
requests in flight; both run a short warm-up first.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count

import httpx

from bench.harness import BenchEnv, Result, percentile

WARMUP = 20
BLOCKS = 5


async def run(env: BenchEnv, *, requests: int, concurrency: int) -> Result:
    result = Result(
        "api",
        f"{requests} requests each, httpx with {concurrency} in flight, webapp on Postgres + Redis",
        params={"requests": requests, "concurrency": concurrency},
    )
    webapp = await env.start_webapp(env.queue("api"))
    try:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(
            base_url=webapp.url or "", timeout=30, limits=limits, headers=env.api_headers
        ) as client:
            numbers = count()

            def create() -> httpx.Request:
                n = next(numbers)
                body = {"name": f"api bench {n}", "store": "noop", "product": "noop", "start": "now"}
                return client.build_request("POST", "/api/tasks", json=body)

            def health() -> httpx.Request:
                return client.build_request("GET", "/api/health")

            await _load(client, health, WARMUP, concurrency)
            await _load(client, create, WARMUP, concurrency)
            base, deck = Load(), Load()
            per_block = -(-requests // BLOCKS)
            for block in range(BLOCKS):  # alternate, so both see the same machine
                n = min(per_block, requests - block * per_block)
                if n > 0:
                    base.add(await _load(client, health, n, concurrency))
                    deck.add(await _load(client, create, n, concurrency))
    finally:
        await env.stop(webapp, grace=10)

    result.add("throughput", "req/s", deck.rate, base.rate, "GET /api/health")
    result.add(
        "latency p50", "ms", percentile(deck.latencies, 50), percentile(base.latencies, 50), "GET /api/health"
    )
    result.add(
        "latency p95", "ms", percentile(deck.latencies, 95), percentile(base.latencies, 95), "GET /api/health"
    )
    result.notes.append(
        f"POST /api/tasks statuses: {dict(sorted(deck.statuses.items()))}; "
        f"GET /api/health: {dict(sorted(base.statuses.items()))}"
    )
    result.notes.append(
        f"the two routes alternate in {BLOCKS} blocks; client and server share the 2 cores, "
        "so the client's own cost is in both columns"
    )
    return result


@dataclass
class Load:
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else float("nan")

    def add(self, other: Load) -> None:
        self.latencies += other.latencies
        self.seconds += other.seconds
        self.statuses += other.statuses


async def _load(
    client: httpx.AsyncClient, build: Callable[[], httpx.Request], n: int, concurrency: int
) -> Load:
    """``n`` requests, ``concurrency`` at a time; status 0 = transport error."""
    load = Load()
    remaining = iter(range(n))

    async def user() -> None:
        for _ in remaining:
            request = build()
            started = time.perf_counter()
            try:
                response = await client.send(request)
                await response.aread()
                load.statuses[response.status_code] += 1
            except httpx.HTTPError:
                load.statuses[0] += 1
            load.latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(user() for _ in range(concurrency)))
    load.seconds = time.perf_counter() - started
    return load
