"""The task state machine: the one place that says which moves are legal.

Every transition in the code is a guarded UPDATE whose allowed source states come from
``sources_for`` (or an action's own narrower set); a move not in ``MOVES`` never happens.
"""

from __future__ import annotations

from enum import StrEnum


class TaskStatus(StrEnum):
    PENDING = "pending"  # created, not started
    SCHEDULED = "scheduled"  # waits for run_at (start time or next monitor check)
    QUEUED = "queued"  # waiting for a worker; a doorbell is in the queue
    RUNNING = "running"  # claimed by a worker whose heartbeat is fresh
    ACTION_NEEDED = "action_needed"  # the bot asked for a person and waits (its run holds the lease)
    RETRYING = "retrying"  # an attempt failed, attempts left; waits for run_at
    PAUSED = "paused"  # held by the user until resumed (to where it was: pending, scheduled, queued)
    COMPLETED = "completed"  # the bot finished: result and purchase recorded
    FAILED = "failed"  # permanent error, attempts exhausted, or monitor window over
    CANCELLED = "cancelled"  # stopped by the user
    UNKNOWN = "unknown"  # an order may have been placed and the store could not say: a person decides


S = TaskStatus

MOVES: dict[TaskStatus, frozenset[TaskStatus]] = {
    S.PENDING: frozenset({S.QUEUED, S.SCHEDULED, S.PAUSED, S.CANCELLED}),
    S.SCHEDULED: frozenset({S.QUEUED, S.PAUSED, S.CANCELLED, S.FAILED}),
    # queued → failed: a monitor whose window closed before a worker claimed it
    S.QUEUED: frozenset({S.RUNNING, S.PAUSED, S.CANCELLED, S.FAILED}),
    # running → queued: rescued after a dead worker, or handed back on shutdown;
    # running → scheduled: monitor mode, not available yet
    # running → unknown: past the place-order checkpoint, and the store could not be asked
    # running → action_needed: the bot asked for a person (``ctx.needs_attention``)
    S.RUNNING: frozenset(
        {S.COMPLETED, S.RETRYING, S.FAILED, S.CANCELLED, S.SCHEDULED, S.QUEUED, S.UNKNOWN, S.ACTION_NEEDED}
    ),
    # the run still holds the task while it waits: handed back (→ running), or it ends as a run
    # does; → completed also when a person finished the purchase by hand
    S.ACTION_NEEDED: frozenset(
        {S.RUNNING, S.COMPLETED, S.RETRYING, S.FAILED, S.CANCELLED, S.SCHEDULED, S.QUEUED, S.UNKNOWN}
    ),
    S.RETRYING: frozenset({S.QUEUED, S.PAUSED, S.CANCELLED, S.FAILED}),
    # paused → pending: a "start later" task resumed; paused → failed: a monitor resumed too late
    S.PAUSED: frozenset({S.PENDING, S.QUEUED, S.SCHEDULED, S.CANCELLED, S.FAILED}),
    S.COMPLETED: frozenset(),
    S.FAILED: frozenset({S.QUEUED}),
    S.CANCELLED: frozenset({S.QUEUED}),
    # a person checked the store: bought (with its order number) or not bought (then retry)
    S.UNKNOWN: frozenset({S.COMPLETED, S.FAILED}),
}

HELD = frozenset({S.RUNNING, S.ACTION_NEEDED})  # a run holds the task (its lease guards its writes)
WAITING = frozenset({S.PENDING, S.SCHEDULED, S.RETRYING, S.PAUSED})
TERMINAL = frozenset({S.COMPLETED, S.FAILED, S.CANCELLED})
FRESH_RUN_FROM = frozenset({S.FAILED, S.CANCELLED})  # started again from these: a new run of the budget


def can_move(src: TaskStatus, dst: TaskStatus) -> bool:
    return dst in MOVES[src]


def sources_for(dst: TaskStatus) -> frozenset[TaskStatus]:
    """Every state from which ``dst`` may be entered."""
    return frozenset(src for src, targets in MOVES.items() if dst in targets)


# What a user may do to a task, and from where (each a subset of the legal moves).
ACTIONS: dict[str, frozenset[TaskStatus]] = {
    "start": frozenset({S.PENDING, S.SCHEDULED, S.RETRYING, S.PAUSED, S.FAILED, S.CANCELLED}),
    "pause": frozenset({S.PENDING, S.SCHEDULED, S.QUEUED, S.RETRYING}),
    "resume": frozenset({S.PAUSED, S.ACTION_NEEDED}),  # from action_needed: hand back to the bot
    "take-over": frozenset({S.ACTION_NEEDED}),
    "finish": frozenset({S.ACTION_NEEDED}),  # a person placed the order by hand
    "cancel": frozenset({S.PENDING, S.SCHEDULED, S.QUEUED, S.RETRYING, S.PAUSED, S.RUNNING, S.ACTION_NEEDED}),
    "retry": frozenset({S.FAILED, S.CANCELLED}),
    "mark-bought": frozenset({S.UNKNOWN}),
    "mark-not-bought": frozenset({S.UNKNOWN}),
    "delete": frozenset(set(S) - {S.RUNNING, S.ACTION_NEEDED}),
}

# Where a person may edit a task's fields (``PATCH /api/tasks/{id}``): not while a worker has it,
# not once it bought or may have bought. A new start time also needs a task that is not queued or
# retrying (it becomes, or stays, ``scheduled``; a paused one keeps it for its resume).
EDITABLE = frozenset(set(S) - {S.RUNNING, S.COMPLETED, S.UNKNOWN})
RESCHEDULABLE = frozenset({S.PENDING, S.SCHEDULED, S.PAUSED})
