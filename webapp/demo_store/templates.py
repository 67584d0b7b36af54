"""Server-rendered HTML of the demo store: plain strings, every value through ``html.escape``.

Selectors bots and tests rely on are ``data-testid`` attributes and the button ids in
``BUTTONS``; layout ``v2`` renames the buttons and changes their ids (a store redesign).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from html import escape
from typing import NamedTuple

from webapp.demo_store.schemas import CHECKOUT_FIELDS
from webapp.demo_store.state import Order, Product, iso

SECRET_FIELDS = frozenset({"card_number", "card_cvc"})


class Button(NamedTuple):
    id: str
    label: str


BUTTONS: dict[str, dict[str, Button]] = {
    "v1": {
        "add": Button("add-to-cart", "Add to cart"),
        "checkout": Button("checkout", "Checkout"),
        "place": Button("place-order", "Place order"),
    },
    "v2": {
        "add": Button("bag-add", "Put in bag"),
        "checkout": Button("to-payment", "Go to payment"),
        "place": Button("complete-purchase", "Complete purchase"),
    },
}

CSS = """
*{box-sizing:border-box}body{margin:0;font:15px/1.5 system-ui,sans-serif;background:#f6f7fb;color:#1d2030}
header{background:#1d2030;color:#fff;padding:.8rem 1.5rem;display:flex;gap:1.2rem;align-items:center}
header a{color:#fff;text-decoration:none}header .brand{font-weight:700;font-size:1.15rem;margin-right:auto}
main{max-width:960px;margin:1.5rem auto;padding:0 1rem}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:1rem}
.card{background:#fff;border-radius:10px;padding:1rem;box-shadow:0 1px 3px #0002}
.card a{color:inherit;text-decoration:none}.card img{width:100%;border-radius:8px}
.product{display:grid;grid-template-columns:minmax(0,320px) 1fr;gap:1.5rem}
.price{font-size:1.4rem;font-weight:700}.muted{color:#667}
.badge{display:inline-block;padding:.1rem .55rem;border-radius:99px;font-size:.85rem;
  background:#d3f9d8;color:#2b8a3e}
.badge.out{background:#ffe3e3;color:#c92a2a}.badge.soon{background:#fff3bf;color:#8a6d00}
.error{background:#ffe3e3;color:#c92a2a;padding:.6rem .9rem;border-radius:8px;margin:.8rem 0}
.note{background:#d3f9d8;color:#2b8a3e;padding:.6rem .9rem;border-radius:8px;margin:.8rem 0}
button,.button{background:#6d5dfc;color:#fff;border:0;border-radius:8px;padding:.55rem 1.1rem;
  font:inherit;cursor:pointer;text-decoration:none;display:inline-block}
button[disabled]{background:#aab;cursor:not-allowed}button.secondary{background:#889}
label{display:block;margin:.5rem 0 .15rem;font-weight:600;font-size:.9rem}
input,select{font:inherit;padding:.4rem .5rem;border:1px solid #ccd;border-radius:6px;width:100%}
input[type=checkbox]{width:auto}form.inline{display:inline}
table{width:100%;border-collapse:collapse;background:#fff}th,td{padding:.45rem;border-bottom:1px solid #eef;
  text-align:left;vertical-align:top}.admin input{width:7.5rem}.admin input[type=checkbox]{width:auto}
.admin label{display:inline-block;margin-right:.8rem;font-weight:400}.admin select{width:auto}
"""


def money(amount: Decimal) -> str:
    return f"${amount:,.2f}"


def layout(base: str, title: str, body: str, *, cart_count: int = 0, account: str | None = None) -> str:
    who = (
        f'<form class="inline" method="post" action="{base}/logout">{escape(account)} '
        f'<button class="secondary" data-testid="logout">Log out</button></form>'
        if account
        else f'<a href="{base}/login" data-testid="login-link">Log in</a>'
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>{escape(title)} · Demo Store</title><style>{CSS}</style></head>
<body><header><a class="brand" href="{base}/">Demo Store</a>
<a href="{base}/cart" data-testid="cart-link">Cart ({cart_count})</a>{who}
<a href="{base}/admin">Admin</a></header>
<main>{body}</main></body></html>"""


def error_box(message: str | None) -> str:
    return f'<div class="error" data-testid="error" role="alert">{escape(message)}</div>' if message else ""


def stock_badge(product: Product, now: datetime) -> str:
    stock = product.visible_stock(now)
    restock = iso(product.restock_at) if product.waiting_for_restock(now) else None
    if restock:
        text, css = f"Back in stock at {restock}", "badge soon"
    elif stock > 0:
        text, css = f"In stock: {stock}", "badge"
    else:
        text, css = "Out of stock", "badge out"
    extra = f' data-restock-at="{escape(restock)}"' if restock else ""
    return f'<span class="{css}" data-testid="stock" data-stock="{stock}"{extra}>{escape(text)}</span>'


def catalogue(base: str, products: list[Product], now: datetime) -> str:
    cards = "".join(
        f"""<div class="card" data-testid="product-card" data-slug="{escape(p.slug)}">
<a href="{base}/products/{escape(p.slug)}"><img src="{base}/images/{escape(p.slug)}.svg" alt="">
<h3>{escape(p.name)}</h3></a><div class="price">{money(p.price)}</div>{stock_badge(p, now)}</div>"""
        for p in products
    )
    return f'<h1>Limited drops</h1><div class="grid">{cards}</div>'


def product_page(base: str, product: Product, now: datetime, *, error: str | None = None) -> str:
    button = BUTTONS[product.layout]["add"]
    stock = product.visible_stock(now)
    slug = escape(product.slug)
    limit = (
        f'<p class="muted" data-testid="limit" data-max-per-order="{product.max_per_order}">'
        f"Limit {product.max_per_order} per order</p>"
        if product.max_per_order
        else ""
    )
    login = '<p class="muted" data-testid="requires-login">Members only: log in to buy.</p>'
    disabled = "" if stock > 0 else " disabled"
    return f"""<div class="product">
<img data-testid="product-image" src="{base}/images/{slug}.svg" alt="{escape(product.name)}" width="320">
<div><h1 data-testid="product-name">{escape(product.name)}</h1>
<p class="muted">{escape(product.description)}</p>
<p class="price" data-testid="price" data-price="{product.price:.2f}" data-currency="USD">
{money(product.price)}</p>
<p>{stock_badge(product, now)}</p>{limit}{login if product.requires_login else ""}{error_box(error)}
<form method="post" action="{base}/products/{slug}/add-to-cart">
<label for="quantity">Quantity</label>
<input id="quantity" name="quantity" type="number" min="1" value="1" style="width:6rem"
 {f'max="{product.max_per_order}"' if product.max_per_order else ""}>
<p><button id="{button.id}" type="submit"{disabled}>{button.label}</button></p></form></div></div>"""


def cart_page(base: str, product: Product | None, quantity: int) -> str:
    if product is None:
        empty = f'<p data-testid="cart-empty">Your cart is empty. <a href="{base}/">Shop</a></p>'
        return f"<h1>Your cart</h1>{empty}"
    button = BUTTONS[product.layout]["checkout"]
    total = product.price * quantity
    return f"""<h1>Your cart</h1>
<table><tr><th>Product</th><th>Quantity</th><th>Unit price</th><th>Total</th></tr>
<tr data-testid="cart-line" data-slug="{escape(product.slug)}"><td>{escape(product.name)}</td>
<td data-testid="cart-quantity">{quantity}</td><td>{money(product.price)}</td>
<td data-testid="cart-total" data-value="{total:.2f}">{money(total)}</td></tr></table>
<p><a class="button" id="{button.id}" href="{base}/checkout">{button.label}</a>
<form class="inline" method="post" action="{base}/cart/clear"><button class="secondary" id="empty-cart">
Empty cart</button></form></p>"""


def checkout_page(
    base: str, product: Product, quantity: int, values: dict[str, str], *, error: str | None = None
) -> str:
    button = BUTTONS[product.layout]["place"]
    values = {k: v for k, v in values.items() if k not in SECRET_FIELDS}  # never echo card data
    fields = "".join(
        f'<label for="{name}">{escape(label)}</label>'
        f'<input id="{name}" name="{name}" value="{escape(values.get(name, ""))}">'
        for name, label in (*CHECKOUT_FIELDS.items(), ("reference", "Your reference (optional)"))
    )
    total = product.price * quantity
    return f"""<h1>Checkout</h1>{error_box(error)}
<p data-testid="checkout-summary">{quantity} × {escape(product.name)} — <strong>{money(total)}</strong></p>
<form method="post" action="{base}/checkout" style="max-width:28rem">{fields}
<p><button id="{button.id}" type="submit">{button.label}</button></p></form>"""


def confirm_page(base: str, product: Product, quantity: int, *, error: str | None = None) -> str:
    """ "Confirm it's you": a checkbox and a button, before the order is placed."""
    return f"""<h1>Confirm it's you</h1>{error_box(error)}
<p data-testid="confirm-summary">{quantity} × {escape(product.name)} — <strong>
{money(product.price * quantity)}</strong></p>
<form method="post" action="{base}/confirm" style="max-width:28rem" data-testid="confirm-form">
<p><label style="display:flex;gap:.6rem;align-items:center;font-size:1.2rem">
<input id="confirm-me" name="confirm" type="checkbox" value="yes"
 style="width:1.6rem;height:1.6rem;margin:0"> It's me: place this order</label></p>
<p><button id="confirm-order" type="submit">Confirm and place order</button></p></form>"""


def login_page(base: str, next_url: str, *, error: str | None = None, login: str = "") -> str:
    return f"""<h1>Log in</h1>{error_box(error)}
<form method="post" action="{base}/login" style="max-width:22rem">
<input type="hidden" name="next" value="{escape(next_url)}">
<label for="login-name">Login</label>
<input id="login-name" name="login" value="{escape(login)}" autocomplete="username">
<label for="password">Password</label><input id="password" name="password" type="password">
<p><button id="login" type="submit">Log in</button></p></form>"""


def order_page(base: str, order: Order) -> str:
    return f"""<h1>Thank you!</h1><div class="note">Your order is confirmed.</div>
<table><tr><th>Order</th><td data-testid="order-number">{escape(order.number)}</td></tr>
<tr><th>Product</th><td data-testid="order-product" data-slug="{escape(order.product)}">
{escape(order.product_name)}</td></tr>
<tr><th>Quantity</th><td data-testid="order-quantity" data-value="{order.quantity}">{order.quantity}</td></tr>
<tr><th>Unit price</th><td data-testid="unit-price" data-value="{order.unit_price:.2f}">
{money(order.unit_price)}</td></tr>
<tr><th>Total</th><td data-testid="order-total" data-value="{order.total:.2f}">{money(order.total)}</td></tr>
<tr><th>Reference</th><td data-testid="order-reference">{escape(order.reference)}</td></tr></table>
<p><a href="{base}/">Continue shopping</a></p>"""


def message_page(title: str, message: str) -> str:
    return f"<h1>{escape(title)}</h1>{error_box(message)}"


def _admin_row(base: str, p: Product) -> str:
    slug = escape(p.slug)
    restock = p.restock_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") if p.restock_at else ""

    def num(name: str, value: object, step: str = "1") -> str:
        shown = "" if value is None else escape(str(value))
        return f'<input name="{name}" type="number" step="{step}" value="{shown}" aria-label="{name}">'

    def check(name: str, on: bool) -> str:
        checked = " checked" if on else ""
        return f'<input name="{name}" type="checkbox" value="true" aria-label="{name}"{checked}>'

    layouts = "".join(
        f'<option value="{v}"{" selected" if p.layout == v else ""}>{v}</option>' for v in BUTTONS
    )
    return f"""<tr data-testid="admin-product" data-slug="{slug}">
<td><a href="{base}/products/{slug}">{escape(p.name)}</a><br><span class="muted">{slug}</span></td>
<td colspan="6"><form method="post" action="{base}/admin/products/{slug}" id="admin-{slug}">
<label>Price {num("price", f"{p.price:.2f}", "0.01")}</label> <label>Stock {num("stock", p.stock)}</label>
<label>Restock at (UTC) <input name="restockAt" type="datetime-local" step="1" value="{restock}"
 style="width:auto" aria-label="restockAt"></label>
<label>Fail next {num("failNext", p.fail_next)}</label> <label>Delay ms {num("delayMs", p.delay_ms)}</label>
<label>Confirm delay ms {num("confirmDelayMs", p.confirm_delay_ms)}</label>
<label>Flaky rate {num("flakyRate", p.flaky_rate, "0.01")}</label>
<label>Max per order {num("maxPerOrder", p.max_per_order)}</label>
<label>{check("soldOutAtCheckout", p.sold_out_at_checkout)} Sold out at checkout</label>
<label>{check("requiresLogin", p.requires_login)} Requires login</label>
<label>{check("requiresConfirmation", p.requires_confirmation)} Requires confirmation</label>
<label>{check("ordersApiDown", p.orders_api_down)} Orders API down</label>
<label>Layout <select name="layout" aria-label="layout">{layouts}</select></label>
<p><button type="submit" data-testid="admin-save">Save</button></p></form></td></tr>"""


def _order_row(base: str, o: Order) -> str:
    number = escape(o.number)
    return (
        f'<tr data-testid="admin-order"><td><a href="{base}/orders/{number}">{number}</a></td>'
        f"<td>{escape(o.product)}</td><td>{o.quantity}</td><td>{money(o.total)}</td>"
        f"<td>{escape(o.reference)}</td><td>{escape(o.account or '')}</td><td>{iso(o.created_at)}</td></tr>"
    )


def admin_page(
    base: str,
    products: list[Product],
    orders: list[Order],
    accounts: list[str],
    *,
    error: str | None = None,
    note: str | None = None,
) -> str:
    rows = "".join(_admin_row(base, p) for p in products)
    order_rows = "".join(_order_row(base, o) for o in reversed(orders))
    order_rows = order_rows or '<tr><td colspan="7" class="muted">No orders yet.</td></tr>'
    notice = f'<div class="note" data-testid="note">{escape(note)}</div>' if note else ""
    return f"""<h1>Store admin</h1>{error_box(error)}{notice}
<form method="post" action="{base}/admin/reset"><button id="reset" class="secondary">
Reset the store</button> <span class="muted">restores the catalogue; empties orders, sessions and stats</span>
</form><h2>Products</h2><table class="admin">{rows}</table>
<h2>Orders</h2><table><tr><th>Order</th><th>Product</th><th>Qty</th><th>Total</th><th>Reference</th>
<th>Account</th><th>Placed (UTC)</th></tr>{order_rows}</table>
<h2>Accounts</h2><p data-testid="accounts">{escape(", ".join(accounts))}</p>"""


def product_svg(product: Product) -> str:
    initials = "".join(word[0] for word in product.name.split()[:2]).upper()
    return f"""<svg xmlns="http://www.w3.org/2000/svg" width="320" height="240" viewBox="0 0 320 240">
<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="{product.color}"/>
<stop offset="1" stop-color="#1d2030"/></linearGradient></defs>
<rect width="320" height="240" rx="16" fill="url(#g)"/>
<circle cx="160" cy="105" r="58" fill="#ffffff22" stroke="#ffffff88" stroke-width="3"/>
<text x="160" y="124" font-family="system-ui,sans-serif" font-size="52" font-weight="700" fill="#fff"
 text-anchor="middle">{escape(initials)}</text>
<text x="160" y="205" font-family="system-ui,sans-serif" font-size="17" fill="#fff"
 text-anchor="middle">{escape(product.name)}</text></svg>"""
