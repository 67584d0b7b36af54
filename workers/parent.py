"""A worker child ends when its ``taskiq worker`` parent is gone.

taskiq's main process supervises the worker children; killed with SIGKILL it cannot stop them, and
a child left behind would keep claiming and running tasks with its Chromium, unsupervised and
unseen by whoever restarts the worker. ``watch_parent`` notices the parent is gone (the child was
re-parented) within ``interval`` seconds and stops the child as SIGTERM would: it takes no more
work, its running tasks get the grace period and are handed back, its Chromium is closed. If the
orderly stop has not ended the process after ``hard_exit_after`` seconds more, it exits at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal

log = logging.getLogger(__name__)


async def watch_parent(parent: int, *, interval: float = 1.0, hard_exit_after: float = 60.0) -> None:
    """Run for the process's life (a task of the worker's loop); returns only when the parent died.
    ``parent``: ``os.getppid()`` taken as early as possible (a parent may die during start-up)."""
    log.info("stops when its taskiq parent (pid %s) is gone", parent)
    while os.getppid() == parent:  # noqa: ASYNC110 - no event tells a parent died; polling is it
        await asyncio.sleep(interval)
    log.warning("the taskiq parent (pid %s) is gone; this worker stops", parent)
    os.kill(os.getpid(), signal.SIGTERM)  # the worker's own SIGTERM path: hand back, close Chromium
    await asyncio.sleep(hard_exit_after)
    log.error("still running %g s after its parent died; exiting now", hard_exit_after)
    os._exit(1)
