"""What a run may use of its worker: a narrow, frozen context the runtime builds once at start.

The executor, order recovery and a monitor's check bookkeeping take a ``RunContext`` instead of
the runtime, so none of them imports ``workers/runtime.py``: they read settings, write through the
database, open a browser page, and hand their one outcome to ``record`` (``workers/recording.py``);
slots, heartbeats and the sweeper stay the runtime's own.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from models.live_keys import LiveKeys
from models.settings import Settings
from models.tables import Task
from workers.bots.base import DEMO_PROFILE, BotTask, CheckoutProfile, Purchase, StoreAccount
from workers.outcome import Outcome
from workers.screencast import LiveView

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from models.db import Database
    from models.vault import Vault
    from workers.artifacts import ArtifactStore
    from workers.browser import BrowserPool, PageSession
    from workers.redact import Secrets
    from workers.tracing import TraceMode


class Record(Protocol):
    def __call__(
        self, task: Task, outcome: Outcome, *, purchase: Purchase | None = None, screenshot: str | None = None
    ) -> Awaitable[None]: ...


@dataclass(frozen=True)
class RunContext:
    settings: Settings
    db: Database
    worker_id: str
    record: Record  # writes a run's one outcome (retried; the purchase first)
    browser: BrowserPool | None = None
    artifacts: ArtifactStore | None = None
    vault: Vault | None = None  # checkout profiles and store accounts, decrypted per task
    redis: Redis | None = None  # live view and hand-off (None in embedded mode: no live view)

    def browser_session(
        self, *, trace: bool, trace_path: Any, secrets: Secrets
    ) -> AbstractAsyncContextManager[PageSession]:
        assert self.browser is not None
        mode: TraceMode = "always" if trace else "on_failure"
        return self.browser.session(  # the step timeout bounds every action and navigation
            trace=mode,
            trace_path=trace_path,
            secrets=secrets,
            default_timeout_ms=self.settings.step_timeout * 1000,
        )

    def live_view(self, task: Task, page: Any) -> LiveView | None:
        """The task's live view (screencast while watched), or None without Redis or a page."""
        if self.redis is None or page is None:
            return None
        return LiveView(self.redis, self.live_keys(task.id), page)

    def live_keys(self, task_id: uuid.UUID) -> LiveKeys:
        return LiveKeys.of(self.settings.queue_name, task_id)

    def store_url(self, store: str) -> str:
        return self.settings.store_url(store)  # TASKDECK_STORES

    def store_settings(self, store: str) -> dict[str, Any]:
        return self.settings.store_settings(store)

    async def profile_for(self, task: Task) -> CheckoutProfile:
        if self.vault is not None and task.profile_id is not None:
            return await self.vault.checkout_profile(task.profile_id, owner_id=task.owner_id)
        return DEMO_PROFILE

    async def account_for(self, task: Task) -> StoreAccount | None:
        """The task owner's login at the task's store (never another user's)."""
        if self.vault is not None:
            return await self.vault.store_account(task.store, owner_id=task.owner_id)
        return None


def bot_task(task: Task, *, watch: bool = False) -> BotTask:
    return BotTask(
        id=str(task.id),
        name=task.name,
        store=task.store,
        product=task.product,
        quantity=task.quantity,
        max_price=task.max_price,
        mode=task.mode,
        attempt=task.attempt,
        watch=watch,
    )
