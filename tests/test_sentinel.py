"""Redis Sentinel: a real Sentinel on loopback watching a master and a replica (Debian's
``redis-server --sentinel``). The webapp and a worker reach Redis through
``REDIS_URL=redis+sentinel://…/<master>``; the master is killed in the middle of a run of tasks
and the Sentinel promotes the replica. Every task completes exactly once (one attempt, one
purchase), the worker process rides it out without a restart, and doorbells after the failover
go through the promoted master's stream."""

from __future__ import annotations

import shutil
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from models.db import Database
from tests.conftest import AuthUser, Procs, free_port, wait_for
from tests.noop_batch import NoopBatch

pytestmark = pytest.mark.slow
MASTER = "taskdeck-test"


class SentinelSet:
    def __init__(self, procs: Procs, tmp: Path, binary: str) -> None:
        self.procs, self.binary = procs, binary
        self.master_port, self.replica_port, self.sentinel_port = free_port(), free_port(), free_port()
        common = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.master = procs.spawn("redis-master", [binary, "--port", str(self.master_port), *common], {})
        replica_of = ["--replicaof", "127.0.0.1", str(self.master_port)]
        self.replica = procs.spawn(
            "redis-replica", [binary, "--port", str(self.replica_port), *common, *replica_of], {}
        )
        conf = tmp / "sentinel.conf"  # Sentinel rewrites its config: a file of this test's own
        conf.write_text(
            f"port {self.sentinel_port}\nbind 127.0.0.1\n"
            f"sentinel monitor {MASTER} 127.0.0.1 {self.master_port} 1\n"
            f"sentinel down-after-milliseconds {MASTER} 1000\n"
            f"sentinel failover-timeout {MASTER} 10000\n"
        )
        self.sentinel = procs.spawn("redis-sentinel", [binary, str(conf), "--sentinel"], {})
        self.url = f"redis+sentinel://127.0.0.1:{self.sentinel_port}/{MASTER}"

    async def ask(self, *command: Any) -> Any:
        client = aioredis.Redis(port=self.sentinel_port, decode_responses=True)
        try:
            return await client.execute_command(*command)
        finally:
            await client.aclose()

    async def master_port_now(self) -> int:
        _, port = await self.ask("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER)
        return int(port)

    async def ready(self) -> None:
        async def replica_known() -> bool:
            try:
                return bool(await self.ask("SENTINEL", "REPLICAS", MASTER))
            except (OSError, aioredis.ConnectionError):
                return False

        await wait_for(replica_known, timeout=40, interval=0.5, what="the Sentinel to see the replica")


@pytest.fixture
async def sentinel_set(procs: Procs, tmp_path: Path) -> AsyncIterator[SentinelSet]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server); Sentinel runs from it")
    found = SentinelSet(procs, tmp_path, binary)
    await found.ready()
    yield found


async def test_sentinel_failover_mid_run_loses_and_doubles_nothing(
    db: Database,
    pg_url: str,
    redis_queue: str,
    sentinel_set: SentinelSet,
    start_webapp: Any,
    start_worker: Any,
    api_user: AuthUser,
) -> None:
    env = {"DATABASE_URL": pg_url, "REDIS_URL": sentinel_set.url, "TASKDECK_QUEUE_NAME": redis_queue}
    web = await start_webapp(**env)
    worker = start_worker(**env, TASKDECK_WORKER_CONCURRENCY=2)
    async with httpx.AsyncClient(base_url=web.url or "", timeout=30, headers=api_user.headers) as http:
        tasks = NoopBatch(http, prefix="s")
        await tasks.create(15)
        assert await sentinel_set.master_port_now() == sentinel_set.master_port
        sentinel_set.master.stop(signal.SIGKILL)  # the master dies mid-run
        await tasks.create(10)  # while the Sentinel fails over: doorbells may not ring; rows stay queued

        async def promoted() -> bool:
            return await sentinel_set.master_port_now() == sentinel_set.replica_port

        await wait_for(promoted, timeout=60, interval=0.5, what="the replica promoted")
        await tasks.create(15)
        await tasks.wait_all_done("every task completed")

    assert len(tasks.ids) == 40
    await tasks.assert_each_ran_and_bought_once(db)

    # the worker rode the failover out and reads doorbells from the promoted master
    assert worker.popen.poll() is None and "restarted with pid" not in worker.log()
    promoted_master = aioredis.Redis(port=sentinel_set.replica_port, decode_responses=True)
    try:
        assert await promoted_master.xlen(redis_queue) >= 15
        (group,) = await promoted_master.xinfo_groups(redis_queue)
        last = await promoted_master.xrevrange(redis_queue, count=1)
        assert group["last-delivered-id"] == last[0][0]  # a worker read the newest doorbell
    finally:
        await promoted_master.aclose()
