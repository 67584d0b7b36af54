"""Writing a run's one outcome: through the group commit, else on its own, retried while the
database is away, so it is not lost.

A purchase is written first, in its own transaction (an upsert by task): an outcome refused
because the task was taken over meanwhile never takes the purchase back, and whoever holds the
task then completes it from that row (``workers/recovery.py``). An outcome that queues the task
again rings its doorbell.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from pydantic.alias_generators import to_camel

from models import outcomes
from models.db import Database
from models.errors import InvalidTransition
from models.states import TaskStatus
from models.tables import Task
from workers.bots.base import Purchase
from workers.group_commit import BatchFailed, GroupCommit
from workers.outcome import Outcome

log = logging.getLogger(__name__)
S = TaskStatus

Kick = Callable[[uuid.UUID], Awaitable[None]]
RECORD_RETRY_FOR = 60.0  # seconds an outcome write is retried while the database is away


@lru_cache(maxsize=64)
def _camel(name: str) -> str:
    return to_camel(name)  # a regex per call: cached, it is a dict lookup per task


def _fields(purchase: Purchase) -> dict[str, Any]:
    """The purchase's fields (``dataclasses.asdict`` without its deep copy of every value)."""
    return {f.name: getattr(purchase, f.name) for f in dataclasses.fields(purchase)}


@dataclass(frozen=True)
class Recorder:
    db: Database
    worker_id: str
    kick: Kick
    group: GroupCommit | None = None  # outcomes of concurrent runs, one transaction

    async def record(
        self, task: Task, outcome: Outcome, *, purchase: Purchase | None = None, screenshot: str | None = None
    ) -> None:
        """Write the outcome (and the purchase first); retried while the database is unreachable."""
        deadline = asyncio.get_running_loop().time() + RECORD_RETRY_FOR
        delay = 0.2
        values = dict(outcome.values or {})
        bought = _fields(purchase) if purchase is not None else None
        if bought is not None:
            values["result"] = {
                _camel(k): float(v) if isinstance(v, Decimal) else v for k, v in bought.items()
            }
        bought_row = {**bought, "screenshot": screenshot} if bought is not None else None
        if self.group is not None and task.mode != "monitor":  # a monitor may be a watch's listing: below
            try:
                written = await self.group.write(
                    task,
                    to=outcome.to,
                    outcome=outcome.outcome,
                    error=outcome.error,
                    values=values,
                    purchase=bought_row,
                )
            except BatchFailed as exc:
                log.warning("task %s: group commit failed (%s); writing on its own", task.id, exc)
            else:
                if written and outcome.to is S.QUEUED:
                    with suppress(Exception):
                        await self.kick(task.id)
                return
        while True:
            try:
                if bought_row is not None:
                    async with self.db.begin() as session:
                        await outcomes.record_purchase(session, task=task, purchase=bought_row)
                async with self.db.begin() as session:  # a listing's watch follows (record_outcome)
                    await outcomes.record_outcome(
                        session,
                        task=task,
                        worker_id=self.worker_id,
                        to=outcome.to,
                        outcome=outcome.outcome,
                        error=outcome.error,
                        values=values,
                    )
                break
            except Exception as exc:
                if isinstance(exc, InvalidTransition):  # rescued elsewhere meanwhile: not ours to write
                    log.warning("task %s: outcome not recorded, %s", task.id, exc)
                    return
                if asyncio.get_running_loop().time() > deadline:
                    log.exception(
                        "task %s: could not record outcome %s; the sweeper will rescue it",
                        task.id,
                        outcome.to,
                    )
                    return
                log.warning("task %s: recording outcome failed (%s); retrying", task.id, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        if outcome.to is S.QUEUED:
            with suppress(Exception):
                await self.kick(task.id)
