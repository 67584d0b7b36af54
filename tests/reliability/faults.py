"""Faults the reliability suite injects into a running stack, and the ledger that remembers them.

Every fault is written down with its wall-clock time, so a failed assertion can name the faults
that hit a task while it was alive ("kill -9 worker 2 (pid 4711) at 12.3 s").
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import psutil
from sqlalchemy.engine import make_url

from tests.conftest import Proc


@dataclass(frozen=True)
class Fault:
    at: datetime
    offset: float  # seconds since the ledger started
    what: str

    def __str__(self) -> str:
        return f"{self.what} at {self.offset:.1f}s"


@dataclass
class Ledger:
    started: float = field(default_factory=time.monotonic)
    faults: list[Fault] = field(default_factory=list)

    def note(self, what: str) -> Fault:
        fault = Fault(datetime.now(UTC), time.monotonic() - self.started, what)
        self.faults.append(fault)
        return fault

    def during(self, start: datetime, end: datetime | None) -> list[Fault]:
        """The faults injected while something lived from ``start`` to ``end`` (None: still alive)."""
        return [f for f in self.faults if f.at >= start and (end is None or f.at <= end)]

    def describe(self, start: datetime, end: datetime | None) -> str:
        hit = self.during(start, end)
        return "; ".join(map(str, hit)) if hit else "no fault while it ran"

    def count(self, prefix: str) -> int:
        return sum(f.what.startswith(prefix) for f in self.faults)


def chromium_browsers(pid: int) -> list[psutil.Process]:
    """The Chromium browser processes (not renderers or helpers) under a process tree."""
    found = []
    with contextlib.suppress(psutil.Error):
        for proc in psutil.Process(pid).children(recursive=True):
            try:
                cmd = proc.cmdline()
            except psutil.Error:
                continue
            if cmd and "chromium" in cmd[0] and not any(a.startswith("--type=") for a in cmd):
                found.append(proc)
    return found


def worker_pid_alive(worker_id: str | None) -> bool:
    """A worker id is ``<host>-<pid>-<hex>``: is that process still there (and not a zombie)?"""
    if not worker_id:
        return False
    try:
        pid = int(worker_id.rsplit("-", 2)[1])
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except (ValueError, IndexError, psutil.Error):
        return False


async def terminate_backends(pg_url: str) -> int:
    """``pg_terminate_backend`` on every other connection to the test's own database.

    What a Postgres restart looks like to its clients, without restarting the server the other
    test sessions on this machine share. Returns how many connections were cut.
    """
    dsn = make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return sum(bool(r[0]) for r in rows)
    finally:
        await conn.close()


@dataclass
class WorkerPool:
    """``n`` worker processes; ``kill_one`` kill -9s a random one and starts a replacement."""

    spawn: Callable[[], Proc]
    ledger: Ledger
    rng: random.Random
    procs: list[Proc] = field(default_factory=list)

    def start(self, n: int) -> None:
        self.procs = [self.spawn() for _ in range(n)]

    def kill_one(self) -> None:
        slot = self.rng.randrange(len(self.procs))
        victim = self.procs[slot]
        self.ledger.note(f"kill -9 worker {slot + 1} (pid {victim.pid})")
        victim.stop(signal.SIGKILL, timeout=10)
        self.procs[slot] = self.spawn()

    def kill_chromium(self) -> bool:
        browsers = [b for p in self.procs for b in chromium_browsers(p.pid)]
        if not browsers:
            return False
        victim = self.rng.choice(browsers)
        self.ledger.note(f"kill -9 Chromium (pid {victim.pid})")
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim.pid, signal.SIGKILL)
        return True

    def alive(self) -> list[Proc]:
        return [p for p in self.procs if p.popen.poll() is None]


async def chaos_loop(
    *,
    pool: WorkerPool,
    every: float,
    max_faults: int,
    done: Callable[[], Any],
    extra: Sequence[Callable[[], Any]] = (),
) -> None:
    """Until ``done()`` or ``max_faults`` faults: every ``every`` s kill a worker or a Chromium.

    ``extra`` holds one-off faults (async callables), injected once each, spread over the run.
    """
    pending = list(extra)
    for n in range(max_faults):
        await asyncio.sleep(every)
        if await done():
            return
        if pending and n % 3 == 2:
            await pending.pop(0)()
        elif pool.rng.random() < 0.5 or not pool.kill_chromium():
            pool.kill_one()
