"""The bot of the bundled demo store (``webapp/demo_store``): buys one product, politely.

It drives the store's pages like a customer and knows their v1 layout only (``#add-to-cart``,
``#checkout``, ``#place-order``): a changed layout is a permanent failure naming the step and the
missing button, not something to guess around. Each step is reported with ``ctx.progress`` and
``ctx.screenshot`` (the checkout screenshot is taken before the card is typed in). The password,
and the checkout form from typing until the store's answer, are entered inside
``ctx.secret_input()``: not traced, not photographed.

    step          outcome
    open product  404 → PermanentError "unknown product"; 5xx, timeout, unreachable → RetryableError
    check stock   out of stock (or fewer than wanted) → NotAvailableYet("out of stock; restock at …");
                  price above max_price, quantity above the store's per-order limit → PermanentError
                  (a watch's listing waits out a price above its maximum: NotAvailableYet);
                  the price and stock seen go to ``ctx.observe``
    add to cart   button missing → PermanentError; refused: limit → Permanent, stock → NotAvailableYet
    log in        (only when the store asks) no account → PermanentError; refused → PermanentError
    checkout      form filled from ctx.profile, reference = task id
    place order   checkpoint "place-order" recorded, then the click. A run that finds the checkpoint
                  from an earlier attempt asks the store for an order with this reference first
                  (at the start and again before the click): found → returned, never bought twice;
                  the question failing → PermanentError "order may have been placed — check".
    confirm it's you  (only when the store asks, after the click) ctx.needs_attention: a person
                  ticks the box and confirms through the live view (or the store was told by
                  reference) and hands back; the bot then confirms itself if still asked, and reads
                  the order. Nobody in time → NobodyCame (past the checkpoint: the store is asked)
    confirm       HTTP 5xx → RetryableError; sold out → NotAvailableYet; else the Purchase

Every Playwright wait is bounded by ``ctx.timeout_ms``; a timeout is a RetryableError, except an
element missing from a page that did load (PermanentError, as above); a dead browser is ``BrowserLost``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar
from urllib.parse import quote, unquote, urljoin, urlsplit

import httpx
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from workers.bots.base import BotContext, ProductInfo, Purchase
from workers.bots.registry import bot
from workers.errors import BotError, BrowserLost, NotAvailableYet, PermanentError, RetryableError

if TYPE_CHECKING:
    from playwright.async_api import Locator, Page, Response

CHECKPOINT = "place-order"
PROGRESS = {
    "open product": 10,
    "check stock": 25,
    "add to cart": 45,
    "log in": 55,
    "checkout": 70,
    "confirm": 100,
}
_WHERE = {  # where a store error happened, in the words of its message
    "open product": "the product page",
    "check stock": "the product page",
    "log in": "login",
    "place order": "checkout",
    "confirm": "checkout",
}
_N = TypeVar("_N", int, Decimal)
_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# what ``_Buyer.read`` asks the loaded page in one round trip: [found, text or attribute] each
_READ = """fields => fields.map(([selector, attribute]) => {
  const element = document.querySelector(selector);
  if (element === null) return [false, null];
  return [true, attribute === null ? element.innerText : element.getAttribute(attribute)];
})"""
_PRODUCT_PATH = re.compile(r"/products/([^/]+)/?$")


def product_slug(product: str) -> str:
    """The slug of ``product``, given as a slug or as a product page URL."""
    text = product.strip()
    if _SLUG.match(text):
        return text
    match = _PRODUCT_PATH.search(urlsplit(text).path)
    if match and _SLUG.match(unquote(match.group(1))):
        return unquote(match.group(1))
    raise PermanentError(
        f"unknown product {product!r}: give a product slug or a …/demo-store/products/<slug> URL"
    )


def _number(kind: type[_N], value: str | None, what: str, step: str) -> _N:
    """``value`` read as an int or Decimal; anything else means the page is not what we know."""
    try:
        return kind(str(value).strip())
    except (InvalidOperation, ValueError):
        raise PermanentError(f'step "{step}": cannot read {what} ({value!r})', step=step) from None


class _Shown(NamedTuple):
    """What a product page shows."""

    name: str
    price: Decimal
    stock: int
    restock_at: str | None
    max_per_order: int  # 0: no limit shown
    image: str | None


class _Buyer:
    """One run against the store; ``step`` names what it is doing, for errors."""

    def __init__(self, ctx: BotContext) -> None:
        if ctx.page is None:
            raise PermanentError("the demo bot needs a browser page")
        self.ctx = ctx
        self.page: Page = ctx.page
        self.store = ctx.store_url.rstrip("/")
        self.slug = product_slug(ctx.task.product)
        self.step = "open product"
        self.timeout = ctx.timeout_ms
        self.page.set_default_timeout(self.timeout)
        self.page.set_default_navigation_timeout(self.timeout)

    # helpers --------------------------------------------------------------------------------

    async def done(self, step: str) -> None:
        await self.ctx.progress(step, PROGRESS[step])
        await self.ctx.screenshot(step)

    def retryable(self, message: str, response: Response | None = None) -> RetryableError:
        after = response.headers.get("retry-after") if response is not None else None
        retry_after = float(after) if after and after.isdigit() else None
        return RetryableError(message, step=self.step, retry_after=retry_after)

    def check_status(self, response: Response | None) -> Response:
        if response is None:
            raise self.retryable(f'step "{self.step}": the store sent no page')
        if response.status >= 500:
            where = _WHERE.get(self.step, self.step)
            raise self.retryable(f"store error at {where} (HTTP {response.status})", response)
        return response

    def missing(self, what: str) -> PermanentError:
        return PermanentError(
            f'step "{self.step}": {what} not found — the store\'s page layout may have changed',
            step=self.step,
        )

    async def find(self, selector: str, what: str) -> Locator:
        """The element, or a PermanentError: the page loaded but this part of it is not there."""
        locator = self.page.locator(selector).first
        try:
            await locator.wait_for(state="attached", timeout=self.timeout)
        except PlaywrightTimeoutError:
            raise self.missing(what) from None
        return locator

    async def read(self, *fields: tuple[str, str | None, str | None]) -> list[str | None]:
        """Texts and attributes of the loaded page (its server-rendered HTML) in one round trip,
        instead of a wait and a read per element: ``(selector, attribute or None for the text,
        what)``. A missing element is a PermanentError naming ``what`` (None: optional, read as
        None); a missing attribute reads as None."""
        found = await self.page.evaluate(_READ, [[selector, attribute] for selector, attribute, _ in fields])
        values: list[str | None] = []
        for (_, _, what), (present, value) in zip(fields, found, strict=True):
            if not present and what is not None:
                raise self.missing(what)
            values.append(value)
        return values

    def need(self, value: str | None, what: str) -> str:
        if value is None:
            raise PermanentError(f'step "{self.step}": cannot read {what}', step=self.step)
        return value

    async def button(self, selector: str, label: str) -> Locator:
        return await self.find(selector, f'button "{label}"')

    async def error_text(self) -> str:
        errors = self.page.locator("[data-testid=error]")
        if await errors.count():
            return (await errors.first.inner_text(timeout=self.timeout)).strip()
        return ""

    async def goto(self, url: str) -> Response | None:
        return await self.page.goto(url, wait_until="domcontentloaded", timeout=self.timeout)

    async def click(self, button: Locator) -> Response | None:
        """Click and wait for the page it leads to (after redirects)."""
        async with self.page.expect_navigation(wait_until="domcontentloaded", timeout=self.timeout) as nav:
            await button.click(timeout=self.timeout)
        return await nav.value

    def on_path(self, suffix: str) -> bool:
        return urlsplit(self.page.url).path.rstrip("/").endswith(suffix)

    # steps ----------------------------------------------------------------------------------

    async def open_product(self) -> None:
        self.step = "open product"
        response = await self.goto(f"{self.store}/products/{quote(self.slug)}")
        if response is not None and response.status == 404:
            raise PermanentError(f"unknown product {self.slug!r} at {self.store}", step=self.step)
        response = self.check_status(response)
        if not response.ok:
            raise PermanentError(
                f'step "{self.step}": the store answered HTTP {response.status}', step=self.step
            )

    async def product_info(self) -> _Shown:
        name, price, stock, restock, limit, image = await self.read(
            ("[data-testid=product-name]", None, "the product name"),
            ("[data-testid=price]", "data-price", "the price"),
            ("[data-testid=stock]", "data-stock", "the stock"),
            ("[data-testid=stock]", "data-restock-at", None),
            ("[data-testid=limit]", "data-max-per-order", None),
            ("[data-testid=product-image]", "src", None),
        )
        step = self.step
        return _Shown(
            name=(name or "").strip(),
            price=_number(Decimal, self.need(price, "the price"), "the price", step),
            stock=_number(int, self.need(stock, "the stock"), "the stock", step),
            restock_at=restock,
            max_per_order=_number(int, limit or "0", "the per-order limit", step) if limit is not None else 0,
            image=image,
        )

    async def check_stock(self) -> tuple[str, Decimal]:
        self.step = "check stock"
        task = self.ctx.task
        shown = await self.product_info()
        name, price, stock, restock = shown.name, shown.price, shown.stock, shown.restock_at
        await self.ctx.observe(price, stock > 0)
        if stock <= 0:
            observation = f"out of stock; restock at {restock}" if restock else "out of stock"
            raise NotAvailableYet(f"{name}: {observation}", step=self.step, observation=observation)
        if task.max_price is not None and price > task.max_price and task.watch:
            observation = f"price {price:.2f} is above your maximum {task.max_price:.2f}"
            raise NotAvailableYet(f"{name}: {observation}", step=self.step, observation=observation)
        if task.max_price is not None and price > task.max_price:
            raise PermanentError(
                f"price {price:.2f} is above your maximum {task.max_price:.2f}", step=self.step
            )
        limit = shown.max_per_order
        if limit and task.quantity > limit:
            raise PermanentError(
                f"you want {task.quantity} but the store sells at most {limit} per order", step=self.step
            )
        if task.quantity > stock:
            observation = f"only {stock} in stock; {task.quantity} wanted"
            raise NotAvailableYet(f"{name}: {observation}", step=self.step, observation=observation)
        return name, price

    async def add_to_cart(self) -> None:
        self.step = "add to cart"
        button = await self.button("#add-to-cart", "Add to cart")
        await (await self.find("input[name=quantity]", "the quantity field")).fill(
            str(self.ctx.task.quantity)
        )
        response = self.check_status(await self.click(button))
        if response.status == 409:
            observation = (await self.error_text() or "out of stock").lower()
            raise NotAvailableYet(observation, step=self.step, observation=observation)
        if not response.ok or not self.on_path("/cart"):
            reason = await self.error_text() or f"HTTP {response.status}"
            raise PermanentError(f'step "{self.step}": the store refused: {reason}', step=self.step)

    async def log_in(self) -> None:
        self.step = "log in"
        account = self.ctx.account
        if account is None:
            raise PermanentError(
                f"this product needs a store account; add one for store {self.ctx.task.store}", step=self.step
            )
        await self.ctx.log(f"the store asks to log in; logging in as {account.login}")
        button = await self.button("#login", "Log in")
        login = await self.find("input[name=login]", "the login field")
        password = await self.find("input[name=password]", "the password field")
        async with self.ctx.secret_input():  # the password: not traced, not photographed
            await login.fill(account.login)
            await password.fill(account.password)
            response = await self.click(button)
        response = self.check_status(response)
        if response.status == 401 or self.on_path("/login"):
            raise PermanentError("store login refused", step=self.step)
        await self.done("log in")

    async def checkout(self) -> None:
        self.step = "checkout"
        self.check_status(await self.click(await self.button("#checkout", "Checkout")))
        if self.on_path("/login"):
            await self.log_in()
            self.step = "checkout"
        if not self.on_path("/checkout"):
            reason = await self.error_text() or f"landed on {urlsplit(self.page.url).path}"
            raise PermanentError(f'step "{self.step}": no checkout form: {reason}', step=self.step)
        await self.done("checkout")  # before the card is typed in: no card data in screenshots

    async def fill_form(self) -> None:
        """Type the profile in; only inside ``ctx.secret_input()`` (card, CVC, expiry, address)."""
        profile, task = self.ctx.profile, self.ctx.task
        values = {
            "full_name": profile.full_name,
            "email": profile.email,
            "address": profile.address,
            "card_number": profile.card_number,
            "card_expiry": profile.card_expiry,
            "card_cvc": profile.card_cvc,
            "reference": task.id,
        }
        await self.read(*((f"input[name={name}]", "name", f'the "{name}" field') for name in values))
        for name, value in values.items():  # all there: each fill finds its field at once
            await self.page.locator(f"input[name={name}]").first.fill(value)

    async def earlier_order(self) -> Purchase | None:
        """The order an earlier attempt placed (asked by the task's reference), or None."""
        reference = self.ctx.task.id
        try:
            response = await self.page.request.get(
                f"{self.store}/api/orders?reference={quote(reference)}", timeout=self.timeout
            )
            if not response.ok:
                raise ValueError(f"HTTP {response.status}")
            orders = await response.json()
            if not orders:
                return None
            purchase = _purchase(orders[0])
        except (PlaywrightError, ValueError, KeyError, TypeError, InvalidOperation) as problem:
            raise PermanentError(
                f"order may have been placed — check the store (reference {reference}); "
                f"asking the store failed: {problem}",
                step=self.step,
            ) from problem
        await self.ctx.log(f"order already placed by an earlier attempt: {purchase.order_number}")
        return purchase

    async def place_order(self) -> Response | None:
        self.step = "place order"
        button = await self.button("#place-order", "Place order")
        async with self.ctx.secret_input():  # from typing the card in until the page has moved on
            await self.fill_form()
            await self.ctx.log("placing the order")
            await self.ctx.checkpoint(CHECKPOINT)
            return await self.click(button)

    async def read_confirmation(self) -> Purchase:
        number, name, quantity, unit_price, total = await self.read(
            ("[data-testid=order-number]", None, "the order number"),
            ("[data-testid=order-product]", None, "the product"),
            ("[data-testid=order-quantity]", "data-value", "the quantity"),
            ("[data-testid=unit-price]", "data-value", "the unit price"),
            ("[data-testid=order-total]", "data-value", "the total"),
        )
        return Purchase(
            order_number=(number or "").strip(),
            quantity=_number(int, self.need(quantity, "the quantity"), "the quantity", self.step),
            unit_price=_number(Decimal, self.need(unit_price, "the unit price"), "the unit price", self.step),
            total=_number(Decimal, self.need(total, "the total"), "the total", self.step),
            product_name=(name or "").strip(),
        )

    async def confirm_its_you(self) -> Response | None:
        """The store wants a person to confirm: ask for one; then go on from where they left it."""
        self.step = "confirm it's you"
        await self.ctx.needs_attention("The store asks to confirm it's you")
        await self.page.wait_for_load_state("domcontentloaded", timeout=self.timeout)
        if not self.on_path("/confirm"):
            return None  # the person confirmed through the live view: the order page is open
        return await self.click(await self.button("#confirm-order", "Confirm and place order"))

    async def confirm(self, response: Response | None) -> Purchase:
        if self.on_path("/confirm"):
            response = await self.confirm_its_you()
            if response is None:
                self.step = "confirm"
                return await self.read_placed()
        self.step = "confirm"
        response = self.check_status(response)
        if response.status == 409:
            observation = (await self.error_text() or "sold out").lower() + " at checkout"
            raise NotAvailableYet(observation, step=self.step, observation=observation)
        if not response.ok:
            reason = await self.error_text() or f"HTTP {response.status}"
            raise PermanentError(f'step "{self.step}": the store refused the order: {reason}', step=self.step)
        return await self.read_placed()

    async def read_placed(self) -> Purchase:
        try:
            purchase = await self.read_confirmation()
        except (BotError, PlaywrightError, ValueError) as problem:
            # the click went through but the confirmation cannot be read: ask the store instead
            await self.ctx.log(f"cannot read the confirmation ({problem}); asking the store")
            earlier = await self.earlier_order()
            if earlier is None:
                raise PermanentError(
                    f"order may have been placed — check the store (reference {self.ctx.task.id})",
                    step=self.step,
                ) from problem
            purchase = earlier
        await self.done("confirm")
        return purchase

    async def buy(self) -> Purchase:
        placed_before = CHECKPOINT in self.ctx.checkpoints
        self.step = "place order"
        if placed_before and (earlier := await self.earlier_order()):
            await self.ctx.progress("confirm", PROGRESS["confirm"])
            return earlier
        await self.open_product()
        await self.done("open product")
        name, price = await self.check_stock()
        await self.ctx.log(f"{name}: {price:.2f} USD, in stock")
        await self.ctx.in_stock(f"{name} at {price:.2f} USD")
        await self.done("check stock")
        await self.add_to_cart()
        await self.done("add to cart")
        await self.checkout()
        if placed_before:
            self.step = "place order"
            if earlier := await self.earlier_order():  # an earlier click may have landed meanwhile
                await self.ctx.progress("confirm", PROGRESS["confirm"])
                return earlier
        return await self.confirm(await self.place_order())


def _purchase(order: dict[str, Any]) -> Purchase:
    return Purchase(
        order_number=str(order["orderNumber"]),
        quantity=int(order["quantity"]),
        unit_price=Decimal(str(order["unitPrice"])).quantize(Decimal("0.01")),
        total=Decimal(str(order["total"])).quantize(Decimal("0.01")),
        currency=str(order.get("currency") or "USD"),
        product_name=order.get("productName"),
    )


@asynccontextmanager
async def _playwright_errors(buyer: _Buyer) -> AsyncIterator[None]:
    """Translate Playwright's exceptions into what the engine acts on."""
    try:
        yield
    except PlaywrightTimeoutError as problem:
        message = f'step "{buyer.step}": the store did not answer within {buyer.timeout / 1000:g} s'
        raise buyer.retryable(message) from problem
    except PlaywrightError as problem:
        page = buyer.page
        if page.is_closed() or (page.context.browser is not None and not page.context.browser.is_connected()):
            raise BrowserLost(f'step "{buyer.step}": the browser went away', step=buyer.step) from problem
        first_line = (problem.message or str(problem)).splitlines()[0]
        raise buyer.retryable(f'step "{buyer.step}": browser error: {first_line}') from problem


async def lookup(ctx: BotContext) -> ProductInfo:
    """Open the product page and read what the creation wizard previews."""
    buyer = _Buyer(ctx)
    async with _playwright_errors(buyer):
        await buyer.open_product()
        shown = await buyer.product_info()
        return ProductInfo(
            name=shown.name,
            price=shown.price,
            available=shown.stock > 0,
            image_url=urljoin(buyer.page.url, shown.image) if shown.image else None,
            canonical_url=buyer.page.url,
        )


async def lookup_order(ctx: BotContext) -> Purchase | None:
    """The store's order with this task's reference (its orders API), or None; raises when the
    store does not answer (``ordersApiDown``, a 5xx, a timeout, unreachable)."""
    url = f"{ctx.store_url.rstrip('/')}/api/orders"
    async with httpx.AsyncClient(timeout=ctx.timeout_ms / 1000) as http:
        response = await http.get(url, params={"reference": ctx.task.id})
    response.raise_for_status()
    orders = response.json()
    return _purchase(orders[0]) if orders else None


@bot("demo", lookup=lookup, lookup_order=lookup_order, title="Demo store")
async def run(ctx: BotContext) -> Purchase:
    buyer = _Buyer(ctx)
    async with _playwright_errors(buyer):
        return await buyer.buy()
