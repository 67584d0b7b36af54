"""The shop a customer (or a bot) clicks through: catalogue → product → cart → checkout → order.

Every page identifies its browser session by the ``demo_sid`` cookie, set on the first visit.
A product's ``delayMs`` and ``flakyRate`` apply to its product page, add to cart, and the
checkout page and submit while the cart holds it; its ``confirmDelayMs`` holds the answer to a
placed order (the order exists at once; the confirmation comes that much later).
"""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from webapp.demo_store import templates
from webapp.demo_store.schemas import CheckoutForm, ProductUpdate, describe
from webapp.demo_store.state import DemoStore, Product, Refusal

COOKIE = "demo_sid"
HOME = "demo_store_home"  # route names, unique within the hosting app
PRODUCT = "demo_store_product"
IMAGE = "demo_store_image"
CHECKBOXES = ("soldOutAtCheckout", "requiresLogin", "requiresConfirmation", "ordersApiDown")


def base_path(request: Request) -> str:
    """Where the store is mounted, e.g. ``/demo-store``."""
    return request.url_for(HOME).path.rstrip("/")


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form body as a dict of first values (no multipart needed here)."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return {key: values[0] for key, values in parse_qs(body, keep_blank_values=True).items()}


class Visit:
    """One request of a browser session: its base path, session, and response helpers."""

    def __init__(self, request: Request, store: DemoStore) -> None:
        self.store = store
        self.base = base_path(request)
        sid = request.cookies.get(COOKIE)
        self.session = store.session(sid)
        self._new_cookie = self.session.sid != sid

    def _finish(self, response: Response) -> Response:
        if self._new_cookie:
            response.set_cookie(
                COOKIE, self.session.sid, path=self.base or "/", httponly=True, samesite="lax"
            )
        return response

    def html(self, title: str, body: str, status: int = 200) -> Response:
        cart = self.session.cart
        page = templates.layout(
            self.base, title, body, cart_count=cart.quantity if cart else 0, account=self.session.account
        )
        return self._finish(HTMLResponse(page, status_code=status))

    def redirect(self, path: str) -> Response:
        return self._finish(RedirectResponse(self.base + path, status_code=303))

    def not_found(self, what: str) -> Response:
        return self.html("Not found", templates.message_page("Not found", f"No such {what}"), 404)

    def busy(self) -> Response:
        page = templates.message_page("Service unavailable", "The store is busy right now; please try again.")
        response = self.html("Service unavailable", page, 503)
        response.headers["Retry-After"] = "1"
        return response

    def cart_product(self) -> Product | None:
        line = self.session.cart
        return self.store.product(line.slug) if line else None

    def login_redirect(self) -> Response:
        return self.redirect("/login?next=" + quote(self.base + "/checkout", safe="/"))


def pages_router(store: DemoStore) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/", name=HOME)
    async def catalogue(request: Request) -> Response:
        visit = Visit(request, store)
        body = templates.catalogue(visit.base, list(store.products.values()), store.clock())
        return visit.html("Catalogue", body)

    @router.get("/images/{slug}.svg", name=IMAGE)
    async def image(slug: str) -> Response:
        product = store.product(slug)
        if product is None:
            return Response("not found", status_code=404, media_type="text/plain")
        return Response(templates.product_svg(product), media_type="image/svg+xml")

    @router.get("/products/{slug}", name=PRODUCT)
    async def product_page(request: Request, slug: str) -> Response:
        visit = Visit(request, store)
        product = store.product(slug)
        if product is None:
            return visit.not_found("product")
        if await store.misbehave(product):
            return visit.busy()
        return visit.html(product.name, templates.product_page(visit.base, product, store.clock()))

    @router.post("/products/{slug}/add-to-cart")
    async def add_to_cart(request: Request, slug: str) -> Response:
        visit = Visit(request, store)
        product = store.product(slug)
        if product is None:
            return visit.not_found("product")
        form = await read_form(request)
        if await store.misbehave(product):
            return visit.busy()
        try:
            quantity = int(form.get("quantity", "1") or "1")
            store.add_to_cart(visit.session, product, quantity)
        except ValueError:
            error, status = "Quantity must be a whole number", 400
        except Refusal as refusal:
            error, status = refusal.message, refusal.status
        else:
            return visit.redirect("/cart")
        page = templates.product_page(visit.base, product, store.clock(), error=error)
        return visit.html(product.name, page, status)

    @router.get("/cart")
    async def cart(request: Request) -> Response:
        visit = Visit(request, store)
        line = visit.session.cart
        body = templates.cart_page(visit.base, visit.cart_product(), line.quantity if line else 0)
        return visit.html("Cart", body)

    @router.post("/cart/clear")
    async def clear_cart(request: Request) -> Response:
        visit = Visit(request, store)
        store.clear_cart(visit.session)
        return visit.redirect("/cart")

    @router.get("/checkout")
    async def checkout(request: Request) -> Response:
        visit = Visit(request, store)
        product, line = visit.cart_product(), visit.session.cart
        if product is None or line is None:
            return visit.redirect("/cart")
        if await store.misbehave(product):
            return visit.busy()
        if product.requires_login and not visit.session.account:
            return visit.login_redirect()
        return visit.html("Checkout", templates.checkout_page(visit.base, product, line.quantity, {}))

    @router.post("/checkout")
    async def place_order(request: Request) -> Response:
        visit = Visit(request, store)
        product, line = visit.cart_product(), visit.session.cart
        if product is None or line is None:
            return visit.redirect("/cart")
        values = await read_form(request)
        if await store.misbehave(product):
            return visit.busy()
        if product.requires_login and not visit.session.account:
            return visit.login_redirect()
        try:
            form = CheckoutForm.parse(values)
        except ValueError as problem:  # a missing field: show the form again
            body = templates.checkout_page(visit.base, product, line.quantity, values, error=str(problem))
            return visit.html("Checkout", body, 400)
        if store.needs_confirmation(product, form):  # "Confirm it's you" first; no order yet
            visit.session.pending = form
            return visit.redirect("/confirm")
        return await ordered(visit, product, line.quantity, form, values)

    async def ordered(
        visit: Visit, product: Product, quantity: int, form: CheckoutForm, values: dict[str, str]
    ) -> Response:
        """Place the order of the session's cart: its page, or the refusal."""
        visit.session.pending = None
        try:
            order = await store.place_order(visit.session, form)
        except Refusal as refusal:
            if refusal.status == 400 and visit.session.cart:
                body = templates.checkout_page(visit.base, product, quantity, values, error=refusal.message)
            else:
                title = "Sold out" if refusal.status == 409 else "Order not placed"
                body = templates.message_page(title, refusal.message)
            return visit.html("Checkout", body, refusal.status)
        if product.confirm_delay_ms:
            await asyncio.sleep(product.confirm_delay_ms / 1000)
        return visit.redirect(f"/orders/{order.number}")

    @router.get("/confirm")
    async def confirm_page(request: Request) -> Response:
        visit = Visit(request, store)
        product, line = visit.cart_product(), visit.session.cart
        if product is None or line is None or visit.session.pending is None:
            return visit.redirect("/cart")
        return visit.html("Confirm it's you", templates.confirm_page(visit.base, product, line.quantity))

    @router.post("/confirm")
    async def confirm(request: Request) -> Response:
        """Ticked (or confirmed from outside by reference): the waiting order is placed."""
        visit = Visit(request, store)
        product, line, form = visit.cart_product(), visit.session.cart, visit.session.pending
        if product is None or line is None or form is None:
            return visit.redirect("/cart")
        ticked = (await read_form(request)).get("confirm") == "yes"
        if not ticked and store.needs_confirmation(product, form):
            body = templates.confirm_page(
                visit.base, product, line.quantity, error="Tick the box to confirm it's you"
            )
            return visit.html("Confirm it's you", body, 400)
        return await ordered(visit, product, line.quantity, form, {})

    @router.get("/orders/{number}")
    async def order_page(request: Request, number: str) -> Response:
        visit = Visit(request, store)
        order = store.find_order(number)
        if order is None:
            return visit.not_found("order")
        return visit.html(f"Order {order.number}", templates.order_page(visit.base, order))

    @router.get("/login")
    async def login_form(request: Request, next: str = "") -> Response:
        visit = Visit(request, store)
        return visit.html("Log in", templates.login_page(visit.base, next))

    @router.post("/login")
    async def login(request: Request) -> Response:
        visit = Visit(request, store)
        form = await read_form(request)
        name, target = form.get("login", "").strip(), form.get("next", "")
        if not store.check_login(name, form.get("password", "")):
            body = templates.login_page(visit.base, target, error="Invalid login", login=name)
            return visit.html("Log in", body, 401)
        visit.session.account = name
        if not target.startswith(visit.base + "/") or target.startswith("//"):
            target = visit.base + "/"
        return visit.redirect(target.removeprefix(visit.base))

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        visit = Visit(request, store)
        visit.session.account = None
        return visit.redirect("/")

    def admin(
        visit: Visit, *, error: str | None = None, note: str | None = None, status: int = 200
    ) -> Response:
        body = templates.admin_page(
            visit.base,
            list(store.products.values()),
            store.orders,
            sorted(store.accounts),
            error=error,
            note=note,
        )
        return visit.html("Admin", body, status)

    @router.get("/admin")
    async def admin_page(request: Request, saved: str = "") -> Response:
        visit = Visit(request, store)
        return admin(visit, note=f"Saved {saved}" if saved in store.products else None)

    @router.post("/admin/products/{slug}")
    async def admin_update(request: Request, slug: str) -> Response:
        visit = Visit(request, store)
        product = store.product(slug)
        if product is None:
            return visit.not_found("product")
        form: dict[str, object] = dict(await read_form(request))
        for name in ("restockAt", "maxPerOrder"):
            if form.get(name) == "":
                form[name] = None
        for name in CHECKBOXES:
            form[name] = form.get(name, "") in ("true", "on", "1")
        try:
            update = ProductUpdate.model_validate(form)
        except ValidationError as problem:
            return admin(visit, error=f"{slug}: {describe(problem)}", status=422)
        store.update_product(product, update)
        return visit.redirect(f"/admin?saved={quote(slug)}")

    @router.post("/admin/reset")
    async def admin_reset(request: Request) -> Response:
        store.reset()
        visit = Visit(request, store)  # after the reset: a fresh session
        return visit.redirect("/admin")

    return router
