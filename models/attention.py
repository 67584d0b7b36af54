"""The hand-off's writes: a bot asks for a person, a person hands back or finishes by hand.

- ``ask`` (the run, lease-guarded): running → ``action_needed`` with the reason in ``error``
  (as ``unknown`` keeps its reason); the state event is what the live hub, the dashboard's
  notifications and webhooks hear. The run keeps its lease and its heartbeat while it waits.
- ``hand_back`` (a person, "resume"): ``action_needed`` → running; the waiting run continues.
- ``finish_by_hand`` (a person): ``action_needed`` → completed with the order number they placed;
  the purchase row is the same unique-by-task row a bot writes, so it is recorded at most once.
  The waiting run then finds its task gone from under its lease and stops without writing.
- ``waiting_state`` (the run): the task's status and cancel flag, read while it waits.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models.doubt import complete_by_hand
from models.moves import move
from models.states import ACTIONS, TaskStatus
from models.tables import Task, TaskAttempt
from models.types import utcnow

S = TaskStatus
REASON_MAX = 500


async def ask(session: AsyncSession, *, task: Task, reason: str) -> None:
    """The run asks for a person (raises ``InvalidTransition`` when the task is no longer its own)."""
    text = " ".join(reason.split())[:REASON_MAX] or "the bot needs a person"
    await move(
        session,
        task_id=task.id,
        to=S.ACTION_NEEDED,
        sources={S.RUNNING},
        owner=task.lease,
        values={"error": text},
        message=f"action needed: {text}",
        action="ask for a person",
    )


async def waiting_state(session: AsyncSession, *, task: Task) -> tuple[str | None, bool]:
    """(status, cancel requested) while this run still holds the task; (None, False) when not."""
    row = (
        await session.execute(
            select(col(Task.status), col(Task.cancel_requested)).where(
                col(Task.id) == task.id, col(Task.lease) == task.lease
            )
        )
    ).first()
    return (row[0], bool(row[1])) if row is not None else (None, False)


async def hand_back(session: AsyncSession, *, task_id: uuid.UUID) -> Task:
    """A person hands control back: the waiting bot continues where it stopped."""
    return await move(
        session,
        task_id=task_id,
        to=S.RUNNING,
        sources={S.ACTION_NEEDED},
        values={"error": None},
        action="resume",
        message="handed back to the bot",
        entity=True,
    )


async def finish_by_hand(session: AsyncSession, *, task_id: uuid.UUID, order_number: str) -> Task:
    """A person placed the order themselves: completed, its purchase recorded (prices unknown to
    Taskdeck are 0), the open attempt closed."""
    task = await complete_by_hand(
        session,
        task_id=task_id,
        order_number=order_number,
        sources=ACTIONS["finish"],
        action="finish",
        message="finished by a person",
        mark={"finishedByHand": True},
        values={"worker_id": None, "lease": None},  # the waiting run's writes are refused from here on
    )
    await session.execute(
        update(TaskAttempt)
        .where(col(TaskAttempt.task_id) == task_id, col(TaskAttempt.finished_at).is_(None))
        .values(finished_at=task.finished_at or utcnow(), outcome="completed", error="finished by a person")
    )
    return task
