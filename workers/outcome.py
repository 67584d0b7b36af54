"""How a run ended, as the task's next state: ``classify`` is the one place where a bot's ending
(a purchase, an exception, a stop reason) becomes exactly one ``Outcome``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from models.clock import db_now
from models.states import TaskStatus
from models.tables import Task
from models.types import utcnow
from workers import bounds, retry
from workers.errors import BotError, NotAvailableYet, PermanentError, RetryableError

S = TaskStatus


@dataclass(frozen=True)
class Outcome:
    to: TaskStatus
    outcome: str  # what the attempt history says
    error: str | None = None
    values: dict[str, Any] | None = None


def classify(
    task: Task, exc: BaseException | None, *, stop_reason: str | None, settings: Any, bought: bool = False
) -> Outcome:
    """Map how the bot ended to exactly one next state. A purchase wins over any stop reason."""
    now = utcnow()
    monitor = task.mode == "monitor"
    checks = {"checks": task.checks + 1, "last_check_at": now} if monitor else {}
    if bought:
        return Outcome(
            S.COMPLETED,
            "completed",
            None,
            {"progress": 100, **checks, "last_check": "bought" if monitor else None},
        )
    if stop_reason == "cancel":
        return Outcome(S.CANCELLED, "cancelled", "cancelled by user")
    if stop_reason == "shutdown":
        return Outcome(
            S.QUEUED,
            "handed back",
            "worker shut down; handed back",
            {"attempt": task.attempt - 1, "queued_at": now, "kicked_at": now},
        )
    if exc is None:
        return Outcome(
            S.COMPLETED,
            "completed",
            None,
            {"progress": 100, **checks, "last_check": "bought" if monitor else None},
        )
    step = getattr(exc, "step", None) or task.step
    where = f' at step "{step}"' if step else ""
    if isinstance(exc, NotAvailableYet):
        observation = exc.observation[:500]
        if monitor:
            return Outcome(
                S.SCHEDULED,
                "not available",
                None,  # a normal wait, not an error: last_check says what the check saw
                {
                    "attempt": task.attempt - 1,
                    "last_check": observation,
                    **checks,
                    "run_at": db_now(task.check_every or 60),  # the database's clock, not ours
                },
            )
        return Outcome(S.FAILED, "failed", f"not available: {observation}")
    if isinstance(exc, PermanentError):
        text = bounds.first_line(exc)
        return Outcome(S.FAILED, "failed", f"{text}{where}" if step and step not in text else text, checks)
    if isinstance(exc, bounds.BotTimedOut):
        message = f"{exc}{where}"
    elif isinstance(exc, RetryableError | BotError):
        message = bounds.first_line(exc)
    else:  # a Playwright error names its own deadline ("Timeout 15000ms exceeded"); its call log goes
        message = f"{type(exc).__name__}: {bounds.first_line(exc)}{where}"
    if task.attempt >= task.max_attempts:
        return Outcome(
            S.FAILED, "failed", f"{message} (attempt {task.attempt} of {task.max_attempts})", checks
        )
    delay = (
        timedelta(seconds=exc.retry_after)
        if isinstance(exc, RetryableError) and exc.retry_after is not None
        else retry.backoff(
            max(1, task.run_attempt),
            base=task.backoff_base if task.backoff_base is not None else settings.backoff_base,
            cap=task.backoff_cap if task.backoff_cap is not None else settings.backoff_cap,
        )
    )
    return Outcome(S.RETRYING, "retrying", message, {"run_at": db_now(delay.total_seconds()), **checks})
