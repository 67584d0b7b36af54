"""SIGTERM to a real ``taskiq worker`` hands back the task its sweeper claimed, in time (issue 12,
hole 6): taskiq cuts its own stop after ``--shutdown-timeout`` (5 s unless given), so the hand-back
must happen inside that, whatever ``TASKDECK_SHUTDOWN_GRACE`` says."""

from __future__ import annotations

import signal
import uuid
from typing import Any

import pytest

from models.tasks import start_task
from tests.conftest import wait_for
from tests.test_e2e import stack

pytestmark = pytest.mark.slow
__all__ = ["stack"]  # the fixture, shared with test_e2e.py


async def test_sigterm_hands_back_a_sweeper_claimed_task_without_costing_an_attempt(stack: Any) -> None:
    # a grace longer than taskiq's default 5 s cut; no re-sent doorbell, so only the sweeper claims
    worker = stack.worker(TASKDECK_SHUTDOWN_GRACE=8, TASKDECK_REKICK_AFTER=3600)
    await wait_for(lambda: "Listening started" in worker.log(), timeout=60, what="worker up")
    await stack.product("sneaker-drop", delayMs=12_000)  # the run outlives the grace and the cut
    task = await stack.create(start="later")
    async with stack.db.begin() as session:  # queued in Postgres only: the worker's sweeper claims it
        await start_task(session, task_id=uuid.UUID(task["id"]))
    await stack.wait(task["id"], "running")
    code = worker.stop(signal.SIGTERM, timeout=30, group=False)  # as docker stop / tini deliver it
    assert code is not None, worker.log()[-3000:]
    after = await stack.task(task["id"])
    assert after["status"] == "queued", (after["status"], worker.log()[-3000:])
    assert after["attempts"] == 0 and after["attemptHistory"][-1]["outcome"] == "handed back"
