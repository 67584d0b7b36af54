"""The demo store's state, in memory: catalogue, accounts, sessions with their cart, orders, checkouts.

One ``DemoStore`` instance lives in the web process, held by the router. Everything runs on the
event loop; the only awaits are the product's configured delay and the stock lock, so the state
changes between them are atomic. Stock is only ever checked and decremented under
``stock_lock``: concurrent checkouts cannot oversell.

A *checkout* (for the statistics) is one session's way from "add to cart" to the end of its
purchase attempt: order placed, refused (error, sold out), cart emptied, or no request for
``checkout_idle_seconds`` (then it ended at its last request).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from webapp.demo_store.schemas import CheckoutForm, ProductUpdate

CHECKOUT_IDLE_SECONDS = 30.0
MAX_SESSIONS = 10_000
CURRENCY = "USD"


@dataclass(frozen=True)
class ProductSeed:
    slug: str
    name: str
    price: str
    stock: int
    color: str
    description: str


CATALOGUE: tuple[ProductSeed, ...] = (
    ProductSeed("sneaker-drop", "Aurora Sneaker Drop", "120.00", 25, "#6d5dfc", "Glow-in-the-dark runners."),
    ProductSeed(
        "gpu-founders", "Nova GPU Founders Edition", "699.00", 5, "#1f9d55", "The card everyone wants."
    ),
    ProductSeed(
        "console-limited", "Pulse Console Limited", "499.00", 10, "#d6336c", "Translucent shell, 2 TB."
    ),
    ProductSeed(
        "vinyl-box", "Midnight Sessions Vinyl Box", "89.00", 40, "#f08c00", "Six LPs, numbered sleeve."
    ),
    ProductSeed(
        "collector-figure", "Ronin Collector Figure", "149.00", 12, "#1c7ed6", "Hand-painted, 1 of 500."
    ),
)
SEED_ACCOUNTS = {"demo": "demo-pass"}


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


class Refusal(Exception):
    """The store says no: shown to the customer as an error with this HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Product:
    slug: str
    name: str
    description: str
    color: str
    price: Decimal
    stock: int  # on hand; customers see 0 before restock_at
    restock_at: datetime | None = None
    fail_next: int = 0
    delay_ms: int = 0
    confirm_delay_ms: int = 0  # the order is made at once; its confirmation answers this much later
    flaky_rate: float = 0.0
    max_per_order: int | None = None
    sold_out_at_checkout: bool = False
    requires_login: bool = False
    requires_confirmation: bool = False  # "Confirm it's you" between the checkout form and the order
    orders_api_down: bool = False  # while any product has it, the orders API answers 503
    layout: str = "v1"

    @classmethod
    def from_seed(cls, seed: ProductSeed) -> Product:
        return cls(
            slug=seed.slug,
            name=seed.name,
            description=seed.description,
            color=seed.color,
            price=Decimal(seed.price),
            stock=seed.stock,
        )

    def visible_stock(self, now: datetime) -> int:
        if self.restock_at is not None and now < self.restock_at:
            return 0
        return self.stock

    def waiting_for_restock(self, now: datetime) -> bool:
        return self.restock_at is not None and now < self.restock_at

    def apply(self, update: ProductUpdate) -> None:
        for name in update.model_fields_set:
            setattr(self, name, getattr(update, name))

    def to_json(self, now: datetime) -> dict[str, Any]:
        stock = self.visible_stock(now)
        return {
            "slug": self.slug,
            "name": self.name,
            "description": self.description,
            "price": float(self.price),
            "currency": CURRENCY,
            "stock": stock,
            "inStock": stock > 0,
            "onHand": self.stock,
            "restockAt": iso(self.restock_at),
            "failNext": self.fail_next,
            "delayMs": self.delay_ms,
            "confirmDelayMs": self.confirm_delay_ms,
            "flakyRate": self.flaky_rate,
            "maxPerOrder": self.max_per_order,
            "soldOutAtCheckout": self.sold_out_at_checkout,
            "requiresLogin": self.requires_login,
            "requiresConfirmation": self.requires_confirmation,
            "ordersApiDown": self.orders_api_down,
            "layout": self.layout,
        }


@dataclass(frozen=True)
class Order:
    number: str
    product: str
    product_name: str
    quantity: int
    unit_price: Decimal
    total: Decimal
    reference: str
    account: str | None
    created_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "orderNumber": self.number,
            "product": self.product,
            "productName": self.product_name,
            "quantity": self.quantity,
            "unitPrice": float(self.unit_price),
            "total": float(self.total),
            "currency": CURRENCY,
            "reference": self.reference,
            "account": self.account,
            "createdAt": iso(self.created_at),
        }


@dataclass
class Checkout:
    session: str  # public id of the session, not its cookie
    started_at: datetime
    last_seen: datetime
    reference: str | None = None
    ended_at: datetime | None = None

    def end(self, idle_seconds: float, now: datetime) -> datetime | None:
        """When it ended, counting an idle one as ended at its last request; None while running."""
        if self.ended_at is not None:
            return self.ended_at
        if (now - self.last_seen).total_seconds() > idle_seconds:
            return self.last_seen
        return None


@dataclass
class CartLine:
    slug: str
    quantity: int


@dataclass
class Session:
    sid: str
    cart: CartLine | None = None
    account: str | None = None
    checkout: Checkout | None = None
    pending: CheckoutForm | None = None  # a checkout form waiting for "Confirm it's you"

    @property
    def public_id(self) -> str:
        return hashlib.sha256(self.sid.encode()).hexdigest()[:10]


@dataclass
class DemoStore:
    """The whole shop. ``reset()`` restores the initial catalogue and forgets everything else."""

    checkout_idle_seconds: float = CHECKOUT_IDLE_SECONDS
    clock: Callable[[], datetime] = utcnow
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self.stock_lock = asyncio.Lock()
        self._numbers = itertools.count(100_001)  # order numbers keep increasing across resets
        self.reset()

    def reset(self) -> None:
        self.products: dict[str, Product] = {s.slug: Product.from_seed(s) for s in CATALOGUE}
        self.accounts: dict[str, str] = dict(SEED_ACCOUNTS)
        self.sessions: dict[str, Session] = {}
        self.orders: list[Order] = []
        self.checkouts: list[Checkout] = []
        self.confirmed: set[str] = set()  # references confirmed from outside (an e-mail answered)

    # catalogue -----------------------------------------------------------------------------

    def product(self, slug: str) -> Product | None:
        return self.products.get(slug)

    def update_product(self, product: Product, update: ProductUpdate) -> None:
        product.apply(update)

    async def misbehave(self, product: Product) -> bool:
        """Apply the product's configured delay; True when this request should fail (flaky)."""
        if product.delay_ms:
            await asyncio.sleep(product.delay_ms / 1000)
        return product.flaky_rate > 0 and self.rng.random() < product.flaky_rate

    # accounts and sessions ------------------------------------------------------------------

    def add_account(self, login: str, password: str) -> bool:
        if login in self.accounts:
            return False
        self.accounts[login] = password
        return True

    def check_login(self, login: str, password: str) -> bool:
        expected = self.accounts.get(login)
        return expected is not None and secrets.compare_digest(expected, password)

    def session(self, sid: str | None) -> Session:
        """The session of this cookie, or a new one (with a new id) when it is missing or unknown."""
        if sid and sid in self.sessions:
            session = self.sessions[sid]
        else:
            session = Session(sid=secrets.token_urlsafe(18))
            self.sessions[session.sid] = session
            while len(self.sessions) > MAX_SESSIONS:  # forget the oldest (insertion order)
                oldest = next(iter(self.sessions.values()))
                self._end_checkout(oldest)
                del self.sessions[oldest.sid]
        self._touch(session)
        return session

    def _touch(self, session: Session) -> None:
        checkout = session.checkout
        if checkout is None:
            return
        now = self.clock()
        if checkout.end(self.checkout_idle_seconds, now) is not None:
            self._end_checkout(session)  # abandoned: it ended at its last request
        else:
            checkout.last_seen = now

    def _end_checkout(self, session: Session, *, reference: str | None = None) -> None:
        checkout = session.checkout
        if checkout is None:
            return
        if reference is not None:
            checkout.reference = reference
        checkout.ended_at = checkout.end(self.checkout_idle_seconds, self.clock()) or self.clock()
        session.checkout = None

    # cart and orders ------------------------------------------------------------------------

    def add_to_cart(self, session: Session, product: Product, quantity: int) -> None:
        """Put ``quantity`` of ``product`` in the cart (one product per cart); raise ``Refusal``."""
        now = self.clock()
        if quantity < 1:
            raise Refusal(400, "Quantity must be at least 1")
        same = session.cart is not None and session.cart.slug == product.slug
        wanted = quantity + (session.cart.quantity if same and session.cart else 0)
        if product.max_per_order is not None and wanted > product.max_per_order:
            raise Refusal(400, f"Limit {product.max_per_order} per order")
        stock = product.visible_stock(now)
        if stock <= 0:
            raise Refusal(409, "Out of stock")
        if wanted > stock:
            raise Refusal(409, f"Only {stock} in stock")
        session.cart = CartLine(product.slug, wanted)
        if session.checkout is None:
            session.checkout = Checkout(session=session.public_id, started_at=now, last_seen=now)
            self.checkouts.append(session.checkout)

    def clear_cart(self, session: Session) -> None:
        session.cart = None
        self._end_checkout(session)

    def mark_sold_out_at_checkout(self, product: Product) -> None:
        """Someone else was faster: the stock is gone between cart and checkout."""
        if product.sold_out_at_checkout:
            product.stock = 0

    async def place_order(self, session: Session, form: CheckoutForm) -> Order:
        """Place the order of the session's cart, or raise ``Refusal`` (no order placed)."""
        line = session.cart
        product = self.product(line.slug) if line else None
        if line is None or product is None:
            raise Refusal(400, "Your cart is empty")
        reference = form.reference
        if product.fail_next > 0:
            product.fail_next -= 1
            self._end_checkout(session, reference=reference)
            raise Refusal(500, "Something went wrong on our side. No order was placed; please try again.")
        async with self.stock_lock:
            self.mark_sold_out_at_checkout(product)
            stock = product.visible_stock(self.clock())
            if stock < line.quantity:
                self._end_checkout(session, reference=reference)
                session.cart = None
                raise Refusal(409, "Sold out" if stock <= 0 else f"Sold out: only {stock} left")
            if product.max_per_order is not None and line.quantity > product.max_per_order:
                self._end_checkout(session, reference=reference)
                raise Refusal(400, f"Limit {product.max_per_order} per order")
            product.stock -= line.quantity
            order = Order(
                number=f"DS-{next(self._numbers)}",
                product=product.slug,
                product_name=product.name,
                quantity=line.quantity,
                unit_price=product.price,
                total=product.price * line.quantity,
                reference=reference,
                account=session.account,
                created_at=self.clock(),
            )
            self.orders.append(order)
        session.cart = None
        self._end_checkout(session, reference=reference)
        return order

    def needs_confirmation(self, product: Product, form: CheckoutForm) -> bool:
        return product.requires_confirmation and form.reference not in self.confirmed

    def confirm(self, reference: str) -> None:
        """Confirmed from outside, as a person answering an e-mail would."""
        self.confirmed.add(reference)

    def find_order(self, number: str) -> Order | None:
        return next((o for o in self.orders if o.number == number), None)

    @property
    def orders_api_down(self) -> bool:
        """The orders API is out of order (``ordersApiDown`` set on any product)."""
        return any(p.orders_api_down for p in self.products.values())

    def list_orders(self, reference: str | None = None) -> list[Order]:
        return [o for o in self.orders if reference is None or o.reference == reference]

    # statistics -----------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        now = self.clock()
        idle = self.checkout_idle_seconds
        spans = [(c.started_at, c.end(idle, now)) for c in self.checkouts]
        # sweep over start/end events; at equal times an end comes before a start (no overlap)
        events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans if end])
        running = peak = 0
        for _, delta in events:
            running += delta
            peak = max(peak, running)
        return {
            "maxConcurrentCheckouts": peak,
            "activeCheckouts": sum(1 for _, end in spans if end is None),
            "checkouts": [
                {
                    "session": c.session,
                    "reference": c.reference,
                    "startedAt": iso(c.started_at),
                    "endedAt": iso(c.end(idle, now)),
                }
                for c in self.checkouts
            ],
        }
