"""Composition root of a worker process: ``taskiq worker workers.broker:broker``.

Builds the settings, the broker and, in ``WORKER_STARTUP``, the worker runtime (database,
browser, heartbeats, sweeper; on Postgres it refuses to start without ``TASKDECK_SECRET_KEY``);
closes them in ``WORKER_SHUTDOWN``. SIGTERM/SIGINT first make the
runtime stop taking work, then reach taskiq's own handler, so running tasks get the grace
period and are handed back if they do not finish in it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from contextlib import suppress
from typing import Any

from redis.asyncio import Redis
from taskiq import TaskiqEvents, TaskiqState
from taskiq_redis import RedisStreamBroker

from models import keys, logs
from models.db import Database
from models.settings import load_settings
from workers.browser import BrowserUnavailable
from workers.parent import watch_parent
from workers.queue import kick, make_broker, trim_stream
from workers.runtime import WorkerRuntime

log = logging.getLogger("workers")

TASKIQ_SHUTDOWN_TIMEOUT = 5.0  # taskiq worker's default --shutdown-timeout

settings = load_settings("taskdeck worker")
broker = make_broker(settings)


def _not_per_doorbell(record: logging.LogRecord) -> bool:
    """Drop taskiq's INFO line for every received message ("Executing task ... with ID ..."):
    one per doorbell, while the task's own story is in its rows and events. Its other lines
    (start, stop, errors) stay."""
    return not (record.levelno == logging.INFO and str(record.msg).startswith("Executing task"))


def _chain_signals(runtime: WorkerRuntime) -> None:
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(signum)

        def handler(num: int, frame: Any, previous: Any = previous) -> None:
            runtime.begin_shutdown()
            if callable(previous):
                previous(num, frame)

        signal.signal(signum, handler)


@broker.on_event(TaskiqEvents.WORKER_STARTUP)
async def startup(state: TaskiqState) -> None:
    parent = os.getppid()  # before anything slow: the parent may die during start-up
    logs.configure(settings)
    logging.getLogger("workers").setLevel(logging.INFO)
    logging.getLogger("taskiq.receiver.receiver").addFilter(_not_per_doorbell)
    try:
        keys.secret_key(settings)  # on Postgres: refuse to start without the shared key
    except keys.MissingSecretKey as exc:
        log.critical("refusing to start: %s", exc)
        raise SystemExit(2) from None
    db = Database(settings.database_url)

    async def ring(task_id: Any) -> None:
        await kick(broker, task_id)

    async def trim() -> int:
        assert isinstance(broker, RedisStreamBroker)
        async with Redis(connection_pool=broker.connection_pool) as redis:
            return await trim_stream(
                redis,
                stream=settings.queue_name,
                group=f"{settings.queue_name}-workers",
                maxlen=settings.stream_maxlen,
            )

    runtime = WorkerRuntime(
        settings=settings,
        db=db,
        kick=ring,
        launch_browser=True,
        on_drain=_drain,
        trim=trim if isinstance(broker, RedisStreamBroker) else None,
    )
    try:
        state.runtime = await runtime.start()
    except BrowserUnavailable as exc:  # once, clearly, instead of every task failing on it
        log.critical("refusing to start: %s", " ".join(str(exc).split()))
        await db.dispose()
        raise SystemExit(3) from None
    _chain_signals(state.runtime)
    state.parent_watch = asyncio.create_task(  # a child whose taskiq parent died stops (workers/parent.py)
        watch_parent(parent, hard_exit_after=settings.shutdown_grace + TASKIQ_SHUTDOWN_TIMEOUT + 10),
        name="taskdeck-parent-watch",
    )


def _drain() -> None:
    """``python -m workers drain``: stop this ``taskiq worker`` command as SIGTERM would (its
    manager stops every process of it, each finishing or handing back its tasks), so it exits
    instead of being restarted."""
    os.kill(os.getppid(), signal.SIGTERM)


def taskiq_shutdown_timeout(argv: list[str]) -> float:
    """taskiq's ``--shutdown-timeout`` (its default 5 s when not given): how long taskiq lets
    ``WORKER_SHUTDOWN`` run before it cuts it off."""
    for i, arg in enumerate(argv):
        value = None
        if arg == "--shutdown-timeout" and i + 1 < len(argv):
            value = argv[i + 1]
        elif arg.startswith("--shutdown-timeout="):
            value = arg.partition("=")[2]
        if value is not None:
            with suppress(ValueError):
                return float(value)
    return TASKIQ_SHUTDOWN_TIMEOUT


@broker.on_event(TaskiqEvents.WORKER_SHUTDOWN)
async def shutdown(state: TaskiqState) -> None:
    runtime: WorkerRuntime | None = getattr(state, "runtime", None)
    if runtime is not None:
        # inside taskiq's cut, with a second for closing the database after the hand-back
        await runtime.stop(within=max(0.5, taskiq_shutdown_timeout(sys.argv) - 1.0))
        await runtime.db.dispose()
