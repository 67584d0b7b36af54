"""What every benchmark shares: the bench database and stream keys, child processes, figures.

``BenchEnv`` owns everything a run creates and removes it in ``close()``, whatever happened:
one Postgres database ``taskdeck_bench_<rand>`` (migrated with ``models.migrations.upgrade``),
Redis keys under ``taskdeck-bench-<rand>``, child processes (each in its own session, stopped by
process group and then by the pids of the descendants it had), and a temporary directory for
their logs and artifacts. Only loopback services are used.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
import redis.asyncio as aioredis
from cryptography.fernet import Fernet
from sqlalchemy.engine import make_url

from models import migrations, users
from models.db import Database

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SERVER_URL = "postgresql+asyncpg://root@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
# variables of the app that must not leak from the caller's shell into the processes we start
APP_VARIABLES = ("DATABASE_URL", "REDIS_URL", "PYTEST_CURRENT_TEST")


class BenchError(RuntimeError):
    """A benchmark could not run (a process died, a wait timed out)."""


# ---- figures ------------------------------------------------------------------------------


def percentile(values: Sequence[float], pct: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); nan when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class Row:
    """One figure of Taskdeck next to the same figure of a baseline measured in the same run."""

    metric: str
    unit: str
    taskdeck: float | None
    baseline: float | None
    baseline_name: str

    @property
    def ratio(self) -> float | None:
        if self.taskdeck is None or self.baseline is None or self.baseline == 0:
            return None
        return self.taskdeck / self.baseline

    def as_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "unit": self.unit,
            "taskdeck": _round(self.taskdeck),
            "baseline": _round(self.baseline),
            "baselineName": self.baseline_name,
            "ratio": _round(self.ratio, 3),
        }


@dataclass
class Result:
    name: str
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    skipped: str | None = None
    error: str | None = None

    def add(self, metric: str, unit: str, taskdeck: float | None, baseline: float | None, name: str) -> None:
        self.rows.append(Row(metric, unit, taskdeck, baseline, name))

    def table(self) -> str:
        if self.skipped:
            return f"== {self.name}: skipped, {self.skipped}\n"
        head = f"== {self.name}: {self.title}"
        lines = [head]
        if self.rows:
            cells = [("metric", "Taskdeck", "baseline", "ratio", "baseline is")]
            for row in self.rows:
                cells.append(
                    (
                        f"{row.metric} ({row.unit})",
                        _fmt(row.taskdeck),
                        _fmt(row.baseline),
                        "-" if row.ratio is None else f"{row.ratio:.2f}",
                        row.baseline_name,
                    )
                )
            widths = [max(len(c[i]) for c in cells) for i in range(5)]
            for n, cell in enumerate(cells):
                lines.append(
                    "   "
                    + "  ".join(
                        c.ljust(w) if i in (0, 4) else c.rjust(w)
                        for i, (c, w) in enumerate(zip(cell, widths, strict=True))
                    ).rstrip()
                )
                if n == 0:
                    lines.append("   " + "  ".join("-" * w for w in widths))
        if self.error:
            lines.append(f"   ERROR: {self.error}")
        lines.extend(f"   - {note}" for note in self.notes)
        lines.append(f"   ({self.seconds:.1f} s)")
        return "\n".join(lines) + "\n"

    def as_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "params": self.params,
            "rows": [row.as_json() for row in self.rows],
            "notes": self.notes,
            "seconds": round(self.seconds, 2),
            "skipped": self.skipped,
            "error": self.error,
        }


def _fmt(value: float | None) -> str:
    if value is None or value != value:  # None or nan
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _round(value: float | None, digits: int = 2) -> float | None:
    if value is None or value != value:
        return None
    return round(value, digits)


# ---- processes ----------------------------------------------------------------------------


@dataclass
class Proc:
    """A child process in its own session; its output goes to ``log_path``."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    url: str | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return text[-chars:]

    def check(self) -> None:
        if not self.alive():
            raise BenchError(f"{self.name} exited with {self.popen.returncode}:\n{self.log_tail()}")

    def tree(self) -> list[psutil.Process]:
        """This process and all its descendants (Chromium included, whatever its session)."""
        try:
            root = psutil.Process(self.pid)
            return [root, *root.children(recursive=True)]
        except psutil.Error:
            return []

    async def stop(self, grace: float = 5.0) -> None:
        """SIGTERM to the group, SIGKILL after ``grace`` s; then any descendant left, by pid."""
        descendants = [p for p in self.tree() if p.pid != self.pid]
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            if not self.alive():
                break
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                await asyncio.to_thread(self.popen.wait, wait)
        for proc in descendants:  # e.g. a Chromium in a process group of its own
            with contextlib.suppress(psutil.Error):
                if proc.is_running():
                    proc.kill()


def pss_mib(processes: Sequence[psutil.Process]) -> float:
    """Proportional set size of these processes in MiB (shared pages counted once). Blocking."""
    total = 0
    for proc in processes:
        with contextlib.suppress(psutil.Error):
            info = proc.memory_full_info()
            total += getattr(info, "pss", info.rss)
    return total / 2**20


def cpu_seconds(processes: Sequence[psutil.Process]) -> float:
    """User + system CPU time these processes have used so far."""
    total = 0.0
    for proc in processes:
        with contextlib.suppress(psutil.Error):
            times = proc.cpu_times()
            total += times.user + times.system
    return total


async def create_pending(client: httpx.AsyncClient, n: int, prefix: str) -> list[str]:
    """``n`` pending noop tasks through ``POST /api/tasks`` (lists of up to 1,000); their ids."""
    ids: list[str] = []
    for start in range(0, n, 1000):
        body = [
            {"name": f"{prefix} {i}", "store": "noop", "product": "noop", "start": "later"}
            for i in range(start, min(n, start + 1000))
        ]
        response = await client.post("/api/tasks", json=body)
        if response.status_code != 201:
            raise BenchError(f"POST /api/tasks answered {response.status_code}: {response.text}")
        ids += [t["id"] for t in response.json()]
    return ids


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_until(
    predicate: Callable[[], Awaitable[Any]],
    *,
    timeout: float,
    what: str,
    procs: Sequence[Proc] = (),
    interval: float = 0.05,
) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail early when a process died."""
    deadline = time.monotonic() + timeout
    while True:
        for proc in procs:
            proc.check()
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            tails = "".join(f"\n--- {p.name} log ---\n{p.log_tail()}" for p in procs)
            raise BenchError(f"timed out after {timeout:g} s waiting for {what}{tails}")
        await asyncio.sleep(interval)


# ---- the environment of one run -----------------------------------------------------------


@dataclass
class BenchEnv:
    server_url: str = DEFAULT_SERVER_URL
    redis_url: str = DEFAULT_REDIS_URL
    run_id: str = field(default_factory=lambda: secrets.token_hex(4))
    keep_logs: bool = False
    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="taskdeck-bench-")))
    secret_key: str = field(default_factory=lambda: Fernet.generate_key().decode())
    procs: list[Proc] = field(default_factory=list)
    db_created: bool = False
    api_token: str = ""  # a bench user's, made with the database
    email: str = "bench@taskdeck.test"  # the bench user, for a browser that signs in
    password: str = field(default_factory=lambda: secrets.token_urlsafe(16))

    @property
    def api_headers(self) -> dict[str, str]:
        """``Authorization: Bearer`` for the API (every route but /api/health needs it)."""
        return {"Authorization": f"Bearer {self.api_token}"}

    @property
    def db_name(self) -> str:
        return f"taskdeck_bench_{self.run_id}"

    @property
    def db_url(self) -> str:
        return make_url(self.server_url).set(database=self.db_name).render_as_string(hide_password=False)

    @property
    def asyncpg_dsn(self) -> str:
        return make_url(self.db_url).set(drivername="postgresql").render_as_string(hide_password=False)

    @property
    def stream_prefix(self) -> str:
        return f"taskdeck-bench-{self.run_id}"

    def queue(self, name: str) -> str:
        """A Redis stream key of this run (all removed by ``close``)."""
        return f"{self.stream_prefix}-{name}"

    # -- database

    async def _admin(self, sql: str) -> None:
        dsn = make_url(self.server_url).set(drivername="postgresql").render_as_string(hide_password=False)
        conn = await asyncpg.connect(dsn, timeout=10)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def create_database(self) -> None:
        await self._admin(f'CREATE DATABASE "{self.db_name}"')
        self.db_created = True
        db = Database(self.db_url)
        try:
            await migrations.upgrade(db)
            async with db.begin() as session:
                user = await users.create_user(session, email=self.email, password=self.password)
                self.api_token = (await users.create_token(session, owner_id=user.id, name="bench")).token
        finally:
            await db.dispose()

    @asynccontextmanager
    async def database(self, *, pool_size: int = 10) -> AsyncIterator[Database]:
        db = Database(self.db_url, pool_size=pool_size)
        try:
            yield db
        finally:
            await db.dispose()

    async def reset_tables(self) -> None:
        """Empty every application table but the bench user's (between benchmarks: no task of one
        reaches the next)."""
        conn = await asyncpg.connect(self.asyncpg_dsn)
        try:
            tables = await conn.fetch(
                "SELECT tablename FROM pg_tables "
                "WHERE schemaname = 'public' "
                "AND tablename NOT IN ('alembic_version', 'user', 'api_token')"
            )
            if tables:
                names = ", ".join(f'"{t["tablename"]}"' for t in tables)
                await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
        finally:
            await conn.close()

    # -- redis

    def redis(self) -> aioredis.Redis:
        return aioredis.from_url(self.redis_url)

    async def _delete_redis_keys(self) -> int:
        client = self.redis()
        try:
            keys = [k async for k in client.scan_iter(f"{self.stream_prefix}*")]
            keys += [k async for k in client.scan_iter(f"autoclaim:{self.stream_prefix}*")]
            if keys:
                await client.delete(*keys)
            return len(keys)
        finally:
            await client.aclose()

    # -- processes

    def child_env(self, **overrides: Any) -> dict[str, str]:
        """The caller's environment without the app's settings, plus ``overrides``."""
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in APP_VARIABLES and not (k.startswith("TASKDECK_") or k.startswith("BENCH_"))
        }
        from workers.browser import find_chromium

        chromium = find_chromium(os.environ.get("TASKDECK_BROWSER_PATH"))
        if chromium:
            env["TASKDECK_BROWSER_PATH"] = chromium
        env["PYTHONUNBUFFERED"] = "1"
        env["TASKDECK_SECRET_KEY"] = self.secret_key
        env["TASKDECK_ARTIFACTS_DIR"] = str(self.tmp / "artifacts")
        env["TASKDECK_DEMO_STORE"] = env["TASKDECK_NOOP_STORE"] = "true"  # off by default on Postgres
        env.update({k: str(v) for k, v in overrides.items() if v is not None})
        return env

    def spawn(self, name: str, args: list[str], env: dict[str, str]) -> Proc:
        log_path = self.tmp / f"{name}-{len(self.procs)}.log"
        with log_path.open("wb") as out:
            popen = subprocess.Popen(
                args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        proc = Proc(name, popen, log_path)
        self.procs.append(proc)
        return proc

    def taskiq_worker(
        self, name: str, module: str, *, workers: int, env: dict[str, str], extra: Sequence[str] = ()
    ) -> Proc:
        taskiq = str(Path(sys.executable).parent / "taskiq")
        args = [taskiq, "worker", module, "--workers", str(workers), "--log-level", "WARNING", *extra]
        return self.spawn(name, args, env)

    def taskdeck_worker(self, name: str, queue: str, *, workers: int, **env: Any) -> Proc:
        """``taskiq worker workers.broker:broker`` on the bench database, Redis and ``queue``."""
        return self.taskiq_worker(
            name,
            "workers.broker:broker",
            workers=workers,
            env=self.child_env(
                DATABASE_URL=self.db_url, REDIS_URL=self.redis_url, TASKDECK_QUEUE_NAME=queue, **env
            ),
        )

    async def start_webapp(self, queue: str, **env: Any) -> Proc:
        """``python -m webapp`` on the bench database and ``queue``; returns once /api/health answers."""
        port = free_port()
        proc = self.spawn(
            "webapp",
            [sys.executable, "-m", "webapp"],
            self.child_env(
                DATABASE_URL=self.db_url,
                REDIS_URL=self.redis_url,
                TASKDECK_QUEUE_NAME=queue,
                TASKDECK_HOST="127.0.0.1",
                TASKDECK_PORT=port,
                **env,
            ),
        )
        proc.url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(timeout=2) as client:

            async def healthy() -> bool:
                try:
                    return (await client.get(f"{proc.url}/api/health")).status_code == 200
                except httpx.TransportError:
                    return False

            await wait_until(healthy, timeout=60, what="the webapp's /api/health", procs=[proc], interval=0.2)
        return proc

    async def stop(self, *procs: Proc, grace: float = 5.0) -> None:
        await asyncio.gather(*(p.stop(grace) for p in procs))
        for p in procs:
            if p in self.procs:
                self.procs.remove(p)

    async def close(self) -> list[str]:
        """Stop what is left, drop the database, delete the Redis keys and the temp dir."""
        problems: list[str] = []
        await self.stop(*self.procs, grace=3.0)
        try:
            await self._delete_redis_keys()
        except Exception as exc:
            problems.append(f"could not delete Redis keys {self.stream_prefix}*: {exc}")
        if self.db_created:
            try:
                await self._admin(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
            except Exception as exc:
                problems.append(f"could not drop database {self.db_name}: {exc}")
        if not self.keep_logs:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return problems
