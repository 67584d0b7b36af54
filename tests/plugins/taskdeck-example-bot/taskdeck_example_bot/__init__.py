"""The smallest real store bot: it renders its own one-page "shop" in the task's browser page
and reads the order back from it. Taskdeck finds it through the ``taskdeck.bots`` entry point."""

from __future__ import annotations

from decimal import Decimal

from workers.bots.base import BotContext, Purchase
from workers.bots.registry import StoreBot

SHOP = """<html><body><h1 id="name">{product}</h1><span id="price">3.25</span>
<button id="buy" onclick="document.getElementById('order').textContent='EX-' + Date.now()">Buy</button>
<p id="order"></p></body></html>"""


async def run(ctx: BotContext) -> Purchase:
    assert ctx.page is not None
    await ctx.progress("open product", 20)
    await ctx.page.set_content(SHOP.format(product=ctx.task.product))
    price = Decimal(await ctx.page.inner_text("#price"))
    await ctx.checkpoint("place-order")
    await ctx.page.click("#buy", timeout=ctx.timeout_ms)
    order = await ctx.page.inner_text("#order", timeout=ctx.timeout_ms)
    await ctx.progress("confirm", 100)
    return Purchase(
        order_number=order,
        quantity=ctx.task.quantity,
        unit_price=price,
        total=price * ctx.task.quantity,
        product_name=ctx.task.product,
    )


BOT = StoreBot(name="example-shop", run=run, title="Example shop (plugin)")
