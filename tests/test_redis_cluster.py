"""Redis Cluster: three real masters on loopback ports (Debian's ``redis-server
--cluster-enabled yes``, joined by ``redis-cli --cluster create``). The webapp and a worker use
taskiq-redis's cluster stream broker (``TASKDECK_REDIS_CLUSTER=true``, ``REDIS_URL`` naming one
node, which is not the one that holds the queue's stream, so slot redirections are followed).

Tasks run end to end through it. Then the node that holds the stream is killed: a cluster
without replicas is down while a master is (no failover is possible), so what is promised is
what Taskdeck promises for any Redis outage — the API still takes tasks (the rows are the truth;
their doorbells fail), nothing runs twice, and once the node is back (restarted on its own
``nodes.conf``, without its data: no persistence here) the worker has ridden it out without a
restart, declares its consumer group again and the sweeper re-rings every waiting task."""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from redis.crc import key_slot

from models.db import Database
from tests.conftest import AuthUser, Proc, Procs, free_port, wait_for
from tests.noop_batch import NoopBatch
from tests.test_operations import samples

pytestmark = pytest.mark.slow


class ClusterSet:
    """Three masters, no replicas; each node's config and ``nodes.conf`` in a folder of its own."""

    def __init__(self, procs: Procs, tmp: Path, binary: str) -> None:
        self.procs, self.tmp, self.binary = procs, tmp, binary
        self.ports = [free_port() for _ in range(3)]
        self.bus_ports = {port: free_port() for port in self.ports}
        self.nodes: dict[int, Proc] = {}
        for port in self.ports:
            self.start(port)

    def start(self, port: int) -> Proc:
        folder = self.tmp / f"node-{port}"
        folder.mkdir(exist_ok=True)
        args = [
            self.binary,
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--cluster-enabled", "yes",
            "--cluster-port", str(self.bus_ports[port]),
            "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", "2000",
            "--dir", str(folder),
            "--save", "",
            "--appendonly", "no",
        ]  # fmt: skip
        self.nodes[port] = self.procs.spawn(f"redis-{port}", args, {})
        return self.nodes[port]

    async def ask(self, port: int, *command: Any) -> Any:
        client = aioredis.Redis(port=port, decode_responses=True, socket_timeout=5)
        try:
            return await client.execute_command(*command)
        finally:
            await client.aclose()

    async def answers(self, port: int) -> bool:
        try:
            return bool(await self.ask(port, "PING"))
        except (OSError, aioredis.ConnectionError, aioredis.TimeoutError):
            return False

    async def healthy(self) -> bool:
        """Every node answers and says ``cluster_state:ok``."""
        for port in self.ports:
            try:
                info = await self.ask(port, "CLUSTER", "INFO")
            except (OSError, aioredis.ConnectionError, aioredis.TimeoutError):
                return False
            if "cluster_state:ok" not in info:
                return False
        return True

    async def create(self) -> None:
        for port in self.ports:
            await wait_for(lambda p=port: self.answers(p), timeout=30, what=f"redis node {port}")
        nodes = [f"127.0.0.1:{port}" for port in self.ports]
        joined = await asyncio.to_thread(
            subprocess.run,
            ["redis-cli", "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert joined.returncode == 0, joined.stdout + joined.stderr
        await wait_for(self.healthy, timeout=60, interval=0.5, what="cluster_state:ok on every node")

    async def owner_of(self, key: str) -> int:
        """The port of the master that serves ``key``'s slot."""
        slot = key_slot(key.encode())
        for start, end, master, *_ in await self.ask(self.ports[0], "CLUSTER", "SLOTS"):
            if int(start) <= slot <= int(end):
                return int(master[1])
        raise AssertionError(f"no node serves slot {slot}")


@pytest.fixture
async def cluster(procs: Procs, tmp_path: Path) -> AsyncIterator[ClusterSet]:
    binary = shutil.which("redis-server")
    if binary is None or shutil.which("redis-cli") is None:
        pytest.skip("redis-server/redis-cli are not installed (apt-get install redis-server)")
    found = ClusterSet(procs, tmp_path, binary)
    await found.create()
    yield found


async def test_tasks_run_through_a_redis_cluster_and_ride_out_a_node_restart(
    db: Database,
    pg_url: str,
    redis_queue: str,
    cluster: ClusterSet,
    start_webapp: Any,
    start_worker: Any,
    api_user: AuthUser,
    admin_user: AuthUser,
) -> None:
    holder = await cluster.owner_of(redis_queue)
    entry = next(port for port in cluster.ports if port != holder)  # redirections are followed
    env = {
        "DATABASE_URL": pg_url,
        "REDIS_URL": f"redis://127.0.0.1:{entry}/0",
        "TASKDECK_REDIS_CLUSTER": "true",
        "TASKDECK_QUEUE_NAME": redis_queue,
        "TASKDECK_REKICK_AFTER": "2",
    }
    web = await start_webapp(**env)
    worker = start_worker(**env, TASKDECK_WORKER_CONCURRENCY=2)
    async with httpx.AsyncClient(base_url=web.url or "", timeout=30, headers=api_user.headers) as http:
        tasks = NoopBatch(http, prefix="c")
        await tasks.create(10)
        await tasks.wait_all_done("every task completed through the cluster")
        ready = await http.get("/readyz")
        assert ready.status_code == 200, ready.text
        admin = {"Authorization": f"Bearer {admin_user.token}"}
        scraped = samples((await http.get("/metrics", headers=admin)).text)
        assert scraped[("taskdeck_queue", (("what", "stream_length"),))] >= 10  # read through the cluster
        holder_client = aioredis.Redis(port=holder, decode_responses=True)
        try:  # the doorbells went through the stream on the node that serves its slot
            assert await holder_client.xlen(redis_queue) >= 10
        finally:
            await holder_client.aclose()

        cluster.nodes[holder].stop(signal.SIGKILL)  # the queue's master dies; no replica to promote
        await tasks.create(5)  # the rows are written; their doorbells cannot ring

        async def red() -> httpx.Response | None:
            answer = await http.get("/readyz")
            return answer if answer.status_code == 503 else None

        down = await wait_for(red, timeout=30, interval=0.5, what="/readyz red while a master is down")
        assert "cluster_state" in down.text or "redis" in down.text, down.text
        cluster.start(holder)  # back on its nodes.conf, without its data (no persistence)
        await wait_for(cluster.healthy, timeout=60, interval=0.5, what="the cluster healthy again")

        async def green() -> bool:
            return (await http.get("/readyz")).status_code == 200

        await wait_for(green, timeout=30, interval=0.5, what="/readyz green again")
        await tasks.create(5)
        await tasks.wait_all_done("every task completed after the restart")

    assert len(tasks.ids) == 20
    await tasks.assert_each_ran_and_bought_once(db)
    assert worker.popen.poll() is None and "restarted with pid" not in worker.log()
    holder_client = aioredis.Redis(port=holder, decode_responses=True)
    try:  # the stream came back empty and the listener declares the group again (after its backoff)

        async def declared() -> bool:
            groups = await holder_client.xinfo_groups(redis_queue)
            return [g["name"] for g in groups] == [f"{redis_queue}-workers"]

        await wait_for(declared, timeout=30, interval=0.5, what="the consumer group declared again")
    finally:
        await holder_client.aclose()
