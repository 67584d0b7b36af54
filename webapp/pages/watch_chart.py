"""A watch's price history as an ECharts option: one stepped line per listing, broken (``null``)
while the listing is out of stock, with its maximum price as a dashed line; and the lowest,
typical (median) and highest in-stock prices seen. Pure functions: the watch page draws them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from statistics import median
from typing import Any

from models.watch_queries import ListingRow, Observation

PALETTE = ("#3b5bdb", "#e8590c", "#2f9e44", "#ae3ec9", "#1098ad", "#f08c00", "#c2255c", "#5c940d")


@dataclass(frozen=True)
class PriceStats:
    lowest: Decimal | None
    typical: Decimal | None
    highest: Decimal | None


def label(listing: Any) -> str:
    return f"{listing.store} · {listing.product}"


def stats(history: Sequence[Observation]) -> PriceStats:
    """Lowest, typical (the median) and highest price among in-stock observations."""
    prices = sorted(o.price for o in history if o.in_stock and o.price is not None)
    if not prices:
        return PriceStats(None, None, None)
    return PriceStats(prices[0], Decimal(str(median(prices))).quantize(Decimal("0.01")), prices[-1])


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def options(
    listings: Sequence[ListingRow], history: Sequence[Observation], *, now: datetime
) -> dict[str, Any]:
    """The chart: x = time, y = price. A point per observation (null while out of stock) and a
    last point at ``now`` carrying the current state on, so a line reaches the present."""
    series = []
    for index, row in enumerate(listings):
        listing = row.listing
        color = PALETTE[index % len(PALETTE)]
        points: list[list[Any]] = []
        last: Any = None
        for o in history:
            if (o.store, o.product) != (listing.store, listing.product):
                continue
            last = float(o.price) if o.in_stock and o.price is not None else None
            points.append([_ms(o.at), last])
        if points:
            points.append([_ms(now), last])
        series.append(
            {
                "name": label(listing),
                "type": "line",
                "step": "end",
                "connectNulls": False,
                "showSymbol": False,
                "data": points,
                "itemStyle": {"color": color},
                "markLine": {
                    "symbol": "none",
                    "silent": True,
                    "lineStyle": {"type": "dashed", "color": color},
                    "label": {"formatter": f"max {float(listing.max_price):.2f}"},
                    "data": [{"yAxis": float(listing.max_price), "name": "max price"}],
                },
            }
        )
    return {
        "backgroundColor": "transparent",  # the card's, light or dark (appearance.chart)
        "animation": False,
        "tooltip": {"trigger": "axis"},
        "legend": {"data": [s["name"] for s in series], "top": 0, "left": 0},
        "grid": {"left": 56, "right": 24, "top": 36, "bottom": 28},
        "xAxis": {"type": "time"},
        "yAxis": {"type": "value", "scale": True, "name": "price"},
        "series": series,
    }
