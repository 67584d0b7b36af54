"""What a store bot receives and returns.

A bot is an async function ``run(ctx: BotContext) -> Purchase`` registered under a store name
(see ``registry.py``). It drives ``ctx.page`` and reports through the context; it says what
should happen next by returning (bought) or raising one of ``workers.errors``. A bot that places
orders also registers ``lookup_order(ctx) -> Purchase | None``: the order the store holds under the
task's reference (``ctx.task.id``), asked after an attempt that passed its place-order checkpoint
ended without a confirmation (see ``workers/recovery.py``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from models.secrets import DEMO_PROFILE, CheckoutProfile, StoreAccount

if TYPE_CHECKING:
    from playwright.async_api import Page

__all__ = [
    "DEMO_PROFILE",
    "BotContext",
    "BotTask",
    "CheckoutProfile",
    "ProductInfo",
    "Purchase",
    "StoreAccount",
]


@dataclass(frozen=True, kw_only=True)
class BotTask:
    """The task as a bot sees it."""

    id: str  # also the client reference sent with the order
    name: str
    store: str
    product: str  # slug or product URL
    quantity: int
    max_price: Decimal | None
    mode: str  # "once" | "monitor"
    attempt: int
    # a listing of a watch (``models/watch_claims.py``): a price above ``max_price`` is waited
    # out (not available yet) instead of failing, and the first checkpoint claims the watch
    watch: bool = False


@dataclass(frozen=True, kw_only=True)
class Purchase:
    """What a successful bot returns: the store's confirmation."""

    order_number: str
    quantity: int
    unit_price: Decimal
    total: Decimal
    currency: str = "USD"
    product_name: str | None = None


@dataclass(frozen=True, kw_only=True)
class ProductInfo:
    """What ``lookup(product)`` finds, for the creation wizard's preview."""

    name: str
    price: Decimal | None
    available: bool
    image_url: str | None = None
    canonical_url: str | None = None


async def _nothing(*_: Any) -> None:
    return None


async def _no_person(reason: str, timeout: float | None = None) -> None:
    from workers.errors import PermanentError

    raise PermanentError(f"needs a person, and none can be asked here: {reason}")


@asynccontextmanager
async def _unguarded() -> AsyncIterator[None]:
    yield


@dataclass(frozen=True, kw_only=True)
class BotContext:
    task: BotTask
    page: Page | None  # None for bots registered with needs_browser=False
    store_url: str  # base URL of the store (demo store: .../demo-store)
    progress: Callable[[str, int], Awaitable[None]] = _nothing  # (step, percent)
    log: Callable[[str], Awaitable[None]] = _nothing
    checkpoint: Callable[[str], Awaitable[None]] = _nothing  # committed before returning
    screenshot: Callable[[str], Awaitable[None]] = _nothing  # (label)
    checkpoints: frozenset[str] = frozenset()  # names recorded by earlier attempts of this task
    profile: CheckoutProfile = DEMO_PROFILE
    account: StoreAccount | None = None
    settings: dict[str, Any] = field(default_factory=dict)  # the store's own settings
    timeout_ms: float = 15_000  # bound for every single browser wait
    # ``async with ctx.secret_input():`` around typing a card, CVC or password and submitting it:
    # nothing inside is traced and no screenshot is taken; see workers.tracing.PageGuard
    secret_input: Callable[[], AbstractAsyncContextManager[None]] = _unguarded
    # ``await ctx.needs_attention(reason, timeout=…)``: the task waits in ``action_needed`` for a
    # person (watching live, taking over); returns when they hand back — see workers.handoff
    needs_attention: Callable[..., Awaitable[None]] = _no_person
    # ``await ctx.in_stock(observation)``: the product is there to buy (a monitor's owner hears
    # ``monitor.in_stock`` once per transition — see models/stock.py); a no-op for "once" tasks
    in_stock: Callable[..., Awaitable[None]] = _nothing
    # ``await ctx.observe(price, in_stock)``: what a check saw (a watch keeps its price history)
    observe: Callable[[Decimal | None, bool], Awaitable[None]] = _nothing
