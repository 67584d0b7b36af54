"""A store whose bot does nothing but succeed, without a browser: for engine tests and benchmarks.
Product ``sleep:N`` first waits N seconds (a task a worker holds for a while: the kill -9 bench)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from workers.bots.base import BotContext, Purchase
from workers.bots.registry import bot


@bot("noop", needs_browser=False, title="No-op (engine tests)")
async def run(ctx: BotContext) -> Purchase:
    kind, _, seconds = ctx.task.product.partition(":")
    if kind == "sleep":
        await asyncio.sleep(min(float(seconds or 0), 3600.0))
    return Purchase(
        order_number=f"NOOP-{ctx.task.id[:8]}",
        quantity=ctx.task.quantity,
        unit_price=Decimal("0"),
        total=Decimal("0"),
    )
