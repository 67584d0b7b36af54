"""A store whose bot does nothing but succeed, without a browser: for engine tests and benchmarks."""

from __future__ import annotations

from decimal import Decimal

from workers.bots.base import BotContext, Purchase
from workers.bots.registry import bot


@bot("noop", needs_browser=False, title="No-op (engine tests)")
async def run(ctx: BotContext) -> Purchase:
    return Purchase(
        order_number=f"NOOP-{ctx.task.id[:8]}",
        quantity=ctx.task.quantity,
        unit_price=Decimal("0"),
        total=Decimal("0"),
    )
