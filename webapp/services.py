"""Everything the web process holds, built once in ``main`` and handed to routes and pages."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field

from taskiq import AsyncBroker

from models import webhooks
from models.access import Viewer
from models.db import Database
from models.settings import Settings
from models.vault import Vault, load_key
from webapp.catalogue import DemoCatalogue
from webapp.live import LiveHub
from webapp.live_view import LiveRelay
from webapp.token_cache import TokenCache
from workers import queue
from workers.artifacts import ArtifactStore
from workers.bots import registry
from workers.bots.base import ProductInfo
from workers.browser import BrowserPool, find_chromium
from workers.lookup import Gate, lookup
from workers.runtime import WorkerRuntime
from workers.webhooks import IN_FLIGHT_SLACK, WebhookSender

log = logging.getLogger(__name__)
READY_TIMEOUT = 30.0


@dataclass
class Services:
    settings: Settings
    db: Database
    broker: AsyncBroker
    hub: LiveHub
    artifacts: ArtifactStore
    vault: Vault
    catalogue: DemoCatalogue = field(init=False)  # the demo store's products, for task checks
    sender: WebhookSender = field(init=False)  # webhook "send test" from the web process
    tokens: TokenCache = field(init=False)  # bearer token → viewer for a few seconds
    runtime: WorkerRuntime | None = None  # embedded mode: the in-process worker
    live: LiveRelay | None = None  # the live view and hand-off (Redis only; None in embedded mode)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    _preview_browser: BrowserPool | None = None
    previews: Gate = field(init=False)  # TASKDECK_LOOKUP_CONCURRENCY previews at once

    def __post_init__(self) -> None:
        self.previews = Gate(self.settings.lookup_concurrency)
        self.catalogue = DemoCatalogue(self.settings)
        self.sender = WebhookSender(db=self.db, vault=self.vault, settings=self.settings)
        # trusted only while the hub hears revocations (Postgres, LISTEN connection up)
        self.tokens = TokenCache(live=lambda: not self.db.is_sqlite and self.hub.connected)
        self.hub.auth_changed.append(self.tokens.clear)

    @classmethod
    def build(cls, settings: Settings) -> Services:
        db = Database(settings.database_url, pre_ping=True)  # requests survive a Postgres restart
        registry.configure(noop=settings.noop_enabled)
        return cls(
            settings=settings,
            db=db,
            broker=queue.make_broker(settings),
            hub=LiveHub(db, listen_url=settings.listen_database_url),
            artifacts=ArtifactStore(
                settings.artifacts_dir,
                keep_tasks=settings.artifacts_keep_tasks,
                traces_keep_days=settings.traces_keep_days,
                keep_days=settings.retention_days,
                max_mb=settings.artifacts_max_mb,
            ),
            vault=Vault(db, load_key(settings.secret_key, settings.secret_key_file)),
            live=LiveRelay.connect(settings.redis_url, settings.queue_name, cluster=settings.redis_cluster)
            if settings.redis_url
            else None,
        )

    async def start(self) -> None:
        """Broker first: a stream consumer group starts at the stream's end, so nothing may be
        sent before it exists."""
        await asyncio.to_thread(registry.load)  # entry points are read from disk once, off the loop
        await self.broker.startup()
        if self.settings.embedded_queue:
            self.runtime = await WorkerRuntime(settings=self.settings, db=self.db, kick=self.kick).start()
            self.broker.state.runtime = self.runtime
        await self.hub.start()
        self.ready.set()
        log.info(
            "taskdeck ready (%s, %s)",
            "embedded queue" if self.settings.embedded_queue else "Redis queue",
            "SQLite" if self.db.is_sqlite else "Postgres",
        )

    async def stop(self) -> None:
        await self.hub.stop()
        if self.live is not None:
            await self.live.close()
        if self._preview_browser is not None:
            await self._preview_browser.close()
        if self.runtime is not None:
            await self.runtime.stop(grace=5)
        await self.broker.shutdown()
        await self.sender.close()
        await self.db.dispose()

    async def wait_ready(self) -> None:
        await asyncio.wait_for(self.ready.wait(), timeout=READY_TIMEOUT)

    async def lookup(self, *, store: str, product: str) -> ProductInfo:
        """A product preview, in the embedded worker's browser or a browser of the web process's own
        (launched on first use, closed after ``preview_idle_close`` s without a preview).
        ``PreviewsBusy`` at once when ``lookup_concurrency`` previews are running."""
        with self.previews:
            browser = self.runtime.browser if self.runtime is not None else None
            if browser is None:
                if self._preview_browser is None:
                    headless = self.settings.headless
                    self._preview_browser = BrowserPool(
                        executable_path=find_chromium(self.settings.browser_path, headless=headless),
                        headless=headless,
                        sandbox=self.settings.browser_sandbox,
                        idle_close_after=self.settings.preview_idle_close,
                    )
                    await self._preview_browser.start()
                browser = self._preview_browser
            url = self.settings.store_url(store)
            return await lookup(
                store=store,
                product=product,
                browser=browser,
                store_url=url,
                settings=self.settings.store_settings(store),
            )

    async def send_test_webhook(
        self, *, viewer: Viewer, webhook_id: uuid.UUID
    ) -> webhooks.DeliveryLog | None:
        """A ``webhook.test`` delivery for the viewer's hook, tried once now (a failure is retried
        by the workers like any delivery); None when the viewer has no such hook."""
        async with self.db.begin() as session:
            hook = await webhooks.get_webhook(session, viewer=viewer, webhook_id=webhook_id)
            if hook is None:
                return None
            delivery_id = await webhooks.enqueue_test(session, hook=hook)
        async with self.db.begin() as session:
            due = await webhooks.claim_due(
                session, limit=1, in_flight=self.settings.webhook_timeout + IN_FLIGHT_SLACK, only=delivery_id
            )
        for claimed in due:  # none: a worker's loop took it first
            await self.sender.send(claimed)
        async with self.db.session() as session:
            logs = await webhooks.list_deliveries(
                session, viewer=viewer, webhook_id=webhook_id, only=delivery_id
            )
        return logs[0] if logs else None

    async def kick(self, task_id: uuid.UUID) -> None:
        """Ring the doorbell for a queued task. A failure leaves the row queued for the sweeper."""
        try:
            await queue.kick(self.broker, task_id)
        except Exception as exc:
            log.warning("could not queue a message for task %s (%s); the sweeper will", task_id, exc)
