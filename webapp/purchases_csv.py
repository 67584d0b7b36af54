"""Purchases as CSV (``GET /api/purchases.csv`` and the purchases page's download button).

One header row, then one row a purchase, newest first. Cells a spreadsheet would read as a formula
(text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return — a product name or an
order number comes from a store's page) get a leading ``'``, as OWASP advises against CSV
injection; numbers are written by us and left alone.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator, Iterable
from decimal import Decimal

from models.tables import Purchase

HEADER = (
    "createdAt",
    "orderNumber",
    "store",
    "product",
    "productName",
    "quantity",
    "unitPrice",
    "total",
    "currency",
    "taskId",
    "taskName",
    "owner",
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FILENAME = "purchases.csv"


def safe_cell(value: object) -> str:
    """The cell's text, with a ``'`` before text a spreadsheet would run as a formula."""
    if value is None:
        return ""
    if isinstance(value, int | Decimal):
        return str(value)
    text = str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def purchase_cells(p: Purchase, task_name: str | None, owners: dict[uuid.UUID, str]) -> list[str]:
    values: Iterable[object] = (
        p.created_at.isoformat().replace("+00:00", "Z"),
        p.order_number,
        p.store,
        p.product,
        p.product_name,
        p.quantity,
        p.unit_price,
        p.total,
        p.currency,
        p.task_id if task_name is not None else None,
        task_name,
        owners.get(p.owner_id) if p.owner_id else None,
    )
    return [safe_cell(v) for v in values]


async def csv_text(rows: AsyncIterator[tuple[Purchase, str | None]], owners: dict[uuid.UUID, str]) -> str:
    """The whole CSV document (``\\r\\n`` line ends, as RFC 4180 says)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    async for purchase, task_name in rows:
        writer.writerow(purchase_cells(purchase, task_name, owners))
    return out.getvalue()
