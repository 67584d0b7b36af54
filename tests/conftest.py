"""Shared fixtures: real Postgres, Redis, Chromium, and real webapp/worker processes.

Services come from ``TASKDECK_TEST_DATABASE_URL`` (a server URL; each test session creates and
drops its own database) and ``TASKDECK_TEST_REDIS_URL`` (each session uses its own stream key).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis
from sqlalchemy import text
from sqlalchemy.engine import make_url

from models import migrations
from models.db import Database

pytest_plugins = ["tests.conftest_demo"]

ROOT = Path(__file__).resolve().parent.parent
SERVER_URL = os.environ.get("TASKDECK_TEST_DATABASE_URL", "postgresql+asyncpg://root@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TASKDECK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RUN_ID = uuid.uuid4().hex[:8]
TABLES = (
    "purchase",
    "task_event",
    "task_attempt",
    "task",
    "worker",
    "account",
    "profile",
    "api_token",
    '"user"',
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def chromium_path() -> str:
    path = (
        os.environ.get("TASKDECK_BROWSER_PATH")
        or shutil.which("chromium")
        or shutil.which("chromium-browser")
    )
    if not path:
        pytest.fail("no Chromium found: run `make install` (it installs one) or set TASKDECK_BROWSER_PATH")
    return path


def _plain_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(_plain_dsn(SERVER_URL))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def pg_url() -> AsyncIterator[str]:
    """A fresh database for this test session, migrated to head; dropped afterwards."""
    name = f"taskdeck_test_{RUN_ID}"
    await _admin(f'CREATE DATABASE "{name}"')
    url = make_url(SERVER_URL).set(database=name).render_as_string(hide_password=False)
    db = Database(url)
    await migrations.upgrade(db)
    await db.dispose()
    yield url
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def db(pg_url: str) -> AsyncIterator[Database]:
    """The session database, emptied before each test."""
    database = Database(pg_url)
    async with database.engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    yield database
    await database.dispose()


@pytest.fixture
async def redis_queue() -> AsyncIterator[str]:
    """A stream key of this test's own; deleted afterwards."""
    name = f"taskdeck-test-{RUN_ID}-{uuid.uuid4().hex[:6]}"
    yield name
    client = aioredis.from_url(REDIS_URL)
    try:
        keys = [k async for k in client.scan_iter(f"{name}*")]
        keys += [k async for k in client.scan_iter(f"autoclaim:{name}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


# ---- processes ----------------------------------------------------------------------------


def child_env(**overrides: Any) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTEST_CURRENT_TEST", "DATABASE_URL", "REDIS_URL")
    }
    env = {k: v for k, v in env.items() if not k.startswith("TASKDECK_") or k.startswith("TASKDECK_TEST_")}
    env["TASKDECK_BROWSER_PATH"] = chromium_path()
    env["PYTHONUNBUFFERED"] = "1"
    env.update({k: str(v) for k, v in overrides.items() if v is not None})
    return env


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    url: str | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30, *, group: bool = True) -> int | None:
        """Signal the process group (or, like docker/tini, only the main process) and wait."""
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, sig) if group else os.kill(self.popen.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(10)
        with contextlib.suppress(ProcessLookupError):  # stragglers (a driver, a browser)
            os.killpg(self.popen.pid, signal.SIGKILL)
        return self.popen.returncode


@dataclass
class Procs:
    tmp: Path
    started: list[Proc] = field(default_factory=list)

    def spawn(self, name: str, args: list[str], env: dict[str, str], cwd: Path = ROOT) -> Proc:
        log_path = self.tmp / f"{name}-{len(self.started)}.log"
        with log_path.open("wb") as out:
            popen = subprocess.Popen(
                args, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        proc = Proc(name, popen, log_path)
        self.started.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in reversed(self.started):
            proc.stop(signal.SIGKILL if proc.name == "worker" else signal.SIGTERM, timeout=15)


@pytest.fixture
def procs(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Procs]:
    p = Procs(tmp_path)
    yield p
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        for proc in p.started:
            sys.stderr.write(f"\n----- {proc.name} (pid {proc.pid}) log -----\n{proc.log()[-6000:]}\n")
    p.stop_all()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep


async def wait_http(url: str, proc: Proc, timeout: float = 40) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            if proc.popen.poll() is not None:
                raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.log()[-4000:]}")
            try:
                r = await client.get(url)
                if r.status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise TimeoutError(f"{url} did not answer in {timeout}s:\n{proc.log()[-4000:]}")


StartWebapp = Callable[..., Any]


@pytest.fixture
def start_webapp(procs: Procs, tmp_path: Path) -> StartWebapp:
    """Start ``python -m webapp`` with the given settings; returns its Proc with ``url`` set."""

    async def start(cwd: Path = ROOT, **env: Any) -> Proc:
        port = free_port()
        settings = {
            "TASKDECK_PORT": port,
            "TASKDECK_ARTIFACTS_DIR": tmp_path / "artifacts",
            "TASKDECK_SWEEP_INTERVAL": 0.5,
            "TASKDECK_HEARTBEAT_INTERVAL": 0.5,
            "TASKDECK_SECRET_KEY": TEST_SECRET_KEY,
            **env,
        }
        proc = procs.spawn("webapp", [sys.executable, "-m", "webapp"], child_env(**settings), cwd=cwd)
        proc.url = f"http://127.0.0.1:{port}"
        await wait_http(f"{proc.url}/api/health", proc)
        return proc

    return start


@pytest.fixture
def start_worker(procs: Procs, tmp_path: Path) -> StartWebapp:
    """Start ``taskiq worker workers.broker:broker`` (one process) with the given settings."""

    def start(**env: Any) -> Proc:
        settings = {
            "TASKDECK_ARTIFACTS_DIR": tmp_path / "artifacts",
            "TASKDECK_SWEEP_INTERVAL": 0.5,
            "TASKDECK_HEARTBEAT_INTERVAL": 0.5,
            "TASKDECK_SECRET_KEY": TEST_SECRET_KEY,
            **env,
        }
        args = [
            str(Path(sys.executable).parent / "taskiq"),
            "worker",
            "workers.broker:broker",
            "--workers",
            "1",
            "--log-level",
            "INFO",
        ]
        return procs.spawn("worker", args, child_env(**settings))

    return start


TEST_SECRET_KEY = "_4sJMft94wHTCb0mwq2EpgQcCdPzlyxjGEJI4OS4Ddc="  # a Fernet key, tests only


async def wait_for(
    predicate: Callable[[], Any], *, timeout: float = 30, interval: float = 0.1, what: str = "condition"
) -> Any:
    """Poll an async or sync predicate until it returns something truthy."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
