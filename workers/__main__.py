"""Operator commands for workers (the worker itself is ``taskiq worker workers.broker:broker``).

python -m workers run [--workers N]   check (with the browser), then exec ``taskiq worker
                                      workers.broker:broker`` with --shutdown-timeout derived
                                      from TASKDECK_SHUTDOWN_GRACE (+20 s) and --max-fails 1.
python -m workers check [--browser]   exit 0 when the database and Redis answer and the schema
                                      is one this code runs on (with --browser: and Chromium
                                      starts the way the worker starts it); else one line on
                                      stderr and exit 1. The container health check.
python -m workers drain WORKER_ID     ask a worker to drain: it takes no more work, lets its
python -m workers drain --all         tasks finish (TASKDECK_SHUTDOWN_GRACE), hands back the
                                      rest and exits. Worker ids: the queue page, /api/workers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from models import readiness, worker_rows
from models.db import Database
from models.settings import Settings, load_settings


async def check(settings: Settings, *, browser: bool) -> list[str]:
    db = Database(settings.database_url, pool_size=1)
    try:
        problems = [f"{c.name}: {c.detail}" for c in await readiness.check_all(settings, db) if not c.ok]
    finally:
        await db.dispose()
    if browser and not problems:
        from workers.browser import BrowserPool, BrowserUnavailable, find_chromium

        try:
            async with BrowserPool(
                executable_path=find_chromium(settings.browser_path, headless=settings.headless),
                headless=settings.headless,
                sandbox=settings.browser_sandbox,
            ) as pool:
                await pool.launch_check()
        except BrowserUnavailable as exc:
            problems.append(f"browser: {' '.join(str(exc).split())}")
    return problems


async def drain(settings: Settings, worker_id: str | None) -> list[str]:
    db = Database(settings.database_url, pool_size=1)
    try:
        async with db.begin() as session:
            return await worker_rows.request_drain(session, worker_id=worker_id)
    finally:
        await db.dispose()


SHUTDOWN_MARGIN = 20.0  # seconds taskiq's cut leaves above the grace, for handing tasks back


def taskiq_command(settings: Settings, workers: int) -> list[str]:
    """The worker command, its shutdown timeout above ``TASKDECK_SHUTDOWN_GRACE``."""
    taskiq = str(Path(sys.executable).parent / "taskiq")
    timeout = settings.shutdown_grace + SHUTDOWN_MARGIN
    return [taskiq, "worker", "workers.broker:broker", "--workers", str(workers), "--max-fails", "1",
            "--shutdown-timeout", f"{timeout:g}"]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workers", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    running = commands.add_parser("run", help="check, then run the worker (taskiq) in this process")
    running.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    checking = commands.add_parser("check", help="is this worker's world ready? (exit 0/1)")
    checking.add_argument("--browser", action="store_true", help="also launch Chromium once")
    draining = commands.add_parser("drain", help="ask a worker (or all) to finish and exit")
    which = draining.add_mutually_exclusive_group(required=True)
    which.add_argument("worker_id", nargs="?", help="a worker id (queue page, /api/workers)")
    which.add_argument("--all", action="store_true", help="every live worker")
    args = parser.parse_args(argv)
    settings = load_settings("taskdeck worker")
    if args.command in ("check", "run"):
        problems = asyncio.run(check(settings, browser=args.command == "run" or args.browser))
        if problems:
            print(f"taskdeck worker: not ready: {'; '.join(problems)}", file=sys.stderr)
            return 1
        if args.command == "run":
            command = taskiq_command(settings, args.workers)
            os.execv(command[0], command)
        print("taskdeck worker: ready")
        return 0
    asked = asyncio.run(drain(settings, None if args.all else args.worker_id))
    if not asked:
        print("taskdeck worker: no live worker by that id", file=sys.stderr)
        return 1
    for worker_id in asked:
        print(f"draining {worker_id}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
