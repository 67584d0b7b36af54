"""Past the place-order checkpoint, an ending is never a plain failure: ask the store first.

An attempt that recorded a checkpoint (now or earlier) and then ended without a confirmation
(an error, a timeout, a worker killed or a browser crashed) asks the store by the task's
reference, through the bot's ``lookup_order``, ``order_check_tries`` times ``order_check_interval``
s apart (stopping early only when the order is found: a click still in flight may land late):

    the store has the order     → completed, the purchase recorded, an event "order recovered"
    the store says it has none  → the attempt ended as it would have (retry while attempts last)
    the store does not answer   → unknown: "order may have been placed — check the store";
                                  a person marks it bought or not bought; never retried by itself

``settle_adopted`` is the same question for a task the sweeper took over from a dead worker
(``models.doubt.adopt_stale``; the runtime runs it in the background, holding the run so its
heartbeat keeps the lease): a purchase row already written wins; otherwise the store decides.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from models import claims, doubt
from models.states import TaskStatus
from models.tables import Task
from models.types import utcnow
from workers.bots import registry
from workers.bots.base import BotContext, Purchase
from workers.context import RunContext, bot_task
from workers.outcome import Outcome

log = logging.getLogger(__name__)
S = TaskStatus
Say = Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class Answer:
    purchase: Purchase | None = None  # the store holds this order
    answered: bool = False  # the store answered at least once (with or without an order)
    problem: str = ""  # why it could not be asked, when it never answered


async def ask_store(context: RunContext, task: Task, *, say: Say) -> Answer:
    """Ask the store for the order with this task's reference, a few spaced tries."""
    spec = registry.get(task.store)
    if spec.lookup_order is None:
        return Answer(problem=f"the {task.store!r} bot cannot look up orders")
    settings = context.settings
    ctx = BotContext(
        task=bot_task(task),
        page=None,
        store_url=context.store_url(task.store),
        settings=context.store_settings(task.store),
        timeout_ms=settings.step_timeout * 1000,
    )
    answered, problem = False, ""
    for attempt in range(1, settings.order_check_tries + 1):
        if attempt > 1:
            await asyncio.sleep(settings.order_check_interval)
        try:
            found = await asyncio.wait_for(spec.lookup_order(ctx), timeout=settings.step_timeout + 1)
        except Exception as exc:
            problem = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
            await say(f"asking the store for the order failed (try {attempt}): {problem}")
            continue
        if found is not None:
            return Answer(purchase=found, answered=True)
        answered = True
        await say(f"the store has no order with reference {task.id} (try {attempt})")
    return Answer(answered=answered, problem=problem)


def recovered(purchase: Purchase) -> tuple[Outcome, str]:
    """The store has the order: completed, and the event that says so."""
    return (
        Outcome(S.COMPLETED, "recovered", None, {"progress": 100}),
        f"order recovered from the store: {purchase.order_number} (no confirmation came)",
    )


def in_doubt(task: Task, problem: str) -> Outcome:
    """The store could not say: a person decides."""
    return Outcome(
        S.UNKNOWN,
        "unknown",
        f"order may have been placed — check the store (reference {task.id}); "
        f"the store could not be asked: {problem or 'no answer'}",
        {"finished_at": utcnow()},
    )


async def settle(context: RunContext, task: Task, *, say: Say) -> tuple[Outcome | None, Purchase | None]:
    """After a checkpointed attempt ended without a purchase: (outcome, purchase) when the store
    decides it (recovered or unknown), (None, None) when it has no order (classify as usual)."""
    answer = await ask_store(context, task, say=say)
    if answer.purchase is not None:
        outcome, message = recovered(answer.purchase)
        await say(message)
        return outcome, answer.purchase
    if answer.answered:
        return None, None
    return in_doubt(task, answer.problem), None


async def settle_adopted(context: RunContext, task: Task) -> None:
    """A task taken over from a dead worker after its checkpoint: record what the store says."""

    async def say(message: str) -> None:
        log.info("task %s: %s", task.id, message)
        async with context.db.begin() as session:
            await claims.log(session, task_id=task.id, message=message)

    try:
        async with context.db.session() as session:
            row = await doubt.purchase_of(session, task.id)
        if row is not None:
            await say(f"the purchase {row.order_number} was recorded before the worker was lost")
            bought = Purchase(
                order_number=row.order_number,
                quantity=row.quantity,
                unit_price=row.unit_price,
                total=row.total,
                currency=row.currency,
                product_name=row.product_name,
            )
            await context.record(
                task, Outcome(S.COMPLETED, "recovered", None, {"progress": 100}), purchase=bought
            )
            return
        outcome, purchase = await settle(context, task, say=say)
        if outcome is None:
            exhausted = task.attempt >= task.max_attempts
            error = "worker lost after the checkpoint; the store has no order"
            now = utcnow()
            outcome = (
                Outcome(S.FAILED, "lost", f"{error} and no attempts are left")
                if exhausted
                else Outcome(S.QUEUED, "lost", f"{error}; queued again", {"queued_at": now, "kicked_at": now})
            )
        await context.record(task, outcome, purchase=purchase)
    except Exception:
        log.exception("task %s: settling after a lost worker failed; the sweeper tries again", task.id)
