"""What the tasks list shows for a monitor: its checks, what the last one saw, when the next is.

A monitor's checks are not attempts (``models/checks.py``): the Attempts column says "12 checks",
and the Last error column, empty while the monitor waits normally, shows the last check's result
and the next check's time in grey.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from models.states import TaskStatus
from models.tables import Task
from webapp.pages import theme

WAITING = (TaskStatus.SCHEDULED.value, TaskStatus.QUEUED.value, TaskStatus.RETRYING.value)


def monitor_cells(task: Task, tz: tzinfo) -> dict[str, Any]:
    """Row fields for a monitor (``attempts`` and ``check``); nothing for other tasks."""
    if task.mode != "monitor":
        return {}
    checks = f"{task.checks} check" + ("" if task.checks == 1 else "s")
    parts = [theme.truncate(task.last_check, 40)] if task.last_check else []
    if task.status in WAITING and task.run_at is not None:
        parts.append(f"next {theme.fmt_time(task.run_at, tz)}")
    return {"attempts": checks, "check": " · ".join(parts)}
