"""The demo bot against the real demo store: a real Chromium, the store on a real uvicorn.

Each test gets the store reset (``demo_store``) and a page in a fresh browser context
(``demo_page``), and builds the ``BotContext`` itself with recording callables.
"""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

import httpx
import pytest
from playwright.async_api import Browser, Page

from workers.bots import registry
from workers.bots.base import BotContext, BotTask, Purchase, StoreAccount
from workers.bots.demo import lookup, product_slug, run
from workers.errors import NotAvailableYet, PermanentError, RetryableError

if TYPE_CHECKING:
    from tests.conftest_demo import DemoStoreAPI

pytest_plugins = ["tests.conftest_demo"]

ALL_STEPS = ["open product", "check stock", "add to cart", "checkout", "confirm"]


@dataclass
class Recorder:
    """What the bot reported, in order."""

    progress: list[tuple[str, int]] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    checkpoints: list[str] = field(default_factory=list)
    screenshots: list[str] = field(default_factory=list)

    @property
    def steps(self) -> list[str]:
        return [step for step, _ in self.progress]

    async def on_progress(self, step: str, pct: int) -> None:
        self.progress.append((step, pct))

    async def on_log(self, message: str) -> None:
        self.logs.append(message)

    async def on_checkpoint(self, name: str) -> None:
        self.checkpoints.append(name)

    async def on_screenshot(self, label: str) -> None:
        self.screenshots.append(label)


def context(
    page: Page | None,
    store: DemoStoreAPI,
    *,
    product: str = "sneaker-drop",
    quantity: int = 1,
    max_price: str | None = None,
    task_id: str | None = None,
    checkpoints: frozenset[str] = frozenset(),
    account: StoreAccount | None = None,
    timeout_ms: float = 5_000,
    store_url: str | None = None,
) -> tuple[BotContext, Recorder]:
    recorder = Recorder()
    task = BotTask(
        id=task_id or str(uuid.uuid4()),
        name="test task",
        store="demo",
        product=product,
        quantity=quantity,
        max_price=Decimal(max_price) if max_price is not None else None,
        mode="once",
        attempt=1,
    )
    ctx = BotContext(
        task=task,
        page=page,
        store_url=store_url or store.url,
        progress=recorder.on_progress,
        log=recorder.on_log,
        checkpoint=recorder.on_checkpoint,
        screenshot=recorder.on_screenshot,
        checkpoints=checkpoints,
        account=account,
        timeout_ms=timeout_ms,
    )
    return ctx, recorder


def closed_store_url() -> str:
    """A store URL on a port where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/demo-store"


async def fresh_page(browser: Browser) -> Page:
    """A page in a new browser context, as a retry on a fresh context would get."""
    return await (await browser.new_context()).new_page()


def test_the_bot_is_registered() -> None:
    spec = registry.get("demo")
    assert (spec.run, spec.lookup, spec.title, spec.needs_browser) == (run, lookup, "Demo store", True)


@pytest.mark.parametrize(
    ("given", "slug"),
    [
        ("gpu-founders", "gpu-founders"),
        ("http://shop.example/demo-store/products/gpu-founders", "gpu-founders"),
        ("https://shop.example/demo-store/products/vinyl-box/?ref=x#top", "vinyl-box"),
    ],
)
def test_product_slug_reads_slugs_and_urls(given: str, slug: str) -> None:
    assert product_slug(given) == slug


def test_product_slug_refuses_other_things() -> None:
    with pytest.raises(PermanentError, match="unknown product"):
        product_slug("https://shop.example/demo-store/cart")


async def test_happy_path_buys_once_and_reports_each_step(demo_store: DemoStoreAPI, demo_page: Page) -> None:
    ctx, seen = context(demo_page, demo_store, quantity=2, max_price="150")
    purchase = await run(ctx)

    assert purchase == Purchase(
        order_number=purchase.order_number,
        quantity=2,
        unit_price=Decimal("120.00"),
        total=Decimal("240.00"),
        currency="USD",
        product_name="Aurora Sneaker Drop",
    )
    orders = await demo_store.orders(reference=ctx.task.id)
    assert [(o["orderNumber"], o["quantity"], o["total"]) for o in orders] == [
        (purchase.order_number, 2, 240)
    ]
    assert seen.steps == ALL_STEPS
    assert [pct for _, pct in seen.progress] == sorted(pct for _, pct in seen.progress)
    assert seen.progress[-1] == ("confirm", 100)
    assert seen.screenshots == ALL_STEPS
    assert seen.checkpoints == ["place-order"]
    assert (await demo_store.product("sneaker-drop"))["stock"] == 23
    assert "4242424242424242" not in " ".join(seen.logs)


async def test_a_product_url_works_like_its_slug(demo_store: DemoStoreAPI, demo_page: Page) -> None:
    ctx, _ = context(demo_page, demo_store, product="https://public.example/demo-store/products/vinyl-box")
    purchase = await run(ctx)
    assert purchase.product_name == "Midnight Sessions Vinyl Box"


async def test_unknown_product_is_permanent(demo_store: DemoStoreAPI, demo_page: Page) -> None:
    ctx, _ = context(demo_page, demo_store, product="no-such-thing")
    with pytest.raises(PermanentError, match="unknown product 'no-such-thing'"):
        await run(ctx)


async def test_out_of_stock_is_not_available_yet(demo_store: DemoStoreAPI, demo_page: Page) -> None:
    await demo_store.configure("gpu-founders", stock=0)
    ctx, seen = context(demo_page, demo_store, product="gpu-founders")
    with pytest.raises(NotAvailableYet) as caught:
        await run(ctx)
    assert caught.value.observation == "out of stock"
    assert caught.value.step == "check stock"
    assert seen.steps == ["open product"]
    assert await demo_store.orders() == []


async def test_fewer_in_stock_than_wanted_is_not_available_yet(
    demo_store: DemoStoreAPI, demo_page: Page
) -> None:
    await demo_store.configure("gpu-founders", stock=2)
    ctx, _ = context(demo_page, demo_store, product="gpu-founders", quantity=3)
    with pytest.raises(NotAvailableYet, match="only 2 in stock; 3 wanted"):
        await run(ctx)


async def test_buys_once_the_restock_time_has_passed(
    demo_store: DemoStoreAPI, demo_page: Page, demo_chromium: Browser
) -> None:
    restock = datetime.now(UTC) + timedelta(seconds=1.5)
    product = await demo_store.configure("gpu-founders", stock=3, restockAt=restock.isoformat())
    ctx, _ = context(demo_page, demo_store, product="gpu-founders")
    with pytest.raises(NotAvailableYet) as caught:
        await run(ctx)
    assert caught.value.observation == f"out of stock; restock at {product['restockAt']}"

    await asyncio.sleep(max(0.0, (restock - datetime.now(UTC)).total_seconds()) + 0.1)
    ctx, _ = context(await fresh_page(demo_chromium), demo_store, product="gpu-founders", task_id=ctx.task.id)
    purchase = await run(ctx)
    assert purchase.unit_price == Decimal("699.00")
    assert len(await demo_store.orders(reference=ctx.task.id)) == 1
    await ctx.page.context.close()  # type: ignore[union-attr]


async def test_price_above_the_maximum_is_permanent(demo_store: DemoStoreAPI, demo_page: Page) -> None:
    await demo_store.configure("sneaker-drop", price=129)
    ctx, _ = context(demo_page, demo_store, max_price="100")
    with pytest.raises(PermanentError) as caught:
        await run(ctx)
    assert str(caught.value) == "price 129.00 is above your maximum 100.00"
    assert caught.value.step == "check stock"
    assert await demo_store.orders() == []


async def test_quantity_above_the_per_order_limit_is_permanent(
    demo_store: DemoStoreAPI, demo_page: Page
) -> None:
    await demo_store.configure("console-limited", maxPerOrder=2)
    ctx, _ = context(demo_page, demo_store, product="console-limited", quantity=3)
    with pytest.raises(PermanentError, match="at most 2 per order"):
        await run(ctx)
    ctx, _ = context(demo_page, demo_store, product="console-limited", quantity=2)
    assert (await run(ctx)).quantity == 2


async def test_store_error_at_checkout_is_retryable_then_the_retry_buys_once(
    demo_store: DemoStoreAPI, demo_page: Page, demo_chromium: Browser
) -> None:
    await demo_store.configure("sneaker-drop", failNext=1)
    ctx, seen = context(demo_page, demo_store)
    with pytest.raises(RetryableError) as caught:
        await run(ctx)
    assert str(caught.value) == "store error at checkout (HTTP 500)"
    assert seen.checkpoints == ["place-order"]
    assert await demo_store.orders() == []

    # the retry: a fresh context that knows the checkpoint; the store has no order, so it buys
    retry, seen = context(
        await fresh_page(demo_chromium),
        demo_store,
        task_id=ctx.task.id,
        checkpoints=frozenset(seen.checkpoints),
    )
    purchase = await run(retry)
    assert [o["orderNumber"] for o in await demo_store.orders()] == [purchase.order_number]
    assert seen.steps == ALL_STEPS
    await retry.page.context.close()  # type: ignore[union-attr]


async def test_checkpoint_and_an_existing_order_returns_it_without_buying_again(
    demo_store: DemoStoreAPI, demo_page: Page, demo_chromium: Browser
) -> None:
    ctx, _ = context(demo_page, demo_store, quantity=2)
    first = await run(ctx)
    await demo_store.configure("sneaker-drop", stock=0)  # even sold out since: the order stands

    retry, seen = context(
        await fresh_page(demo_chromium),
        demo_store,
        quantity=2,
        task_id=ctx.task.id,
        checkpoints=frozenset({"place-order"}),
    )
    again = await run(retry)
    assert again == first
    assert len(await demo_store.orders()) == 1
    assert "add to cart" not in seen.steps and seen.checkpoints == []
    assert any("order already placed by an earlier attempt" in line for line in seen.logs)
    await retry.page.context.close()  # type: ignore[union-attr]


async def test_checkpoint_but_the_store_cannot_be_asked_is_permanent(
    demo_store: DemoStoreAPI, demo_page: Page
) -> None:
    ctx, _ = context(
        demo_page,
        demo_store,
        checkpoints=frozenset({"place-order"}),
        store_url=closed_store_url(),
    )
    with pytest.raises(PermanentError, match=r"order may have been placed — check the store \(reference "):
        await run(ctx)


async def test_sold_out_at_checkout_is_not_available_yet(demo_store: DemoStoreAPI, demo_page: Page) -> None:
    await demo_store.configure("collector-figure", soldOutAtCheckout=True)
    ctx, _ = context(demo_page, demo_store, product="collector-figure")
    with pytest.raises(NotAvailableYet) as caught:
        await run(ctx)
    assert caught.value.observation == "sold out at checkout"
    assert caught.value.step == "confirm"
    assert await demo_store.orders() == []


async def test_login_required_without_an_account_is_permanent(
    demo_store: DemoStoreAPI, demo_page: Page
) -> None:
    await demo_store.configure("gpu-founders", requiresLogin=True)
    ctx, _ = context(demo_page, demo_store, product="gpu-founders")
    with pytest.raises(PermanentError, match="this product needs a store account; add one for store demo"):
        await run(ctx)


async def test_login_required_with_a_wrong_password_is_permanent(
    demo_store: DemoStoreAPI, demo_page: Page
) -> None:
    await demo_store.configure("gpu-founders", requiresLogin=True)
    ctx, _ = context(
        demo_page, demo_store, product="gpu-founders", account=StoreAccount(login="demo", password="wrong")
    )
    with pytest.raises(PermanentError, match="store login refused"):
        await run(ctx)
    assert await demo_store.orders() == []


async def test_login_required_with_the_account_buys(demo_store: DemoStoreAPI, demo_page: Page) -> None:
    await demo_store.configure("gpu-founders", requiresLogin=True)
    await demo_store.add_account("ada", "pass-1")
    ctx, seen = context(
        demo_page, demo_store, product="gpu-founders", account=StoreAccount(login="ada", password="pass-1")
    )
    purchase = await run(ctx)
    [order] = await demo_store.orders(reference=ctx.task.id)
    assert (order["orderNumber"], order["account"]) == (purchase.order_number, "ada")
    assert seen.steps == ["open product", "check stock", "add to cart", "log in", "checkout", "confirm"]
    assert "pass-1" not in " ".join(seen.logs)


async def test_a_changed_layout_is_permanent_and_names_the_step(
    demo_store: DemoStoreAPI, demo_page: Page
) -> None:
    await demo_store.configure("sneaker-drop", layout="v2")
    ctx, _ = context(demo_page, demo_store, timeout_ms=800)
    with pytest.raises(PermanentError) as caught:
        await run(ctx)
    assert str(caught.value) == (
        'step "add to cart": button "Add to cart" not found — the store\'s page layout may have changed'
    )
    assert caught.value.step == "add to cart"


async def test_a_flaky_store_is_retryable(demo_store: DemoStoreAPI, demo_page: Page) -> None:
    await demo_store.configure("vinyl-box", flakyRate=1)
    ctx, _ = context(demo_page, demo_store, product="vinyl-box")
    with pytest.raises(RetryableError) as caught:
        await run(ctx)
    assert str(caught.value) == "store error at the product page (HTTP 503)"
    assert (caught.value.step, caught.value.retry_after) == ("open product", 1.0)


async def test_a_slow_store_is_waited_for_within_the_timeout(
    demo_store: DemoStoreAPI, demo_page: Page
) -> None:
    await demo_store.configure("vinyl-box", delayMs=150)
    ctx, _ = context(demo_page, demo_store, product="vinyl-box", timeout_ms=3_000)
    started = time.monotonic()
    await run(ctx)
    assert time.monotonic() - started >= 4 * 0.15  # product page, add to cart, checkout, place order


async def test_a_store_slower_than_the_timeout_is_retryable(
    demo_store: DemoStoreAPI, demo_page: Page
) -> None:
    await demo_store.configure("vinyl-box", delayMs=1_500)
    ctx, _ = context(demo_page, demo_store, product="vinyl-box", timeout_ms=400)
    with pytest.raises(RetryableError, match=r'step "open product": the store did not answer within 0.4 s'):
        await run(ctx)


async def test_an_unreachable_store_is_retryable(demo_store: DemoStoreAPI, demo_page: Page) -> None:
    ctx, _ = context(demo_page, demo_store, store_url=closed_store_url())
    with pytest.raises(RetryableError, match=r'step "open product": browser error: .*ERR_CONNECTION_REFUSED'):
        await run(ctx)


async def test_store_stats_see_sequential_and_overlapping_bots(
    demo_store: DemoStoreAPI, demo_chromium: Browser
) -> None:
    pages = [await fresh_page(demo_chromium) for _ in range(2)]
    for page in pages:
        await run(context(page, demo_store)[0])
    assert (await demo_store.stats())["maxConcurrentCheckouts"] == 1

    await demo_store.configure("sneaker-drop", delayMs=100)
    await asyncio.gather(*(run(context(page, demo_store)[0]) for page in pages))
    stats = await demo_store.stats()
    assert (stats["maxConcurrentCheckouts"], stats["activeCheckouts"], len(stats["checkouts"])) == (2, 0, 4)
    for page in pages:
        await page.context.close()


async def test_lookup_previews_the_product(demo_store: DemoStoreAPI, demo_page: Page) -> None:
    ctx, _ = context(demo_page, demo_store, product="gpu-founders")
    info = await lookup(ctx)
    assert (info.name, info.price, info.available) == ("Nova GPU Founders Edition", Decimal("699.00"), True)
    assert info.canonical_url == f"{demo_store.url}/products/gpu-founders"
    assert info.image_url == f"{demo_store.url}/images/gpu-founders.svg"
    async with httpx.AsyncClient() as http:
        image = await http.get(info.image_url)
    assert image.headers["content-type"].startswith("image/svg+xml")

    await demo_store.configure("gpu-founders", stock=0)
    assert (await lookup(ctx)).available is False
    with pytest.raises(PermanentError, match="unknown product"):
        await lookup(context(demo_page, demo_store, product="nope")[0])
