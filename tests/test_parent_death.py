"""kill -9 of a ``taskiq worker`` parent ends its children (and their Chromium): a child left behind
would go on claiming and running tasks unsupervised (issue 14)."""

from __future__ import annotations

import os
import signal
from typing import Any

import psutil
import pytest

from tests.conftest import REDIS_URL, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def test_kill_9_of_the_taskiq_parent_ends_its_children(
    pg_url: str, db: Any, redis_queue: str, start_worker: Any
) -> None:
    worker = start_worker(
        DATABASE_URL=pg_url, REDIS_URL=REDIS_URL, TASKDECK_QUEUE_NAME=redis_queue, TASKDECK_SHUTDOWN_GRACE=2
    )
    parent = psutil.Process(worker.pid)

    def family() -> list[int] | None:
        """The worker child and its Chromium, once the browser is up (the worker launches it at start)."""
        below = parent.children(recursive=True)
        chromium = [p.pid for p in below if "chrom" in " ".join(p.cmdline()[:1]).lower()]
        return [p.pid for p in below] if chromium else None

    pids = await wait_for(family, timeout=90, what="the worker child and its Chromium")
    os.kill(worker.pid, signal.SIGKILL)
    worker.popen.wait(10)

    def all_gone() -> bool:
        return not [pid for pid in pids if alive(pid)]

    await wait_for(all_gone, timeout=60, what="the children of the killed parent to end")
    assert "taskiq parent" in worker.log() and "is gone" in worker.log()
