"""Group commit: the outcomes of a worker's concurrent runs written in one transaction.

A run that ends hands its outcome (and its purchase, if it bought) to ``GroupCommit.write`` and
waits. While no write is under way the first one starts at once (on the next turn of the event
loop, so runs ending together ride along); while one is under way the others gather and go
together right after it, at most ``MAX_ITEMS`` per transaction. One ``BEGIN … COMMIT`` then carries
every purchase row first, then every guarded outcome move (with its attempt row closed, its
event and its NOTIFY), instead of two transactions per task.

Nothing is weakened: each outcome is still guarded by its run's lease (a refused one — the task
was taken over meanwhile — answers ``False`` and leaves the others alone, and never takes a
purchase back, since the transaction commits anyway). A batch that fails as a whole (the
database went away, a deadlock with a sweep) raises ``BatchFailed`` to every writer in it, and
each then writes on its own (``WorkerRuntime.record``'s retry loop, purchase first).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from models import outcome_batch
from models.db import Database
from models.tables import Task

log = logging.getLogger(__name__)
MAX_ITEMS = 32  # outcomes per transaction, at most


class BatchFailed(Exception):
    """The group's transaction failed; write this outcome on its own."""


@dataclass
class Write:
    task: Task
    to: Any  # TaskStatus
    outcome: str
    error: str | None
    values: dict[str, Any]
    purchase: dict[str, Any] | None
    done: asyncio.Future[bool] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class GroupCommit:
    def __init__(self, db: Database, worker_id: str) -> None:
        self.db = db
        self.worker_id = worker_id
        self._pending: list[Write] = []
        self._flushing: asyncio.Task[None] | None = None

    async def write(
        self,
        task: Task,
        *,
        to: Any,
        outcome: str,
        error: str | None,
        values: dict[str, Any],
        purchase: dict[str, Any] | None,
    ) -> bool:
        """Write the purchase (if any) and the outcome with the others pending → True, or False
        when the outcome was refused (the run no longer holds the task). ``BatchFailed`` when the
        whole transaction failed."""
        item = Write(task, to, outcome, error, values, purchase)
        self._pending.append(item)
        if self._flushing is None:
            self._flushing = asyncio.create_task(self._flush_all(), name="taskdeck-group-commit")
        return await asyncio.shield(item.done)

    async def _flush_all(self) -> None:
        try:
            await asyncio.sleep(0)  # runs ending in this turn of the loop join the first batch
            while self._pending:
                batch, self._pending = self._pending[:MAX_ITEMS], self._pending[MAX_ITEMS:]
                await self._flush(batch)
        finally:
            self._flushing = None

    async def _flush(self, batch: list[Write]) -> None:
        items = [
            outcome_batch.Outcome(
                task=w.task, to=w.to, outcome=w.outcome, error=w.error, values=w.values, purchase=w.purchase
            )
            for w in batch
        ]
        single = not self.db.is_sqlite and outcome_batch.one_statement(items, worker_id=self.worker_id)
        try:
            # one statement is atomic by itself: no BEGIN/COMMIT round trips around it
            async with self.db.statements() if single else self.db.begin() as session:
                written = await outcome_batch.record_outcomes(session, worker_id=self.worker_id, items=items)
        except Exception as exc:
            for item in batch:
                if not item.done.done():
                    item.done.set_exception(BatchFailed(str(exc)))
            return
        for item in batch:
            if item.task.lease not in written:
                log.warning("task %s: outcome not recorded, the run no longer holds the task", item.task.id)
            if not item.done.done():
                item.done.set_result(item.task.lease in written)
