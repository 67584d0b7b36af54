"""Fixtures for engine tests: in-process worker runtimes on the test database, and for browser
tests: a local HTTP test shop (``site``), a ``BrowserPool`` factory (``make_pool``) and helpers
that watch this test process's Chromium processes."""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psutil
import pytest
from sqlalchemy import func, select
from sqlmodel import col

from models import tasks as ops
from models.db import Database
from models.schemas import TaskCreate
from models.settings import Settings
from models.tables import Purchase, Task, TaskAttempt
from tests.conftest import wait_for
from workers.browser import BrowserPool, find_chromium
from workers.runtime import WorkerRuntime

CHROMIUM = find_chromium()
SHOP_HEADING = "In stock"  # the test shop's <h1>


def settings_for(pg_url: str, **overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "database_url": pg_url,
        "redis_url": None,
        "heartbeat_interval": 0.2,
        "heartbeat_timeout": 2.0,
        "sweep_interval": 0.2,
        "backoff_base": 0.3,
        "backoff_cap": 5,
        "worker_concurrency": 1,
        "shutdown_grace": 1.0,
        "rekick_after": 2.0,
        "order_check_interval": 0.2,
    }
    return Settings(**{**base, **overrides})


Start = Callable[..., Any]


@pytest.fixture
async def runtimes(db: Database, tmp_path: Any) -> AsyncIterator[Start]:
    started: list[WorkerRuntime] = []

    async def start(**overrides: Any) -> WorkerRuntime:
        settings = settings_for(
            str(db.url.render_as_string(hide_password=False)),
            artifacts_dir=tmp_path / "artifacts",
            **overrides,
        )

        async def kick(task_id: uuid.UUID) -> None:
            for rt in started:
                asyncio.get_running_loop().create_task(rt.ring(str(task_id)))

        rt = await WorkerRuntime(settings=settings, db=Database(settings.database_url), kick=kick).start()
        started.append(rt)
        return rt

    yield start
    for rt in started:
        await rt.stop(grace=0)
        await rt.db.dispose()


async def create(db: Database, rt: WorkerRuntime | None = None, **fields: Any) -> Task:
    data = TaskCreate(**{"name": "t", "store": "engine-test", "product": "ok", **fields})
    async with db.begin() as session:
        task = await ops.create_task(session, data=data, settings=Settings(backoff_base=0.3))
    if rt is not None and task.status == "queued":
        await rt.kick(task.id)
    return task


async def get(db: Database, task_id: uuid.UUID) -> Task:
    async with db.session() as session:
        return await ops.get_task(session, task_id)


async def until_status(db: Database, task_id: uuid.UUID, *statuses: str, timeout: float = 15) -> Task:
    async def check() -> Task | None:
        task = await get(db, task_id)
        return task if task.status in statuses else None

    return await wait_for(check, timeout=timeout, what=f"task {task_id} to be {statuses}")


async def attempts(db: Database, task_id: uuid.UUID) -> list[TaskAttempt]:
    async with db.session() as session:
        rows = await session.scalars(
            select(TaskAttempt).where(col(TaskAttempt.task_id) == task_id).order_by(col(TaskAttempt.id))
        )
        return list(rows)


async def purchases(db: Database, task_id: uuid.UUID) -> int:
    async with db.session() as session:
        return (
            await session.scalar(
                select(func.count()).select_from(Purchase).where(Purchase.task_id == task_id)
            )
            or 0
        )


# ---- browsers ------------------------------------------------------------------------------


class _Shop(BaseHTTPRequestHandler):
    """Every path answers one small page; ``/slow…`` only after 30 s (past any step timeout)."""

    def do_GET(self) -> None:
        if self.path.startswith("/slow"):
            time.sleep(30)
        body = f"<!doctype html><title>Shop</title><h1>{SHOP_HEADING}</h1>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    """The test shop's URL (``http://127.0.0.1:<port>/``), one server per test module."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Shop)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture
async def make_pool() -> AsyncIterator[Callable[..., Any]]:
    """Factory: ``pool = await make_pool(recycle_after=2)``; every pool is closed afterwards."""
    pools: list[BrowserPool] = []

    async def make(**kwargs: Any) -> BrowserPool:
        kwargs.setdefault("executable_path", CHROMIUM)
        pool = BrowserPool(**kwargs)
        await pool.start()
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        await pool.close()


def chromium_browsers() -> set[int]:
    """Live Chromium browser processes (not their helpers) started by this test process."""
    chromium: dict[int, int] = {}
    for proc in psutil.Process().children(recursive=True):
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                continue
            exe = (proc.cmdline() or [""])[0]
            if "chrom" in os.path.basename(exe).lower():
                chromium[proc.pid] = proc.ppid()
        except psutil.Error:
            continue
    return {pid for pid, parent in chromium.items() if parent not in chromium}


async def gone(pid: int | None, within: float = 5.0) -> bool:
    """True once ``pid`` no longer runs (a zombie waiting for its reaper counts as gone)."""
    assert pid is not None
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        await asyncio.sleep(0.05)
    return False
