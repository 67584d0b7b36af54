"""Shared fixtures: real Postgres, Redis, Chromium, and real webapp/worker processes.

Services come from ``TASKDECK_TEST_DATABASE_URL`` (a server URL; each test session creates and
drops its own database) and ``TASKDECK_TEST_REDIS_URL`` (each session uses its own stream key).

Users (session-scoped, in the session database; ``db`` empties every table but ``user`` and
``api_token``): ``api_user`` / ``api_token`` (a plain user; ``auth_headers`` sends its token),
``second_user`` / ``second_token`` (another plain user) and ``admin_user``. Each ``AuthUser``
has its password (to sign in a browser with ``sign_in``) and a bearer token.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
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
from sqlalchemy.exc import DBAPIError

from models import migrations, users
from models.db import Database

pytest_plugins = ["tests.conftest_demo", "tests.xdist_groups"]

ROOT = Path(__file__).resolve().parent.parent
SERVER_URL = os.environ.get("TASKDECK_TEST_DATABASE_URL", "postgresql+asyncpg://root@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TASKDECK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RUN_ID = uuid.uuid4().hex[:8]
TABLES = (
    "webhook_attempt",
    "webhook_delivery",
    "webhook",
    "purchase",
    "task_event",
    "task_attempt",
    "task",
    "worker",
    "queue_pause",
    "account",
    "profile",
    "idempotency_key",
)  # users and their tokens live for the whole session (api_user, second_user, admin_user)


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


@dataclass(frozen=True)
class AuthUser:
    id: uuid.UUID
    email: str
    password: str
    token: str
    is_admin: bool = False

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def make_user(url: str, email: str, *, admin: bool = False) -> AuthUser:
    """A user with a password and an API token in the database at ``url``."""
    password = f"pw-{uuid.uuid4().hex[:12]}"
    database = Database(url)
    try:
        async with database.begin() as session:
            user = await users.create_user(session, email=email, password=password, is_admin=admin)
            issued = await users.create_token(session, owner_id=user.id, name="tests")
        return AuthUser(id=user.id, email=user.email, password=password, token=issued.token, is_admin=admin)
    finally:
        await database.dispose()


@pytest.fixture(scope="session")
async def api_user(pg_url: str) -> AuthUser:
    """The user the tests act as: not an admin."""
    return await make_user(pg_url, "owner@taskdeck.test")


@pytest.fixture(scope="session")
def api_token(api_user: AuthUser) -> str:
    return api_user.token


@pytest.fixture(scope="session")
def auth_headers(api_user: AuthUser) -> dict[str, str]:
    """``Authorization: Bearer`` for ``api_user``: pass to every ``httpx`` client of the API."""
    return api_user.headers


@pytest.fixture(scope="session")
async def second_user(pg_url: str) -> AuthUser:
    """Another plain user, to check that one user does not see another's things."""
    return await make_user(pg_url, "second@taskdeck.test")


@pytest.fixture(scope="session")
def second_token(second_user: AuthUser) -> str:
    return second_user.token


@pytest.fixture(scope="session")
async def admin_user(pg_url: str) -> AuthUser:
    return await make_user(pg_url, "admin@taskdeck.test", admin=True)


async def sign_in(page: Any, url: str, user: AuthUser) -> None:
    """Sign a Playwright page in through ``/login`` (the real form); it ends on ``/tasks``."""
    await page.goto(f"{url}/login")
    await page.locator('input[name="email"]').fill(user.email)
    await page.locator('input[name="password"]').fill(user.password)
    async with page.expect_navigation():
        await page.locator('button[type="submit"]').click()
    assert "/login" not in page.url, f"sign-in as {user.email} failed: {page.url}"


async def sign_in_http(http: httpx.AsyncClient, url: str, email: str, password: str) -> None:
    """Sign an ``httpx`` client in through ``POST /login``; its cookie jar keeps the session."""
    r = await http.post(f"{url}/login", data={"email": email, "password": password, "next": "/tasks"})
    assert (r.status_code, r.headers.get("location")) == (303, "/tasks"), (r.status_code, r.headers)


def first_admin_password(log: str) -> str:
    """The password embedded mode printed for admin@localhost on its first start."""
    match = re.search(r"Sign in as admin@localhost with password: (\S+)", log)
    assert match, f"no first-admin line in the log:\n{log[-3000:]}"
    return match.group(1)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    """One headless Chromium for every browser test of the session (a context per test)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=chromium_path(), headless=True)
        yield chromium
        await chromium.close()


DEADLOCK = "40P01"  # deadlock_detected


@pytest.fixture
async def db(pg_url: str) -> AsyncIterator[Database]:
    """The session database, emptied before each test. Event ids never go back within a session
    (the other sequences restart): a process shared by several tests (``module_procs``) has a
    live hub that drops event ids it has seen."""
    database = Database(pg_url)
    for attempt in range(5):
        try:
            async with database.engine.begin() as conn:
                last = (await conn.execute(text("SELECT last_value FROM task_event_id_seq"))).scalar_one()
                await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
                await conn.execute(text("SELECT setval('task_event_id_seq', :last)"), {"last": last})
            break
        except DBAPIError as exc:  # a process a module shares still writes: TRUNCATE locked it out
            if attempt == 4 or getattr(exc.orig, "sqlstate", None) != DEADLOCK:
                raise
            await asyncio.sleep(0.1 * (attempt + 1))
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


START_TIMEOUT = 120.0  # seconds; a process that dies is reported at once, so only a hang waits this long


async def wait_started(proc: Proc, timeout: float = START_TIMEOUT) -> None:
    """Until the webapp's services have started: ``/readyz`` says ``started`` (its status may be
    503 if a test started it beside a stopped Redis). ``/api/health`` answers as soon as the port
    listens on some paths; a loaded machine (two xdist processes beside other work) can take far
    longer than an idle one to get there."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=10) as client:
        while time.monotonic() < deadline:
            if proc.popen.poll() is not None:
                raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.log()[-4000:]}")
            try:
                r = await client.get(f"{proc.url}/readyz")
                if r.headers.get("content-type", "").startswith("application/json") and r.json().get(
                    "started"
                ):
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise TimeoutError(f"{proc.url} did not start in {timeout}s:\n{proc.log()[-4000:]}")


StartWebapp = Callable[..., Any]


async def launch_webapp(procs: Procs, tmp: Path, cwd: Path = ROOT, **env: Any) -> Proc:
    """Start ``python -m webapp`` with the given settings under ``procs``; returns its Proc with
    ``url`` set, once its services have started (``wait_started``)."""
    port = int(env.pop("TASKDECK_PORT", None) or free_port())  # a restart passes its port
    settings = {
        "TASKDECK_PORT": port,
        "TASKDECK_ARTIFACTS_DIR": tmp / "artifacts",
        "TASKDECK_SWEEP_INTERVAL": 0.5,
        "TASKDECK_HEARTBEAT_INTERVAL": 0.5,
        "TASKDECK_SECRET_KEY": TEST_SECRET_KEY,
        "NICEGUI_STORAGE_PATH": tmp / f"nicegui-{port}",
        # off by default on Postgres; the tests buy in the demo store and use `noop`
        # (pass TASKDECK_DEMO_STORE=None for the production default)
        "TASKDECK_DEMO_STORE": "true",
        **env,
    }
    proc = procs.spawn("webapp", [sys.executable, "-m", "webapp"], child_env(**settings), cwd=cwd)
    proc.url = f"http://127.0.0.1:{port}"
    await wait_started(proc)
    return proc


@pytest.fixture
def start_webapp(procs: Procs, tmp_path: Path) -> StartWebapp:
    """Start ``python -m webapp`` with the given settings; returns its Proc with ``url`` set."""

    async def start(cwd: Path = ROOT, **env: Any) -> Proc:
        return await launch_webapp(procs, tmp_path, cwd, **env)

    return start


@pytest.fixture(scope="module")
def module_procs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Procs]:
    """Processes shared by the tests of one module (a webapp they all talk to): started once,
    stopped after the module's last test. Tests still get an emptied database from ``db``."""
    p = Procs(tmp_path_factory.mktemp("module-procs"))
    yield p
    p.stop_all()


@pytest.fixture
def start_worker(procs: Procs, tmp_path: Path) -> StartWebapp:
    """Start ``taskiq worker workers.broker:broker`` (one process) with the given settings."""

    def start(shutdown_timeout: float | None = None, **env: Any) -> Proc:
        """``shutdown_timeout``: taskiq's ``--shutdown-timeout`` (its own 5 s default when None)."""
        settings = {
            "TASKDECK_ARTIFACTS_DIR": tmp_path / "artifacts",
            "TASKDECK_SWEEP_INTERVAL": 0.5,
            "TASKDECK_HEARTBEAT_INTERVAL": 0.5,
            "TASKDECK_SECRET_KEY": TEST_SECRET_KEY,
            # off by default on Postgres; the tests buy in the demo store and use `noop`
            # (pass TASKDECK_DEMO_STORE=None for the production default)
            "TASKDECK_DEMO_STORE": "true",
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
        if shutdown_timeout is not None:
            args += ["--shutdown-timeout", f"{shutdown_timeout:g}"]
        return procs.spawn("worker", args, child_env(**settings))

    return start


TEST_SECRET_KEY = "_4sJMft94wHTCb0mwq2EpgQcCdPzlyxjGEJI4OS4Ddc="  # a Fernet key, tests only


@pytest.fixture
def open_stack(
    db: Database,
    pg_url: str,
    redis_queue: str,
    start_webapp: StartWebapp,
    start_worker: StartWebapp,
    auth_headers: dict[str, str],
) -> Callable[..., Any]:
    """``async with open_stack(**settings) as stack``: a webapp on Postgres and this test's Redis
    stream (no worker inside), the demo store reset, ``stack.worker()`` for worker processes
    (``tests/stack.py: running_stack``)."""
    from tests.stack import running_stack

    def open_(**settings: Any) -> Any:
        return running_stack(
            db=db,
            pg_url=pg_url,
            redis_url=REDIS_URL,
            queue=redis_queue,
            start_webapp=start_webapp,
            start_worker=start_worker,
            headers=auth_headers,
            **settings,
        )

    return open_


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
