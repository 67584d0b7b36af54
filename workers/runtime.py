"""What one worker process holds: database, browser, slots, heartbeats, the sweeper.

Built in ``WORKER_STARTUP`` (``workers/broker.py``) or by the webapp in embedded mode, closed
in ``WORKER_SHUTDOWN``. The queue message is a doorbell: ``ring()`` claims tasks in Postgres order
for every free slot (several per statement, ``models.claims.claim_many``) and runs each in the
background; a slot that frees claims again, until none is claimable. The outcomes of runs that
end together are written as one group commit (``workers/group_commit.py``). A busy worker ignores
the bell, and every worker with a free slot also looks for claimable work on each sweep (the
sweeper says which doorbells to ring; this runtime rings them), so a task never waits for
a message that was lost, stranded in a dead consumer, or consumed by a busy worker.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from redis.asyncio import Redis

from models import claims, logs, redis_url, worker_rows
from models.db import Database
from models.settings import Settings
from models.tables import Task, Worker
from models.types import utcnow
from models.vault import Vault, load_key
from workers import recovery, sweeper
from workers.artifacts import ArtifactStore
from workers.bots import registry
from workers.browser import BrowserPool, find_chromium
from workers.context import RunContext
from workers.executor import execute
from workers.group_commit import GroupCommit
from workers.outcome import Outcome
from workers.recording import Kick, Recorder
from workers.running import Running
from workers.webhooks import WebhookSender

log = logging.getLogger(__name__)

CLAIM_BATCH = 16  # tasks claimed by one statement, at most (never more than the free slots)
HAND_BACK_TIME = 3.0  # seconds kept, at most, for handing running tasks back inside a shutdown timeout


def _version() -> str:
    try:
        return version("taskdeck")
    except PackageNotFoundError:
        return "dev"


@dataclass
class WorkerRuntime:
    settings: Settings
    db: Database
    kick: Kick
    worker_id: str = field(
        default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:4]}"
    )
    browser: BrowserPool | None = None
    artifacts: ArtifactStore | None = None
    running: dict[uuid.UUID, Running] = field(default_factory=dict)  # by lease: one entry per run
    processed: int = 0
    stopping: bool = False
    vault: Vault | None = None  # checkout profiles and store accounts, decrypted per task
    on_drain: Callable[[], None] | None = None  # how this process ends itself when asked to drain
    trim: Callable[[], Awaitable[int]] | None = None  # trims the Redis stream safely (retention)
    launch_browser: bool = False  # launch Chromium at start (a worker process) instead of on first use
    webhooks: WebhookSender | None = None  # the webhook delivery loop's client
    redis: Redis | None = None  # live view and hand-off (None in embedded mode: no live view)
    _free: int = 0
    _slots: set[uuid.UUID] = field(default_factory=set)  # leases of the runs holding a slot
    _filling: bool = False  # a claim for the free slots is under way
    _look_again: bool = False  # a bell or a freed slot arrived during that claim
    _loops: list[asyncio.Task[Any]] = field(default_factory=list)
    _webhook_loop: asyncio.Task[None] | None = None
    _drains: set[asyncio.Task[Any]] = field(default_factory=set)
    _row: Worker | None = None
    _context: RunContext | None = None  # what each run gets of this worker (built at start)
    _stop_began: float | None = None  # loop time of the shutdown signal

    # ---- lifecycle --------------------------------------------------------------------

    async def start(self) -> WorkerRuntime:
        self._free = self.settings.worker_concurrency
        registry.configure(noop=self.settings.noop_enabled)
        await asyncio.to_thread(registry.load)  # a duplicate store name fails here, at start-up
        self.vault = Vault(self.db, load_key(self.settings.secret_key, self.settings.secret_key_file))
        self.artifacts = ArtifactStore(
            self.settings.artifacts_dir,
            keep_tasks=self.settings.artifacts_keep_tasks,
            traces_keep_days=self.settings.traces_keep_days,
            keep_days=self.settings.retention_days,
            max_mb=self.settings.artifacts_max_mb,
        )
        self.browser = BrowserPool(
            executable_path=find_chromium(self.settings.browser_path, headless=self.settings.headless),
            headless=self.settings.headless,
            recycle_after=self.settings.browser_recycle_after,
            memory_limit_mb=self.settings.browser_memory_limit_mb,
            sandbox=self.settings.browser_sandbox,
        )
        await self.browser.start()
        if self.launch_browser:
            await self.browser.launch_check()  # BrowserUnavailable: the worker does not start
        if self.settings.redis_url:
            self.redis = redis_url.connect(self.settings.redis_url, cluster=self.settings.redis_cluster)
        self._row = Worker(
            id=self.worker_id,
            host=socket.gethostname(),
            pid=os.getpid(),
            version=_version(),
            concurrency=self.settings.worker_concurrency,
            started_at=utcnow(),
        )
        recorder = Recorder(self.db, self.worker_id, self.kick, GroupCommit(self.db, self.worker_id))

        async def record(task: Task, outcome: Outcome, **kwargs: Any) -> None:
            self._free_slot(task.lease)  # the bot is done: its slot claims again while this writes
            await recorder.record(task, outcome, **kwargs)

        self._context = RunContext(
            settings=self.settings,
            db=self.db,
            worker_id=self.worker_id,
            record=record,
            browser=self.browser,
            artifacts=self.artifacts,
            vault=self.vault,
            redis=self.redis,
        )
        await self._beat_worker("up")
        logs.worker.set(self.worker_id)  # the loops below (sweeps, heartbeats) log with it
        self.webhooks = WebhookSender(db=self.db, vault=self.vault, settings=self.settings)
        self._loops = [
            asyncio.create_task(self._heartbeat_loop(), name="taskdeck-heartbeat"),
            asyncio.create_task(self._sweep_loop(), name="taskdeck-sweeper"),
        ]
        self._webhook_loop = asyncio.create_task(
            self.webhooks.run(self.settings.sweep_interval), name="taskdeck-webhooks"
        )
        log.info("worker %s up (concurrency %s)", self.worker_id, self.settings.worker_concurrency)
        return self

    async def stop(self, *, grace: float | None = None, within: float | None = None) -> None:
        """Stop taking work; let running tasks finish until ``grace`` s after the stop began (the
        signal, when there was one), then hand them back without using an attempt.

        ``within`` is the time this call has before its caller cuts it (taskiq's
        ``--shutdown-timeout``): the hand-back then starts early enough to be written inside it,
        even if that shortens the grace period.
        """
        loop = asyncio.get_running_loop()
        now = loop.time()
        self.stopping = True
        grace = self.settings.shutdown_grace if grace is None else grace
        began = self._stop_began if self._stop_began is not None else now
        wait = max(0.0, began + grace - now)
        deadline = None if within is None else now + within
        if within is not None:
            budget = max(0.0, within - min(HAND_BACK_TIME, within / 2))
            if self.running and budget < wait:
                log.warning(
                    "worker %s: the shutdown timeout leaves %.1fs of the %ss grace; pass taskiq "
                    "--shutdown-timeout above TASKDECK_SHUTDOWN_GRACE",
                    self.worker_id,
                    budget,
                    grace,
                )
            wait = min(wait, budget)
        if self.running:
            log.info(
                "worker %s stopping: %s running task(s), %.1fs left to finish",
                self.worker_id,
                len(self.running),
                wait,
            )
        with suppress(TimeoutError):
            await asyncio.wait_for(self._idle(), timeout=wait)
        for running in list(self.running.values()):
            running.stop("shutdown")
        settle = 15.0 if deadline is None else max(0.1, deadline - loop.time())
        with suppress(TimeoutError):
            await asyncio.wait_for(self._idle(), timeout=settle)
        if self.webhooks is not None and self._webhook_loop is not None:
            self.webhooks.stop()  # the POSTs under way finish and are recorded, not left in flight
            wait_posts = self.settings.webhook_timeout + 2
            if deadline is not None:  # inside taskiq's cut, after the hand-back
                wait_posts = max(0.1, min(wait_posts, deadline - loop.time() - 0.5))
            with suppress(TimeoutError, Exception):
                await asyncio.wait_for(self._webhook_loop, timeout=wait_posts)
        for background in self._loops:
            background.cancel()
        for background in self._loops:
            with suppress(asyncio.CancelledError, Exception):
                await background
        with suppress(Exception):
            await self._beat_worker("gone")
        if self.webhooks is not None:
            await self.webhooks.close()
        if self.browser is not None:
            await self.browser.close()
        if self.redis is not None:
            with suppress(Exception):
                await self.redis.aclose()

    async def _idle(self) -> None:
        while self.running or self._drains:  # noqa: ASYNC110 - two collections, no single event to wait on
            await asyncio.sleep(0.05)

    def begin_shutdown(self) -> None:
        """Called from a signal handler: take no more work; hand back what outlives the grace."""
        if self.stopping:
            return
        self.stopping = True
        loop = asyncio.get_event_loop()
        self._stop_began = loop.time()
        loop.call_soon_threadsafe(loop.call_later, self.settings.shutdown_grace, self._hand_back_all)

    def _hand_back_all(self) -> None:
        for running in list(self.running.values()):
            running.stop("shutdown")

    # ---- taking work ------------------------------------------------------------------

    async def ring(self, hint: str | None = None) -> None:
        """A doorbell rang: if a slot is free, claim work for the free slots (the runs go on in
        the background; the bell is answered once the claim is made)."""
        if self.stopping or self._free <= 0:
            return
        await self._fill()

    async def _fill(self) -> None:
        """Claim tasks for every free slot, ``CLAIM_BATCH`` at a time (one statement each), until
        the slots are full or nothing is claimable. One claimer at a time: a call while one runs
        asks it to look again."""
        if self._filling:
            self._look_again = True
            return
        self._filling = True
        try:
            while not self.stopping and self._free > 0:
                self._look_again = False
                wanted = min(self._free, CLAIM_BATCH)
                claimed = await self._claim(wanted)
                for task in claimed:
                    self._start(task)
                if len(claimed) < wanted and not self._look_again:
                    return  # nothing more claimable now; a bell or the sweeper looks again
        finally:
            self._filling = False

    def _start(self, task: Task) -> None:
        """Run a claimed task in one free slot; the slot is freed (and refilled) once its bot is
        done and its outcome handed over for writing (``_record``), or when the run ends."""
        assert task.lease is not None
        self._free -= 1
        self._slots.add(task.lease)
        run = asyncio.create_task(self._run(task))
        self._drains.add(run)
        run.add_done_callback(self._drains.discard)
        run.add_done_callback(lambda _run: self._free_slot(task.lease))

    def _free_slot(self, lease: uuid.UUID | None) -> None:
        """The run holding ``lease`` needs its slot no more: claim for it (once per run).

        Freed when the outcome is handed over for writing, the next claim goes out while that
        write is under way instead of after it: claims and outcome writes overlap (the run stays
        in ``running``, heartbeating, until its outcome is written)."""
        if lease not in self._slots:
            return
        self._slots.discard(lease)
        self._free += 1
        if not self.stopping:
            refill = asyncio.create_task(self._fill())
            self._drains.add(refill)
            refill.add_done_callback(self._drains.discard)

    def fill_free_slots(self) -> None:
        """Look for claimable work for the free slots (used by the sweeper; never blocks)."""
        if self._free > 0 and not self.stopping:
            fill = asyncio.create_task(self._fill())
            self._drains.add(fill)
            fill.add_done_callback(self._drains.discard)

    async def _claim(self, wanted: int) -> list[Task]:
        single = not self.db.is_sqlite and not self.settings.store_limits  # one statement: no BEGIN
        try:
            async with self.db.statements() if single else self.db.begin() as session:
                return await claims.claim_many(
                    session, worker_id=self.worker_id, limit=wanted, limits=self.settings.store_limits
                )
        except Exception:
            log.exception("claim failed; will look again on the next sweep")
            return []

    async def _run(self, task: Task) -> None:
        assert task.lease is not None and self._context is not None
        running = Running(task=task)
        self.running[task.lease] = running  # two runs of one task (a reclaim) are two entries
        try:
            with logs.bind(task_id=str(task.id), attempt=task.attempt, worker=self.worker_id):
                await execute(self._context, task, running)
        finally:
            self.running.pop(task.lease, None)
            self.processed += 1

    def _settle(self, task: Task) -> None:
        """A task the sweeper took over after a dead worker's checkpoint: ask the store in the
        background, holding the run (its heartbeat keeps the lease) until the outcome is written."""
        assert task.lease is not None and self._context is not None
        self.running[task.lease] = Running(task=task)
        job = asyncio.create_task(
            recovery.settle_adopted(self._context, task), name=f"taskdeck-settle-{task.id}"
        )
        self._drains.add(job)
        lease = task.lease

        def settled(done: asyncio.Task[None]) -> None:
            self._drains.discard(done)
            self.running.pop(lease, None)

        job.add_done_callback(settled)

    # ---- loops --------------------------------------------------------------------------

    async def _heartbeat_loop(self) -> None:
        beats = 0
        while True:
            await asyncio.sleep(self.settings.heartbeat_interval)
            try:
                runs = {lease: running.task.id for lease, running in self.running.items()}
                if runs:
                    async with self.db.begin() as session:
                        alive = await claims.heartbeat(session, runs=runs)
                    for lease in runs:
                        running = self.running.get(lease)
                        if running is None:
                            continue
                        if lease not in alive:
                            running.stop("lost")
                        elif alive[lease]:
                            running.stop("cancel")
                beats += 1
                if beats % 3 == 0:
                    await self._beat_worker("stopping" if self.stopping else "up")
            except Exception as exc:
                log.warning("heartbeat failed: %s", exc)

    async def _sweep_loop(self) -> None:
        last_prune = 0.0
        while True:
            await asyncio.sleep(self.settings.sweep_interval)
            try:
                swept = await sweeper.sweep(
                    self.db, self.settings, worker_id=self.worker_id, adopt=not self.stopping
                )
                for task in swept.adopted:
                    self._settle(task)
                for task_id in swept.kick:
                    try:
                        await self.kick(task_id)
                    except Exception as exc:  # the row stays queued; the next sweep rings again
                        log.warning("doorbell for %s failed: %s", task_id, exc)
                        break
                if not self.stopping:
                    self.fill_free_slots()
                if time.monotonic() - last_prune > sweeper.PRUNE_EVERY:
                    last_prune = time.monotonic()
                    await sweeper.retain(self.db, self.settings, artifacts=self.artifacts, trim=self.trim)
            except Exception as exc:
                log.warning("sweep failed: %s", exc)

    async def _beat_worker(self, status: str) -> None:
        assert self._row is not None
        pool = self.browser
        browser = await asyncio.to_thread(lambda: pool.stats) if pool is not None else None
        async with self.db.begin() as session:
            drain = await worker_rows.worker_seen(
                session,
                worker=self._row,
                running=[str(r.task.id) for r in self.running.values()],
                processed=self.processed,
                status=status,
                browser=browser,
            )
        if drain and not self.stopping and self.on_drain is not None:
            log.warning("worker %s: asked to drain; taking no more work, then exiting", self.worker_id)
            self.on_drain()
