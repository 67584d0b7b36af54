"""Product previews: a store bot's ``lookup(product)`` in a short-lived browser context."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from workers.bots import registry
from workers.bots.base import BotContext, BotTask, ProductInfo
from workers.browser import BrowserPool
from workers.errors import PermanentError

LOOKUP_TIMEOUT = 20.0


class NoPreview(PermanentError):
    """This store's bot cannot preview products."""


class PreviewsBusy(Exception):
    """As many previews as allowed are running (TASKDECK_LOOKUP_CONCURRENCY)."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"{limit} product previews are running already (TASKDECK_LOOKUP_CONCURRENCY); "
            "try again in a few seconds"
        )


class Gate:
    """At most ``limit`` previews at once; one more is refused at once (``PreviewsBusy``), never
    queued: a burst of previews must not hold the web process's memory or the caller."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.running = 0

    def __enter__(self) -> Gate:
        if self.running >= self.limit:
            raise PreviewsBusy(self.limit)
        self.running += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self.running -= 1


async def lookup(
    *,
    store: str,
    product: str,
    browser: BrowserPool,
    store_url: str,
    settings: dict[str, Any] | None = None,
    timeout: float = LOOKUP_TIMEOUT,
) -> ProductInfo:
    """Run the store's lookup in a fresh context; bounded by ``timeout``."""
    spec = registry.get(store)
    if spec.lookup is None:
        raise NoPreview(f"store {store!r} has no product preview")
    task = BotTask(
        id="preview",
        name="preview",
        store=store,
        product=product,
        quantity=1,
        max_price=Decimal("0"),
        mode="once",
        attempt=1,
    )
    async with asyncio.timeout(timeout), browser.page() as page:
        return await spec.lookup(
            BotContext(task=task, page=page, store_url=store_url, settings=dict(settings or {}))
        )
