"""``/api/purchases`` and ``/api/purchases.csv``: filters (store, days in a time zone), the owner
rule (a user sees their own, an admin everyone's with the owner), and a CSV that a spreadsheet
cannot be made to run (cells starting with = + - @ get a leading ')."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from models.tables import Purchase
from tests.conftest import AuthUser
from tests.webapp.test_api import Api, api, api_app

__all__ = ["api", "api_app"]


async def bought(api: Api, owner: AuthUser, **fields: Any) -> None:
    values: dict[str, Any] = {
        "store": "demo",
        "product": "vinyl-box",
        "quantity": 1,
        "unit_price": Decimal("10.00"),
        "total": Decimal("10.00"),
        "currency": "USD",
        "order_number": "DS-1",
        "created_at": datetime(2026, 11, 20, 12, tzinfo=UTC),
        **fields,
    }
    async with api.db.begin() as session:
        session.add(Purchase(owner_id=owner.id, **values))


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


async def test_filters_by_store_and_days_in_a_time_zone(api: Api, api_user: AuthUser) -> None:
    await bought(api, api_user, order_number="A", created_at=datetime(2026, 11, 20, 3, tzinfo=UTC))
    await bought(api, api_user, order_number="B", created_at=datetime(2026, 11, 21, 12, tzinfo=UTC))
    await bought(
        api, api_user, order_number="C", store="noop", created_at=datetime(2026, 11, 22, 12, tzinfo=UTC)
    )

    async def orders(url: str, **params: str) -> list[str]:
        response = await api.http.get(url, params=params)
        assert response.status_code == 200, response.text
        if url.endswith(".csv"):
            return [r["orderNumber"] for r in rows(response.text)]
        return [p["orderNumber"] for p in response.json()["data"]]

    for url in ("/api/purchases", "/api/purchases.csv"):
        assert await orders(url) == ["C", "B", "A"]  # newest first
        assert await orders(url, store="demo") == ["B", "A"]
        assert await orders(url, **{"from": "2026-11-21"}) == ["C", "B"]
        assert await orders(url, to="2026-11-21") == ["B", "A"]
        assert await orders(url, **{"from": "2026-11-21", "to": "2026-11-21"}) == ["B"]
        # 03:00 UTC on the 20th is still the 19th in New York
        assert await orders(url, to="2026-11-19", tz="America/New_York") == ["A"]
        assert await orders(url, **{"from": "2026-11-20"}, to="2026-11-20", tz="America/New_York") == []

    bad = await api.http.get("/api/purchases.csv", params={"tz": "Mars/Olympus"})
    assert bad.status_code == 422 and bad.json()["detail"] == "tz: unknown time zone 'Mars/Olympus'"
    backwards = await api.http.get("/api/purchases", params={"from": "2026-11-21", "to": "2026-11-20"})
    assert backwards.status_code == 422 and backwards.json()["errors"][0]["field"] == "to"
    not_a_day = await api.http.get("/api/purchases.csv", params={"from": "yesterday"})
    assert not_a_day.status_code == 422
    assert not_a_day.headers["content-type"].startswith("application/problem+json")


async def test_csv_is_a_download_with_every_column_and_no_formulas(api: Api, api_user: AuthUser) -> None:
    task = await api.create(name="=cmd|' /C calc'!A0")
    await api.complete(task["id"])
    await bought(
        api,
        api_user,
        order_number="+1-555-0100",
        product="@SUM(A1:A9)",
        product_name="-2+3",
        quantity=2,
        unit_price=Decimal("12.50"),
        total=Decimal("25.00"),
        currency="EUR",
    )
    response = await api.http.get("/api/purchases.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == 'attachment; filename="purchases.csv"'
    recovered, formulas = rows(response.text)
    assert recovered["taskId"] == task["id"] and recovered["taskName"] == "'=cmd|' /C calc'!A0"
    assert recovered["orderNumber"] == f"DS-{task['id'][:6]}" and recovered["owner"] == api_user.email
    assert (formulas["orderNumber"], formulas["product"], formulas["productName"]) == (
        "'+1-555-0100",
        "'@SUM(A1:A9)",
        "'-2+3",
    )
    assert (formulas["quantity"], formulas["unitPrice"], formulas["total"], formulas["currency"]) == (
        "2",
        "12.50",
        "25.00",
        "EUR",
    )
    assert formulas["createdAt"] == "2026-11-20T12:00:00Z" and formulas["taskId"] == ""
    for row in (recovered, formulas):
        assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row.values())


async def test_csv_is_the_callers_own_and_an_admins_has_everyones(
    api: Api, api_user: AuthUser, second_user: AuthUser, admin_user: AuthUser
) -> None:
    await bought(api, api_user, order_number="OF-A")
    await bought(api, second_user, order_number="OF-B", created_at=datetime(2026, 11, 21, tzinfo=UTC))

    async def export(user: AuthUser, **params: str) -> list[tuple[str, str]]:
        response = await api.http.get("/api/purchases.csv", params=params, headers=user.headers)
        assert response.status_code == 200, response.text
        return [(r["orderNumber"], r["owner"]) for r in rows(response.text)]

    assert await export(api_user) == [("OF-A", api_user.email)]
    assert await export(second_user) == [("OF-B", second_user.email)]
    assert await export(admin_user) == [("OF-B", second_user.email), ("OF-A", api_user.email)]
    assert await export(admin_user, owner=str(api_user.id)) == [("OF-A", api_user.email)]
    assert await export(second_user, owner=str(api_user.id)) == []  # not an admin: still only B's
    stranger = await api.http.get("/api/purchases.csv", headers={"Authorization": "Bearer nope"})
    assert stranger.status_code == 401
