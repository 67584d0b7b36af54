"""After a monitor's check that found nothing: it was a check, not an attempt.

The attempt row its claim opened goes (``models.checks``), and of the task's files only this
check's last screenshot stays: the screenshots of earlier checks (same attempt number) and the
attempt's trace are deleted, so a monitor waiting for days holds one screenshot, not one per check.
The check's screenshots are not written as task events either (``workers/executor.py``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from models import checks
from models.tables import Task

if TYPE_CHECKING:
    from workers.context import RunContext

log = logging.getLogger(__name__)


async def trim_files(context: RunContext, task: Task, *, keep: list[str]) -> None:
    """Delete every screenshot and the trace of the check's attempt but ``keep`` (before the
    outcome is recorded: nobody sees a waiting monitor with more). Never raises."""
    if context.artifacts is None:
        return
    try:
        await asyncio.to_thread(context.artifacts.keep_only, str(task.id), task.attempt, keep)
    except (OSError, ValueError) as exc:
        log.warning("task %s: could not trim the check's files: %s", task.id, exc)


async def forget_attempt(context: RunContext, task: Task) -> None:
    """Remove the check's attempt row (after the outcome closed it). Never raises: a row left
    behind is hidden from the history all the same (``models.queries.task_attempts``)."""
    try:
        async with context.db.begin() as session:
            await checks.forget_check(session, task_id=task.id, number=task.attempt)
    except Exception as exc:
        log.warning("task %s: could not forget the check's attempt row: %s", task.id, exc)
