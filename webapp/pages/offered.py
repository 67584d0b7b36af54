"""Which actions the pages offer for a task, one clear one per state, with what each does.

The state machine (``models.states.ACTIONS``) allows more than a person needs to see: ``start``
from failed or cancelled is the same as ``retry``, and from paused it competes with ``resume``.
The pages offer:

    pending, scheduled, retrying   Start (now), Pause, Cancel
    paused, never started          Start (it was "start later")
    paused, started before         Resume (back to where it was)
    failed, cancelled              Retry (the attempt numbering continues)
    action_needed                  Resume (hand back to the bot); take over and finish on its page

Delete is offered wherever the state machine allows it. The API keeps every legal action.
"""

from __future__ import annotations

from models.states import ACTIONS, TaskStatus
from models.tables import Task
from webapp.pages.theme import DECISIONS

S = TaskStatus
TIPS: dict[str, str] = {
    "start": "Queue it now",
    "pause": "Hold it: nothing runs until you resume it",
    "resume": "Continue where it was (queued, scheduled or waiting to start)",
    "cancel": "Stop it; a running attempt is asked to stop and ends cancelled",
    "retry": "Run it again: the next attempt is numbered after the last one, history kept",
    "delete": "Delete the task, its history and its screenshots",
}
STATE_TIPS: dict[tuple[str, str], str] = {
    ("start", S.SCHEDULED): "Run it now instead of at its start time",
    ("start", S.RETRYING): "Run the next attempt now, without waiting for the retry delay",
    ("start", S.PAUSED): "Queue it now (it was never started)",
    ("resume", S.ACTION_NEEDED): "Hand it back to the bot",
    ("delete", S.FAILED): "Delete it (a failed task cannot be cancelled: it has already stopped)",
}


def started(task: Task) -> bool:
    """It was queued or scheduled once (``models.tasks.resume_task`` reads the same columns)."""
    return task.queued_at is not None or task.run_at is not None


def offered(status: str, *, was_started: bool = True) -> list[str]:
    """The actions the pages offer for a task in ``status``, in ``ACTIONS`` order."""
    actions = [a for a, sources in ACTIONS.items() if status in sources and a not in DECISIONS]
    if status in (S.FAILED, S.CANCELLED):
        actions.remove("start")
    if status == S.PAUSED:
        actions.remove("resume" if not was_started else "start")
    return actions


def tip(action: str, status: str) -> str:
    return STATE_TIPS.get((action, status), TIPS.get(action, action))


def tips(status: str, *, was_started: bool = True) -> dict[str, str]:
    return {a: tip(a, status) for a in offered(status, was_started=was_started)}
