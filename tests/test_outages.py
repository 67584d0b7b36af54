"""Nothing lost, nothing doubled when Redis restarts or the network to Postgres blips.

Redis: a private `redis-server` of this test (killed and restarted on the same port, empty, as a
Redis without persistence comes back). Postgres: the worker reaches it through a TCP proxy in
the test that drops every connection and refuses new ones for a while — what a Postgres
restart or a network blip looks like from the worker's side.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import Procs, free_port, wait_for
from tests.stack import Stack

pytestmark = pytest.mark.slow


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target; ``blip()`` cuts everything for a while."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.server: asyncio.Server | None = None
        self.pipes: set[asyncio.Task[None]] = set()
        self.writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", self.port, reuse_address=True)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None
        for w in list(self.writers):
            w.transport.abort()
        for t in list(self.pipes):
            t.cancel()

    async def blip(self, seconds: float) -> None:
        await self.stop()
        await asyncio.sleep(seconds)
        await self.start()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self.writers |= {writer, up_writer}
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(src, dst))
            self.pipes.add(task)
            task.add_done_callback(self.pipes.discard)

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            with contextlib.suppress(Exception):
                dst.transport.abort()
            self.writers.discard(dst)


@pytest.fixture
async def private_redis(procs: Procs) -> AsyncIterator[Any]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is needed for the Redis restart test")
    port = free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]

    class Server:
        url = f"redis://127.0.0.1:{port}/0"

        def __init__(self) -> None:
            self.proc = procs.spawn("redis", args, {})

        def kill(self) -> None:
            self.proc.stop(signal.SIGKILL)

        def restart(self) -> None:
            self.proc = procs.spawn("redis", args, {})

    server = Server()
    yield server
    server.kill()


async def test_redis_restart_loses_nothing(
    db: Any,
    pg_url: str,
    private_redis: Any,
    start_webapp: Any,
    start_worker: Any,
    auth_headers: dict[str, str],
) -> None:
    env = {"DATABASE_URL": pg_url, "REDIS_URL": private_redis.url, "TASKDECK_HEARTBEAT_TIMEOUT": 4}
    web = await start_webapp(**env)
    worker = start_worker(**env, TASKDECK_DEMO_STORE_URL=f"{web.url}/demo-store")
    async with httpx.AsyncClient(timeout=15, headers=auth_headers) as http:
        s = Stack(web.url or "", http)
        await s.product("sneaker-drop", delayMs=800)
        first = await s.create(start="now")
        await s.wait(first["id"], "running")
        private_redis.kill()
        during = await s.create(start="now", product="vinyl-box")  # the doorbell cannot be rung
        assert during["status"] == "queued"
        await asyncio.sleep(1)
        private_redis.restart()
        after = await s.create(start="now", product="console-limited")
        for task in (first, during, after):
            done = await s.wait(task["id"], "completed", "failed", timeout=60)
            assert done["status"] == "completed", done
            assert len(await s.orders(task["id"])) == 1
        assert worker.popen.poll() is None
        # the worker rode it out: the task running through the outage kept its first attempt,
        # and no worker process had to be restarted
        assert (await s.task(first["id"]))["attempts"] == 1
        assert "restarted with pid" not in worker.log() and "reconnecting" in worker.log()


async def test_postgres_blip_loses_nothing_and_buys_once(
    db: Any, pg_url: str, redis_queue: str, start_webapp: Any, start_worker: Any, auth_headers: dict[str, str]
) -> None:
    from tests.conftest import REDIS_URL

    url = make_url(pg_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    try:
        env = {"REDIS_URL": REDIS_URL, "TASKDECK_QUEUE_NAME": redis_queue, "TASKDECK_HEARTBEAT_TIMEOUT": 6}
        web = await start_webapp(DATABASE_URL=pg_url, **env)
        proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        worker = start_worker(DATABASE_URL=proxied, TASKDECK_DEMO_STORE_URL=f"{web.url}/demo-store", **env)
        async with httpx.AsyncClient(timeout=15, headers=auth_headers) as http:
            s = Stack(web.url or "", http)
            await s.product("sneaker-drop", delayMs=700)
            tasks = [await s.create(start="now", name=f"blip{i}") for i in range(3)]
            await s.wait(tasks[0]["id"], "running")
            await asyncio.sleep(1.0)
            await proxy.blip(2.5)  # every worker connection cut, new ones refused
            for task in tasks:
                done = await s.wait(task["id"], "completed", "failed", timeout=90)
                assert done["status"] == "completed", done
                assert len(await s.orders(task["id"])) == 1
            assert worker.popen.poll() is None

            async def purchases() -> int:
                r = await http.get(f"{web.url}/api/purchases")
                return int(r.json()["count"])

            assert await wait_for(purchases, timeout=5) == 3
            assert {o["reference"] for o in await s.orders()} == {t["id"] for t in tasks}
    finally:
        await proxy.stop()
