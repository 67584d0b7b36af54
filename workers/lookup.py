"""Product previews: a store bot's ``lookup(product)`` in a short-lived browser context."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from workers.bots import registry
from workers.bots.base import BotContext, BotTask, ProductInfo
from workers.browser import BrowserPool
from workers.errors import PermanentError

LOOKUP_TIMEOUT = 20.0


class NoPreview(PermanentError):
    """This store's bot cannot preview products."""


async def lookup(
    *, store: str, product: str, browser: BrowserPool, store_url: str, timeout: float = LOOKUP_TIMEOUT
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
        return await spec.lookup(BotContext(task=task, page=page, store_url=store_url))
