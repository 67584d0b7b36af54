"""API shapes of watches (camelCase on the wire): ``WatchCreate`` → the rows → ``WatchPublic``."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any, Self

from pydantic import ConfigDict, Field, model_validator

from models.schemas import Camel, Money, PurchaseFields, UtcTime

MAX_LISTINGS = 10


class ListingCreate(Camel):
    store: str = Field(min_length=1, max_length=64)
    product: str = Field(min_length=1, max_length=500, description="product slug or product URL")
    max_price: Money = Field(ge=0, le=Decimal("9999999999"), decimal_places=2)

    @model_validator(mode="after")
    def _trimmed(self) -> Self:
        self.store, self.product = self.store.strip(), self.product.strip()
        if not self.product:
            raise ValueError("product must not be blank")
        return self


class WatchCreate(Camel):
    """A product watched at several stores; the first listing in stock at or under its
    ``maxPrice`` buys ``quantity``, once."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Nova GPU anywhere under 700",
                    "quantity": 1,
                    "profileId": None,
                    "checkEvery": 30,
                    "until": "2026-12-24T18:00:00Z",
                    "listings": [
                        {"store": "demo", "product": "gpu-founders", "maxPrice": 700},
                        {"store": "demo", "product": "console-limited", "maxPrice": 520},
                    ],
                }
            ]
        }
    )

    name: str = Field(min_length=1, max_length=200)
    quantity: int = Field(1, ge=1, le=1000)
    profile_id: uuid.UUID | None = None
    check_every: float = Field(60, ge=0.5, le=86_400, description="seconds between checks of each listing")
    until: UtcTime | None = None
    listings: list[ListingCreate] = Field(min_length=1, max_length=MAX_LISTINGS)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        self.name = self.name.strip()
        if not self.name:
            raise ValueError("name must not be blank")
        _no_twins(self.listings)
        return self


def _no_twins(listings: list[ListingCreate]) -> None:
    seen = set()
    for listing in listings:
        key = (listing.store, listing.product)
        if key in seen:
            raise ValueError(f"listing {listing.store}/{listing.product} is given twice")
        seen.add(key)


class WatchUpdate(Camel):
    """Change a watch while it is watching: its name, how often and until when it checks, and its
    listings — ``listings``, the whole new set (a new store/product is added and starts checking,
    a missing one is removed and stops, a kept one takes its new ``maxPrice``), or ``maxPrices``
    (listing id → price) to change prices only."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"name": "GPU under 650", "checkEvery": 20},
                {"listings": [{"store": "demo", "product": "gpu-founders", "maxPrice": 650}]},
            ]
        }
    )

    name: str | None = Field(None, min_length=1, max_length=200)
    check_every: float | None = Field(None, ge=0.5, le=86_400)
    until: UtcTime | None = None
    max_prices: dict[uuid.UUID, Money] | None = None
    listings: list[ListingCreate] | None = Field(None, min_length=1, max_length=MAX_LISTINGS)

    @model_validator(mode="after")
    def _something(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("give at least one field to change")
        for name in ("name", "check_every", "max_prices", "listings"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        if self.max_prices is not None and self.listings is not None:
            raise ValueError("give listings (with their maxPrice) or maxPrices, not both")
        if self.name is not None:
            self.name = self.name.strip()
            if not self.name:
                raise ValueError("name must not be blank")
        for price in (self.max_prices or {}).values():
            if price < 0 or price > Decimal("9999999999"):
                raise ValueError("maxPrices: each price must be between 0 and 9999999999")
        _no_twins(self.listings or [])
        return self


class ListingPublic(Camel):
    id: uuid.UUID
    store: str
    product: str
    max_price: Money
    task_id: uuid.UUID | None
    task_status: str | None = None
    last_price: Money | None
    in_stock: bool | None
    changed_at: datetime | None
    last_check_at: datetime | None = None


class WatchPurchase(PurchaseFields):
    """The watch's one purchase."""


class WatchPublic(Camel):
    id: uuid.UUID
    name: str
    quantity: int
    profile_id: uuid.UUID | None
    check_every: float
    until: datetime | None
    status: str = Field(description="watching, buying, bought, unknown, expired or cancelled")
    error: str | None
    best_price: Money | None = Field(None, description="lowest current price among listings in stock")
    last_change: datetime | None = None
    owner_id: uuid.UUID | None = None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class WatchDetail(WatchPublic):
    listings: list[ListingPublic]
    purchase: WatchPurchase | None


class WatchList(Camel):
    data: list[WatchPublic]
    count: int


class ObservationPublic(Camel):
    store: str
    product: str
    at: datetime
    price: Money | None
    in_stock: bool


class WatchHistory(Camel):
    data: list[ObservationPublic]


def public_fields(watch: Any) -> dict[str, Any]:
    """The watch row's own fields, as ``WatchPublic`` takes them."""
    names = WatchPublic.model_fields.keys() - {"best_price", "last_change"}
    return {name: getattr(watch, name) for name in names}
