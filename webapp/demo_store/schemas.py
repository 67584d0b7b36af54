"""What the demo store accepts: product settings, new accounts, the checkout form.

``ProductUpdate`` is shared by the JSON ``PUT`` and the admin page's form, so both validate the
same way. Field names on the wire are camelCase (``restockAt``); unknown fields are refused.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class ProductUpdate(BaseModel):
    """Any subset of a product's settings; ``null`` clears ``restockAt`` and ``maxPerOrder``."""

    model_config = ConfigDict(extra="forbid")

    price: Decimal | None = Field(None, gt=0, max_digits=9, decimal_places=2)
    stock: int | None = Field(None, ge=0, le=1_000_000)
    restock_at: datetime | None = Field(None, alias="restockAt")
    fail_next: int | None = Field(None, alias="failNext", ge=0, le=1000)
    delay_ms: int | None = Field(None, alias="delayMs", ge=0, le=60_000)
    confirm_delay_ms: int | None = Field(None, alias="confirmDelayMs", ge=0, le=120_000)
    flaky_rate: float | None = Field(None, alias="flakyRate", ge=0, le=1)
    max_per_order: int | None = Field(None, alias="maxPerOrder", ge=1, le=1000)
    sold_out_at_checkout: bool | None = Field(None, alias="soldOutAtCheckout")
    requires_login: bool | None = Field(None, alias="requiresLogin")
    requires_confirmation: bool | None = Field(None, alias="requiresConfirmation")
    orders_api_down: bool | None = Field(None, alias="ordersApiDown")
    layout: Literal["v1", "v2"] | None = None

    @field_validator("restock_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        """A time without a zone is read as UTC; held in UTC (one with no UTC equivalent is refused)."""
        if value is None:
            return None
        try:
            return value.replace(tzinfo=value.tzinfo or UTC).astimezone(UTC)
        except OverflowError:
            raise ValueError("out of range: in UTC it must fall within the years 1 to 9999") from None

    @field_validator(
        "price",
        "stock",
        "fail_next",
        "delay_ms",
        "confirm_delay_ms",
        "flaky_rate",
        "sold_out_at_checkout",
        "requires_login",
        "requires_confirmation",
        "orders_api_down",
        "layout",
        mode="before",
    )
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        """Only ``restockAt`` and ``maxPerOrder`` can be cleared with null."""
        if value is None:
            raise ValueError("cannot be null")
        return value


class AccountCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    login: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._@+-]+$")
    password: str = Field(min_length=1, max_length=128)


class ConfirmationCreate(BaseModel):
    """``POST /api/confirmations``: the order with this reference is confirmed from outside."""

    model_config = ConfigDict(extra="forbid")

    reference: str = Field(min_length=1, max_length=200)


CHECKOUT_FIELDS = {
    "full_name": "Full name",
    "email": "Email",
    "address": "Address",
    "card_number": "Card number",
    "card_expiry": "Card expiry (MM/YY)",
    "card_cvc": "Card CVC",
}


class CheckoutForm(BaseModel):
    full_name: str
    email: str
    address: str
    card_number: str
    card_expiry: str
    card_cvc: str
    reference: str = ""

    @classmethod
    def parse(cls, data: dict[str, str]) -> CheckoutForm:
        """Read the posted form; raise ``ValueError`` naming the missing fields."""
        values = {name: data.get(name, "").strip() for name in (*CHECKOUT_FIELDS, "reference")}
        missing = [label for name, label in CHECKOUT_FIELDS.items() if not values[name]]
        if missing:
            raise ValueError("Please fill in: " + ", ".join(missing))
        values["reference"] = values["reference"][:200]
        return cls(**values)


def describe(error: ValidationError) -> str:
    """One readable line per problem, e.g. ``flakyRate: Input should be less than or equal to 1``."""
    lines = []
    for problem in error.errors():
        where = ".".join(str(_short(part)) for part in problem["loc"]) or "body"
        lines.append(f"{where}: {problem['msg']}")
    return "; ".join(lines)


def plain_errors(error: ValidationError) -> list[dict[str, Any]]:
    """Pydantic's errors without the input (never echoed back) or the exception in ``ctx``."""
    return [
        {"loc": [_short(part) for part in p["loc"]], "msg": p["msg"], "type": p["type"]}
        for p in error.errors()
    ]


def _short(part: Any) -> Any:
    return part if not isinstance(part, str) or len(part) <= 32 else f"{part[:31]}…"
