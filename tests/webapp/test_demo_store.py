"""The demo store as its customers and operators see it: JSON contract, pages, settings, stock.

Runs the store's router in a bare FastAPI app through httpx's ASGI transport (each test a fresh
store); the browser-level tests are in ``tests/workers/test_demo_bot.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import wait_for
from webapp.demo_store import DemoStore, create_demo_store

BASE = "http://shop.test"
FORM = {
    "full_name": "Ada Buyer",
    "email": "ada@example.com",
    "address": "1 Main St",
    "card_number": "4242424242424242",
    "card_expiry": "12/30",
    "card_cvc": "123",
}
Client = Callable[[], httpx.AsyncClient]


def make_app(store: DemoStore) -> FastAPI:
    app = FastAPI()
    app.include_router(create_demo_store(store), prefix="/demo-store")
    return app


@pytest.fixture
def store() -> DemoStore:
    return DemoStore()


@pytest.fixture
async def new_client(store: DemoStore) -> AsyncIterator[Client]:
    """A factory of clients, each its own browser session (cookie jar), on one store."""
    app = make_app(store)
    clients: list[httpx.AsyncClient] = []

    def new() -> httpx.AsyncClient:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"{BASE}/demo-store")
        clients.append(client)
        return client

    yield new
    for client in clients:
        await client.aclose()


@pytest.fixture
def client(new_client: Client) -> httpx.AsyncClient:
    return new_client()


def text_of(html: str, name: str) -> str:
    """The text of the element with ``data-testid=name`` (first one)."""
    match = re.search(rf'data-testid="{name}"[^>]*>(.*?)</', html, re.S)
    assert match, f"no {name} in page"
    return match.group(1).strip()


def attribute(html: str, name: str, attr: str) -> str:
    match = re.search(rf'<[^>]*data-testid="{name}"[^>]*>', html)
    assert match, f"no {name} in page"
    value = re.search(rf'{attr}="([^"]*)"', match.group(0))
    assert value, f"no {attr} on {name}"
    return value.group(1)


async def follow(client: httpx.AsyncClient, redirect: httpx.Response) -> httpx.Response:
    """GET where a redirect points (its location is a path from the server's root)."""
    return await client.get(BASE + redirect.headers["location"])


async def configure(client: httpx.AsyncClient, slug: str, **fields: Any) -> dict[str, Any]:
    response = await client.put(f"/api/products/{slug}", json=fields)
    assert response.status_code == 200, response.text
    return response.json()


async def add(client: httpx.AsyncClient, slug: str, quantity: int = 1) -> httpx.Response:
    return await client.post(f"/products/{slug}/add-to-cart", data={"quantity": str(quantity)})


async def buy(
    client: httpx.AsyncClient, slug: str, quantity: int = 1, reference: str = ""
) -> tuple[httpx.Response, httpx.Response]:
    """Add to cart and place the order; the add and the place-order responses."""
    added = await add(client, slug, quantity)
    placed = await client.post("/checkout", data=FORM | {"reference": reference})
    return added, placed


# JSON contract ------------------------------------------------------------------------------

CONFIG_FIELDS = {
    "price",
    "stock",
    "restockAt",
    "failNext",
    "delayMs",
    "confirmDelayMs",
    "flakyRate",
    "maxPerOrder",
    "soldOutAtCheckout",
    "requiresLogin",
    "requiresConfirmation",
    "ordersApiDown",
    "layout",
}


async def test_products_list_the_catalogue(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/products")
    assert response.status_code == 200
    products = response.json()
    assert 4 <= len(products) <= 6
    assert all({"slug", "name", *CONFIG_FIELDS} <= set(p) for p in products)
    sneaker = next(p for p in products if p["slug"] == "sneaker-drop")
    assert sneaker["name"] == "Aurora Sneaker Drop"
    assert sneaker["price"] == 120.0 and isinstance(sneaker["price"], float)
    assert sneaker["stock"] == 25
    assert sneaker["url"] == f"{BASE}/demo-store/products/sneaker-drop"
    gpu = (await client.get("/api/products/gpu-founders")).json()
    assert (gpu["price"], gpu["stock"], gpu["layout"], gpu["restockAt"]) == (699.0, 5, "v1", None)


async def test_unknown_product_is_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/products/nope")).status_code == 404
    assert (await client.put("/api/products/nope", json={"stock": 1})).status_code == 404
    assert (await client.get("/products/nope")).status_code == 404


async def test_put_changes_settings_and_returns_the_product(client: httpx.AsyncClient) -> None:
    changed = await configure(
        client,
        "vinyl-box",
        price="95.50",
        stock=3,
        failNext=2,
        delayMs=0,
        flakyRate=0,
        maxPerOrder=2,
        soldOutAtCheckout=False,
        requiresLogin=True,
        layout="v2",
    )
    assert changed["price"] == 95.5 and changed["stock"] == 3 and changed["failNext"] == 2
    assert (changed["maxPerOrder"], changed["requiresLogin"], changed["layout"]) == (2, True, "v2")
    assert (await configure(client, "vinyl-box", maxPerOrder=None))["maxPerOrder"] is None
    assert (await client.get("/api/products/vinyl-box")).json()["price"] == 95.5


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        ({"price": -1}, "price"),
        ({"price": "abc"}, "price"),
        ({"price": 1.234}, "price"),
        ({"price": None}, "price"),
        ({"stock": -1}, "stock"),
        ({"stock": 1.5}, "stock"),
        ({"failNext": -1}, "failNext"),
        ({"delayMs": -5}, "delayMs"),
        ({"flakyRate": 1.5}, "flakyRate"),
        ({"maxPerOrder": 0}, "maxPerOrder"),
        ({"restockAt": "tomorrow-ish"}, "restockAt"),
        ({"restockAt": "9999-12-31T23:59:59-14:00"}, "restockAt"),  # no UTC equivalent
        ({"layout": "v3"}, "layout"),
        ({"layout": "ECHO-ME" * 100}, "layout"),
        ({"soldOutAtCheckout": "maybe"}, "soldOutAtCheckout"),
        ({"colour": "red"}, "colour"),
        ({"restock_at": None}, "restock_at"),
    ],
)
async def test_bad_settings_are_422_with_a_clear_message(
    client: httpx.AsyncClient, body: dict[str, Any], mentions: str
) -> None:
    before = (await client.get("/api/products/gpu-founders")).json()
    response = await client.put("/api/products/gpu-founders", json=body)
    assert response.status_code == 422
    assert mentions in response.json()["message"]
    assert "ECHO-ME" not in response.text and "input" not in response.json()["detail"][0]
    assert (await client.get("/api/products/gpu-founders")).json() == before


async def test_a_body_that_is_not_an_object_is_422(client: httpx.AsyncClient) -> None:
    json_type = {"Content-Type": "application/json"}
    response = await client.put("/api/products/gpu-founders", content=b"[1, 2]", headers=json_type)
    assert response.status_code == 422
    response = await client.put("/api/products/gpu-founders", content=b"{not json", headers=json_type)
    assert response.status_code == 422
    response = await client.put("/api/products/gpu-founders", content=b'{"stock": "\xff"}', headers=json_type)
    assert response.status_code == 422


@pytest.mark.parametrize("body", [b'{"stock": 1e400}', b'{"stock": Infinity}', b'{"flakyRate": NaN}'])
async def test_numbers_json_cannot_carry_are_422(client: httpx.AsyncClient, body: bytes) -> None:
    response = await client.put(
        "/api/products/gpu-founders", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("PUT", "/api/products/gpu-founders", b'{"stock": 0}'), ("POST", "/api/reset", b""),
     ("POST", "/api/accounts", b'{"login": "eve", "password": "x"}')],
)  # fmt: skip
@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
async def test_write_routes_take_json_only(
    client: httpx.AsyncClient, method: str, path: str, body: bytes, content_type: str | None
) -> None:
    """What a form or a no-cors fetch from another site could send is refused: 415, nothing changes."""
    before = (await client.get("/api/products/gpu-founders")).json()
    headers = {"Content-Type": content_type} if content_type else {}
    response = await client.request(method, path, content=body, headers=headers)
    assert response.status_code == 415
    assert "application/json" in response.json()["detail"]
    assert (await client.get("/api/products/gpu-founders")).json() == before
    account = await client.post("/api/accounts", json={"login": "eve", "password": "x"})
    assert account.status_code == 201  # it was not added by the refused request


async def test_orders_are_listed_and_filtered_by_reference(new_client: Client) -> None:
    first, second = new_client(), new_client()
    _, placed = await buy(first, "sneaker-drop", 2, reference="task-1")
    assert placed.status_code == 303
    await buy(second, "vinyl-box", 1, reference="task-2")
    orders = (await first.get("/api/orders")).json()
    assert [o["orderNumber"] for o in orders] == ["DS-100001", "DS-100002"]
    mine = (await first.get("/api/orders", params={"reference": "task-1"})).json()
    assert len(mine) == 1
    order = mine[0]
    assert {
        "orderNumber",
        "product",
        "quantity",
        "total",
        "reference",
        "unitPrice",
        "createdAt",
        "account",
    } <= set(order)
    assert (order["product"], order["quantity"], order["unitPrice"], order["total"]) == (
        "sneaker-drop",
        2,
        120,
        240,
    )
    assert order["account"] is None
    assert datetime.fromisoformat(order["createdAt"]).tzinfo is not None
    assert (await first.get("/api/orders", params={"reference": "nobody"})).json() == []


async def test_reset_restores_the_catalogue_and_forgets_orders(client: httpx.AsyncClient) -> None:
    await configure(client, "gpu-founders", price=1, stock=0, layout="v2")
    await buy(client, "sneaker-drop")
    assert (await client.post("/api/reset", json={})).status_code == 200
    gpu = (await client.get("/api/products/gpu-founders")).json()
    assert (gpu["price"], gpu["stock"], gpu["layout"]) == (699.0, 5, "v1")
    assert (await client.get("/api/orders")).json() == []
    stats = (await client.get("/api/stats")).json()
    assert stats == {"maxConcurrentCheckouts": 0, "activeCheckouts": 0, "checkouts": []}
    assert (await client.get("/cart")).status_code == 200  # the old session cookie just starts a new one


async def test_accounts_can_be_added_and_used(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/accounts", json={"login": "ada", "password": "s3cret"})
    assert response.status_code == 201
    assert (await client.post("/api/accounts", json={"login": "ada", "password": "x"})).status_code == 409
    assert (await client.post("/api/accounts", json={"login": "", "password": "x"})).status_code == 422
    assert (await client.post("/api/accounts", json={"login": "bob"})).status_code == 422
    login = await client.post(
        "/login", data={"login": "ada", "password": "s3cret", "next": "/demo-store/cart"}
    )
    assert (login.status_code, login.headers["location"]) == (303, "/demo-store/cart")


# the pages ----------------------------------------------------------------------------------


async def test_catalogue_links_products_and_sets_the_session_cookie(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert "demo_sid" in response.cookies
    for slug in ("sneaker-drop", "gpu-founders", "console-limited", "vinyl-box", "collector-figure"):
        assert f'href="/demo-store/products/{slug}"' in response.text
    assert 'href="/demo-store/admin"' in response.text


async def test_product_page_shows_name_price_stock_image(client: httpx.AsyncClient) -> None:
    page = (await client.get("/products/sneaker-drop")).text
    assert text_of(page, "product-name") == "Aurora Sneaker Drop"
    assert attribute(page, "price", "data-price") == "120.00"
    assert attribute(page, "stock", "data-stock") == "25"
    assert text_of(page, "stock") == "In stock: 25"
    assert 'id="add-to-cart"' in page and ">Add to cart<" in page and 'name="quantity"' in page
    image = await client.get(attribute(page, "product-image", "src").removeprefix("/demo-store"))
    assert image.status_code == 200
    assert image.headers["content-type"].startswith("image/svg+xml")
    assert image.text.startswith("<svg")


async def test_full_purchase_flow_confirms_the_order(client: httpx.AsyncClient) -> None:
    added = await add(client, "gpu-founders", 2)
    assert (added.status_code, added.headers["location"]) == (303, "/demo-store/cart")
    cart = (await client.get("/cart")).text
    assert 'id="checkout"' in cart and 'href="/demo-store/checkout"' in cart
    checkout = (await client.get("/checkout")).text
    for name in (*FORM, "reference"):
        assert f'name="{name}"' in checkout
    assert 'id="place-order"' in checkout and ">Place order<" in checkout
    placed = await client.post("/checkout", data=FORM | {"reference": "t-42"})
    assert (placed.status_code, placed.headers["location"]) == (303, "/demo-store/orders/DS-100001")
    confirmation = (await follow(client, placed)).text
    assert text_of(confirmation, "order-number") == "DS-100001"
    assert attribute(confirmation, "order-total", "data-value") == "1398.00"
    assert attribute(confirmation, "order-quantity", "data-value") == "2"
    assert attribute(confirmation, "unit-price", "data-value") == "699.00"
    assert (await client.get("/api/products/gpu-founders")).json()["stock"] == 3
    assert "cart-empty" in (await client.get("/cart")).text


async def test_missing_checkout_field_is_400_and_no_order(client: httpx.AsyncClient) -> None:
    await add(client, "sneaker-drop")
    response = await client.post("/checkout", data=FORM | {"email": "", "card_cvc": ""})
    assert response.status_code == 400
    assert text_of(response.text, "error") == "Please fill in: Email, Card CVC"
    assert (await client.get("/api/orders")).json() == []


async def test_checkout_with_an_empty_cart_goes_back_to_the_cart(client: httpx.AsyncClient) -> None:
    response = await client.get("/checkout")
    assert (response.status_code, response.headers["location"]) == (303, "/demo-store/cart")


# each setting's effect ----------------------------------------------------------------------


async def test_out_of_stock_shows_and_refuses(client: httpx.AsyncClient) -> None:
    await configure(client, "gpu-founders", stock=0)
    page = (await client.get("/products/gpu-founders")).text
    assert (text_of(page, "stock"), attribute(page, "stock", "data-stock")) == ("Out of stock", "0")
    response = await add(client, "gpu-founders")
    assert response.status_code == 409
    assert text_of(response.text, "error") == "Out of stock"


async def test_restock_time_hides_stock_until_it_passes(client: httpx.AsyncClient) -> None:
    soon = datetime.now(UTC) + timedelta(hours=1)
    product = await configure(client, "gpu-founders", restockAt=soon.isoformat(), stock=7)
    assert (product["stock"], product["onHand"]) == (0, 7)
    page = (await client.get("/products/gpu-founders")).text
    assert text_of(page, "stock").startswith("Back in stock at ")
    assert attribute(page, "stock", "data-restock-at") == product["restockAt"]
    assert (await add(client, "gpu-founders")).status_code == 409

    past = datetime.now(UTC) - timedelta(seconds=1)
    assert (await configure(client, "gpu-founders", restockAt=past.isoformat()))["stock"] == 7
    assert text_of((await client.get("/products/gpu-founders")).text, "stock") == "In stock: 7"
    naive = (datetime.now(UTC) + timedelta(hours=1)).replace(tzinfo=None).isoformat()
    assert (await configure(client, "gpu-founders", restockAt=naive))["restockAt"].endswith("Z")
    assert (await configure(client, "gpu-founders", restockAt=None))["stock"] == 7


async def test_fail_next_answers_500_without_an_order(client: httpx.AsyncClient) -> None:
    await configure(client, "sneaker-drop", failNext=2)
    for _ in range(2):
        _, placed = await buy(client, "sneaker-drop")
        assert placed.status_code == 500
    assert (await client.get("/api/orders")).json() == []
    assert (await client.get("/api/products/sneaker-drop")).json()["failNext"] == 0
    _, placed = await buy(client, "sneaker-drop")
    assert placed.status_code == 303


async def test_delay_slows_this_products_pages(client: httpx.AsyncClient) -> None:
    await configure(client, "vinyl-box", delayMs=150)
    started = time.monotonic()
    await client.get("/products/sneaker-drop")
    assert time.monotonic() - started < 0.15
    started = time.monotonic()
    assert (await client.get("/products/vinyl-box")).status_code == 200
    assert (await add(client, "vinyl-box")).status_code == 303
    assert (await client.get("/checkout")).status_code == 200
    assert (await client.post("/checkout", data=FORM)).status_code == 303
    assert time.monotonic() - started >= 4 * 0.15


async def test_confirm_delay_makes_the_order_at_once_and_answers_later(client: httpx.AsyncClient) -> None:
    await configure(client, "vinyl-box", confirmDelayMs=60_000)
    await add(client, "vinyl-box")
    placing = asyncio.create_task(client.post("/checkout", data=FORM | {"reference": "r-1"}))

    async def listed() -> list[Any] | None:
        return (await client.get("/api/orders", params={"reference": "r-1"})).json() or None  # type: ignore[no-any-return]

    [order] = await wait_for(listed, timeout=10, interval=0.01, what="the order to be listed")
    assert not placing.done()  # the order exists; its confirmation has not answered yet
    placing.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await placing
    assert order["product"] == "vinyl-box"
    assert (await configure(client, "vinyl-box", confirmDelayMs=0))["confirmDelayMs"] == 0
    _, placed = await buy(client, "vinyl-box")
    assert placed.status_code == 303


async def test_orders_api_down_answers_503_until_cleared(client: httpx.AsyncClient) -> None:
    _, placed = await buy(client, "sneaker-drop", reference="r-2")
    assert placed.status_code == 303
    assert (await configure(client, "gpu-founders", ordersApiDown=True))["ordersApiDown"] is True
    down = await client.get("/api/orders", params={"reference": "r-2"})
    assert down.status_code == 503 and "down" in down.json()["detail"]
    assert (await client.get("/api/products/sneaker-drop")).status_code == 200  # the rest still works
    await configure(client, "gpu-founders", ordersApiDown=False)
    assert len((await client.get("/api/orders", params={"reference": "r-2"})).json()) == 1
    await configure(client, "gpu-founders", ordersApiDown=True)
    await client.post("/api/reset", json={})
    assert (await client.get("/api/orders")).status_code == 200


async def test_flaky_rate_answers_503_on_this_products_pages(client: httpx.AsyncClient) -> None:
    await configure(client, "vinyl-box", flakyRate=1)
    response = await client.get("/products/vinyl-box")
    assert (response.status_code, response.headers["retry-after"]) == (503, "1")
    assert (await add(client, "vinyl-box")).status_code == 503
    assert (await client.get("/products/sneaker-drop")).status_code == 200
    await configure(client, "vinyl-box", flakyRate=0.5)
    statuses = {(await client.get("/products/vinyl-box")).status_code for _ in range(40)}
    assert statuses == {200, 503}
    await configure(client, "vinyl-box", flakyRate=0)
    assert (await add(client, "vinyl-box")).status_code == 303
    await configure(client, "vinyl-box", flakyRate=1)  # the cart holds it: checkout pages fail too
    assert (await client.get("/checkout")).status_code == 503
    assert (await client.post("/checkout", data=FORM)).status_code == 503
    assert (await client.get("/api/orders")).json() == []


async def test_max_per_order_limits_the_quantity(client: httpx.AsyncClient) -> None:
    await configure(client, "console-limited", maxPerOrder=2)
    page = (await client.get("/products/console-limited")).text
    assert attribute(page, "limit", "data-max-per-order") == "2"
    response = await add(client, "console-limited", 3)
    assert response.status_code == 400
    assert text_of(response.text, "error") == "Limit 2 per order"
    assert text_of(response.text, "product-name") == "Pulse Console Limited"
    assert (await add(client, "console-limited", 2)).status_code == 303
    assert (await add(client, "console-limited", 1)).status_code == 400  # the cart counts too


async def test_sold_out_at_checkout_answers_409_and_stock_drops(client: httpx.AsyncClient) -> None:
    await configure(client, "collector-figure", soldOutAtCheckout=True)
    added, placed = await buy(client, "collector-figure")
    assert added.status_code == 303
    assert placed.status_code == 409
    assert text_of(placed.text, "error") == "Sold out"
    assert (await client.get("/api/orders")).json() == []
    assert (await client.get("/api/products/collector-figure")).json()["stock"] == 0


async def test_requires_login_sends_checkout_to_login(client: httpx.AsyncClient) -> None:
    await configure(client, "gpu-founders", requiresLogin=True)
    await add(client, "gpu-founders")
    response = await client.get("/checkout")
    assert (response.status_code, response.headers["location"]) == (
        303,
        "/demo-store/login?next=/demo-store/checkout",
    )
    assert (await client.post("/checkout", data=FORM)).status_code == 303
    login_page = (await client.get("/login", params={"next": "/demo-store/checkout"})).text
    assert 'name="login"' in login_page and 'name="password"' in login_page and 'id="login"' in login_page
    wrong = await client.post(
        "/login", data={"login": "demo", "password": "nope", "next": "/demo-store/checkout"}
    )
    assert wrong.status_code == 401
    assert text_of(wrong.text, "error") == "Invalid login"
    right = await client.post(
        "/login", data={"login": "demo", "password": "demo-pass", "next": "/demo-store/checkout"}
    )
    assert (right.status_code, right.headers["location"]) == (303, "/demo-store/checkout")
    assert (await client.get("/checkout")).status_code == 200
    assert (await client.post("/checkout", data=FORM)).status_code == 303
    assert (await client.get("/api/orders")).json()[0]["account"] == "demo"


async def test_requires_confirmation_asks_confirm_its_you_before_the_order(client: httpx.AsyncClient) -> None:
    await configure(client, "gpu-founders", requiresConfirmation=True)
    _added, placed = await buy(client, "gpu-founders", reference="task-1")
    assert (placed.status_code, placed.headers["location"]) == (303, "/demo-store/confirm")
    page = (await follow(client, placed)).text
    assert "<h1>Confirm it's you</h1>" in page and 'id="confirm-me"' in page and 'id="confirm-order"' in page
    assert (await client.get("/api/orders")).json() == []  # nothing placed yet
    unticked = await client.post("/confirm", data={})
    assert unticked.status_code == 400 and "Tick the box to confirm it" in unticked.text
    assert (await client.get("/api/orders")).json() == []
    ticked = await client.post("/confirm", data={"confirm": "yes"})
    assert ticked.status_code == 303 and ticked.headers["location"].startswith("/demo-store/orders/DS-")
    [order] = (await client.get("/api/orders")).json()
    assert order["reference"] == "task-1"
    assert (await client.post("/confirm", data={"confirm": "yes"})).status_code == 303  # to the cart
    assert len((await client.get("/api/orders")).json()) == 1  # never twice


async def test_a_confirmation_from_outside_lets_the_order_through(client: httpx.AsyncClient) -> None:
    await configure(client, "gpu-founders", requiresConfirmation=True)
    _added, placed = await buy(client, "gpu-founders", reference="task-2")
    assert placed.headers["location"] == "/demo-store/confirm"
    for bad in ({}, {"reference": ""}, {"reference": "x", "extra": 1}):
        assert (await client.post("/api/confirmations", json=bad)).status_code == 422
    confirmed = await client.post("/api/confirmations", json={"reference": "task-2"})
    assert confirmed.status_code == 201 and confirmed.json() == {"reference": "task-2", "confirmed": True}
    assert (await client.post("/confirm", data={})).status_code == 303  # no tick needed any more
    assert [o["reference"] for o in (await client.get("/api/orders")).json()] == ["task-2"]
    _added, again = await buy(client, "gpu-founders", reference="task-2")  # confirmed: straight through
    assert again.headers["location"].startswith("/demo-store/orders/")


async def test_login_never_redirects_off_the_store(client: httpx.AsyncClient) -> None:
    for target in ("https://evil.example/", "//evil.example/demo-store/", "/elsewhere"):
        response = await client.post(
            "/login", data={"login": "demo", "password": "demo-pass", "next": target}
        )
        assert response.headers["location"] == "/demo-store/"


async def test_layout_v2_renames_the_buttons(client: httpx.AsyncClient) -> None:
    await configure(client, "sneaker-drop", layout="v2")
    page = (await client.get("/products/sneaker-drop")).text
    assert 'id="bag-add"' in page and ">Put in bag<" in page
    assert 'id="add-to-cart"' not in page and "Add to cart" not in page
    await add(client, "sneaker-drop")
    cart = (await client.get("/cart")).text
    assert 'id="to-payment"' in cart and "Go to payment" in cart and 'id="checkout"' not in cart
    checkout = (await client.get("/checkout")).text
    assert 'id="complete-purchase"' in checkout and "Complete purchase" in checkout
    assert 'id="place-order"' not in checkout


# stock and concurrency ----------------------------------------------------------------------


async def test_twenty_concurrent_checkouts_never_oversell(store: DemoStore, new_client: Client) -> None:
    admin = new_client()
    await configure(admin, "gpu-founders", stock=5, delayMs=20)
    clients = [new_client() for _ in range(20)]
    await asyncio.gather(*(add(c, "gpu-founders") for c in clients))
    results = await asyncio.gather(
        *(c.post("/checkout", data=FORM | {"reference": f"r{i}"}) for i, c in enumerate(clients))
    )
    statuses = sorted(r.status_code for r in results)
    assert statuses == [303] * 5 + [409] * 15
    assert len((await admin.get("/api/orders")).json()) == 5
    product = (await admin.get("/api/products/gpu-founders")).json()
    assert (product["stock"], product["onHand"]) == (0, 0)
    stats = (await admin.get("/api/stats")).json()
    assert stats["maxConcurrentCheckouts"] == 20
    assert stats["activeCheckouts"] == 0


async def test_stats_count_overlapping_checkouts(new_client: Client) -> None:
    one, two, admin = new_client(), new_client(), new_client()
    await buy(one, "sneaker-drop", reference="a")
    await buy(two, "sneaker-drop", reference="b")
    stats = (await admin.get("/api/stats")).json()
    assert (stats["maxConcurrentCheckouts"], stats["activeCheckouts"]) == (1, 0)
    assert [c["reference"] for c in stats["checkouts"]] == ["a", "b"]
    assert all(c["startedAt"] <= c["endedAt"] for c in stats["checkouts"])
    assert stats["checkouts"][0]["session"] != stats["checkouts"][1]["session"]

    await add(one, "vinyl-box")
    await add(two, "vinyl-box")
    stats = (await admin.get("/api/stats")).json()
    assert (stats["maxConcurrentCheckouts"], stats["activeCheckouts"]) == (2, 2)
    await one.post("/checkout", data=FORM)
    await two.post("/cart/clear")  # abandoned
    stats = (await admin.get("/api/stats")).json()
    assert (stats["maxConcurrentCheckouts"], stats["activeCheckouts"]) == (2, 0)


async def test_a_failed_checkout_ends_it(new_client: Client) -> None:
    one, admin = new_client(), new_client()
    await configure(admin, "sneaker-drop", failNext=1)
    await buy(one, "sneaker-drop", reference="x")
    stats = (await admin.get("/api/stats")).json()
    assert stats["activeCheckouts"] == 0
    assert stats["checkouts"][0]["reference"] == "x"


async def test_an_idle_checkout_ends_at_its_last_request() -> None:
    store = DemoStore(checkout_idle_seconds=0.2)
    transport = httpx.ASGITransport(app=make_app(store))
    async with (
        httpx.AsyncClient(transport=transport, base_url=f"{BASE}/demo-store") as shopper,
        httpx.AsyncClient(transport=transport, base_url=f"{BASE}/demo-store") as admin,
    ):
        await add(shopper, "sneaker-drop")
        await shopper.get("/cart")
        assert (await admin.get("/api/stats")).json()["activeCheckouts"] == 1
        await asyncio.sleep(0.3)
        stats = (await admin.get("/api/stats")).json()
        assert stats["activeCheckouts"] == 0
        ended = datetime.fromisoformat(stats["checkouts"][0]["endedAt"])
        assert datetime.now(UTC) - ended >= timedelta(seconds=0.25)
        await add(shopper, "sneaker-drop")  # the same session starts a new one
        stats = (await admin.get("/api/stats")).json()
        assert (len(stats["checkouts"]), stats["activeCheckouts"], stats["maxConcurrentCheckouts"]) == (
            2,
            1,
            1,
        )


# the admin page -----------------------------------------------------------------------------


async def test_admin_page_lists_products_and_orders(client: httpx.AsyncClient) -> None:
    await buy(client, "sneaker-drop", reference="ref-7")
    page = (await client.get("/admin")).text
    assert page.count('data-testid="admin-product"') == 5
    assert 'action="/demo-store/admin/products/gpu-founders"' in page
    assert "ref-7" in page and "DS-100001" in page
    assert 'action="/demo-store/admin/reset"' in page


async def test_admin_form_changes_a_product(client: httpx.AsyncClient) -> None:
    form = {
        "price": "650.00",
        "stock": "2",
        "restockAt": "",
        "failNext": "1",
        "delayMs": "0",
        "flakyRate": "0",
        "maxPerOrder": "1",
        "requiresLogin": "true",
        "layout": "v2",
    }
    response = await client.post("/admin/products/gpu-founders", data=form)
    assert (response.status_code, response.headers["location"]) == (
        303,
        "/demo-store/admin?saved=gpu-founders",
    )
    gpu = (await client.get("/api/products/gpu-founders")).json()
    assert (gpu["price"], gpu["stock"], gpu["failNext"], gpu["maxPerOrder"]) == (650, 2, 1, 1)
    assert (gpu["requiresLogin"], gpu["soldOutAtCheckout"], gpu["layout"]) == (True, False, "v2")
    assert text_of((await follow(client, response)).text, "note") == "Saved gpu-founders"

    bad = await client.post("/admin/products/gpu-founders", data=form | {"flakyRate": "7"})
    assert bad.status_code == 422
    assert "flakyRate" in text_of(bad.text, "error")
    assert (await client.get("/api/products/gpu-founders")).json()["flakyRate"] == 0

    later = "2031-01-02T03:04:05"
    await client.post("/admin/products/gpu-founders", data=form | {"restockAt": later})
    assert (await client.get("/api/products/gpu-founders")).json()["restockAt"] == later + "Z"


async def test_admin_reset_button_resets(client: httpx.AsyncClient) -> None:
    await configure(client, "gpu-founders", stock=0)
    response = await client.post("/admin/reset")
    assert (response.status_code, response.headers["location"]) == (303, "/demo-store/admin")
    assert (await client.get("/api/products/gpu-founders")).json()["stock"] == 5
