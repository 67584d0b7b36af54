"""The watch chart's option and price figures (``webapp/pages/watch_chart.py``), from rows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from models.watch_queries import ListingRow, Observation
from models.watch_tables import WatchListing
from webapp.pages.watch_chart import options, stats

T0 = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


def listing(product: str, max_price: str) -> ListingRow:
    row = WatchListing(watch_id=uuid.uuid4(), store="demo", product=product, max_price=Decimal(max_price))
    return ListingRow(row, "scheduled", None)


def seen(product: str, minutes: int, price: str | None, in_stock: bool) -> Observation:
    return Observation(
        "demo", product, T0 + timedelta(minutes=minutes), Decimal(price) if price else None, in_stock
    )


def test_a_stepped_line_per_listing_with_gaps_out_of_stock_and_the_max_price_line() -> None:
    history = [
        seen("a", 0, "100.00", False),
        seen("b", 0, "90.00", True),
        seen("a", 5, "100.00", True),
        seen("a", 9, "95.00", False),
    ]
    now = T0 + timedelta(minutes=10)
    chart = options([listing("a", "120"), listing("b", "80")], history, now=now)
    a, b = chart["series"]
    assert a["name"] == "demo · a" and a["step"] == "end" and a["connectNulls"] is False
    assert [p[1] for p in a["data"]] == [None, 100.0, None, None]  # out of stock: gaps; carried to now
    assert a["data"][-1][0] == int(now.timestamp() * 1000)
    assert [p[1] for p in b["data"]] == [90.0, 90.0]
    assert a["markLine"]["data"][0]["yAxis"] == 120.0 and b["markLine"]["data"][0]["yAxis"] == 80.0
    assert chart["xAxis"]["type"] == "time"


def test_lowest_typical_highest_count_in_stock_prices_only() -> None:
    history = [
        seen("a", 0, "100.00", True),
        seen("a", 1, "80.00", False),
        seen("a", 2, "120.00", True),
        seen("a", 3, "110.00", True),
    ]
    figures = stats(history)
    assert (figures.lowest, figures.typical, figures.highest) == (
        Decimal("100.00"),
        Decimal("110.00"),
        Decimal("120.00"),
    )
    assert stats([seen("a", 0, "80.00", False)]).lowest is None
