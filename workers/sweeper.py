"""The sweeper: idempotent sweeps every second, in every worker (and in-process when embedded).

Each sweep is its own short transaction, safe to run in many processes at once:

1. monitor tasks whose window closed → failed
2. due scheduled/retrying tasks → queued (and a doorbell)
3. running tasks with a stale heartbeat past a checkpoint → taken over by this worker and
   returned: the runtime asks the store first (``workers/recovery.py``); the others → completed
   if their purchase is recorded, else queued again, or failed without attempts left
4. queued tasks nobody claimed for ``rekick_after`` s → a fresh doorbell (a lost message)
5. worker rows not seen for a while → gone
6. (the runtime, ringing the doorbells ``sweep`` returns) this worker's free slots look for
   claimable work themselves, so no queued task depends on a message reaching a worker with
   room for it.
7. (the runtime) every ``PRUNE_EVERY`` s, retention (``retain``): old finished tasks, artifacts, the stream.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from models import doubt, retention, sweeps, watch_claims, watch_outcomes, worker_rows
from models.db import Database
from models.settings import Settings
from models.tables import Task

if TYPE_CHECKING:
    from workers.artifacts import ArtifactStore

log = logging.getLogger(__name__)
REKICK_BATCH = 50
PRUNE_EVERY = 300.0  # seconds between retention passes
RETAIN_BATCHES = 20  # batches of finished tasks pruned per pass, at most


@dataclass(frozen=True)
class Swept:
    """What one sweep leaves for the runtime to act on."""

    kick: list[uuid.UUID] = field(default_factory=list)  # queued tasks whose doorbell should ring
    adopted: list[Task] = field(default_factory=list)  # taken over after a checkpoint: ask the store


async def sweep(db: Database, settings: Settings, *, worker_id: str, adopt: bool = True) -> Swept:
    """One pass of steps 1–5 → what the runtime acts on: it rings the doorbells, settles the
    adopted tasks, fills its free slots and runs retention when due (this module keeps no state
    and starts nothing). ``adopt=False`` (a stopping worker) takes over no task."""
    async with db.begin() as session:
        await sweeps.expire_monitors(session)
    async with db.begin() as session:
        await watch_claims.expire(session)
        await watch_outcomes.settle_stray(session)  # a watch left buying by a path that did not settle
    async with db.begin() as session:
        due = await sweeps.stage_due(session)
    adopted: list[Task] = []
    if adopt:
        async with db.begin() as session:
            adopted = await doubt.adopt_stale(
                session, worker_id=worker_id, timeout=settings.heartbeat_timeout
            )
        for task in adopted:
            log.warning("task %s: worker lost after the checkpoint; asking the store", task.id)
    async with db.begin() as session:
        rescued = await sweeps.rescue_stale(session, timeout=settings.heartbeat_timeout)
    for task_id, status in rescued:
        log.warning("task %s: worker lost, now %s", task_id, status)
    async with db.begin() as session:
        stale = await sweeps.stale_queued(session, after=settings.rekick_after, limit=REKICK_BATCH)
    async with db.begin() as session:
        await worker_rows.mark_gone_workers(
            session, timeout=max(settings.heartbeat_timeout, 3 * settings.heartbeat_interval) * 3
        )
    return Swept(kick=[*due, *(t for t, s in rescued if s == "queued"), *stale], adopted=adopted)


async def retain(
    db: Database,
    settings: Settings,
    *,
    artifacts: ArtifactStore | None = None,
    trim: Callable[[], Awaitable[int]] | None = None,
) -> int:
    """Retention: finished tasks older than ``TASKDECK_RETENTION_DAYS`` with their events and
    artifacts, a batch per transaction (at most ``RETAIN_BATCHES`` a pass); the artifact store's
    own limits; the Redis stream's delivered and acknowledged entries. Returns tasks pruned."""
    pruned = 0
    for _ in range(RETAIN_BATCHES):
        async with db.begin() as session:
            gone = await retention.prune_finished(session, older_than_days=settings.retention_days)
        if artifacts is not None:
            for task_id in gone:
                await asyncio.to_thread(artifacts.delete, str(task_id))
        pruned += len(gone)
        if len(gone) < retention.BATCH:
            break
    if pruned:
        log.info(
            "retention: pruned %s finished task(s) older than %g days",
            pruned,
            settings.retention_days,
        )
    if artifacts is not None:
        await asyncio.to_thread(artifacts.prune)
    if trim is not None:
        try:
            await trim()
        except Exception as exc:
            log.warning("trimming the Redis stream failed: %s", exc)
    return pruned
