"""The demo store's JSON API, for tests, the demo and tools (not for the bot's purchase path).

Errors are answered here as JSON (``{"detail": ...}``) rather than raised, so they look the same
whatever exception handlers the hosting app installs (NiceGUI renders its own 404 page).

Routes that change the store take ``Content-Type: application/json`` only (415 otherwise, a body
or not): a browser cannot send that cross-site without asking first, so no other site's page
can reset the store or change its products behind a visitor's back.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from webapp.demo_store.pages import IMAGE, PRODUCT
from webapp.demo_store.schemas import (
    AccountCreate,
    ConfirmationCreate,
    ProductUpdate,
    describe,
    plain_errors,
)
from webapp.demo_store.state import DemoStore

M = TypeVar("M", bound=BaseModel)


def _product_json(store: DemoStore, request: Request, slug: str) -> dict[str, Any]:
    product = store.products[slug]
    return product.to_json(store.clock()) | {
        "url": str(request.url_for(PRODUCT, slug=slug)),
        "imageUrl": str(request.url_for(IMAGE, slug=slug)),
    }


def _unknown(slug: str) -> JSONResponse:
    return JSONResponse({"detail": f"unknown product {slug!r}"}, status_code=404)


def _not_json(request: Request) -> JSONResponse | None:
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media == "application/json":
        return None
    return JSONResponse({"detail": "send Content-Type: application/json"}, status_code=415)


async def _validated(request: Request, model: type[M]) -> M | JSONResponse:
    refused = _not_json(request)
    if refused is not None:
        return refused
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError:
        return JSONResponse({"detail": "the body is not valid JSON", "message": "invalid JSON"}, 422)
    if not isinstance(body, dict):
        return JSONResponse(
            {"detail": "the body must be a JSON object", "message": "expected an object"}, 422
        )
    try:
        return model.model_validate(body)
    except ValidationError as problem:
        return JSONResponse({"detail": plain_errors(problem), "message": describe(problem)}, 422)


def api_router(store: DemoStore) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["demo store"])

    @router.get("/products")
    async def list_products(request: Request) -> JSONResponse:
        return JSONResponse([_product_json(store, request, slug) for slug in store.products])

    @router.get("/products/{slug}")
    async def get_product(request: Request, slug: str) -> JSONResponse:
        if store.product(slug) is None:
            return _unknown(slug)
        return JSONResponse(_product_json(store, request, slug))

    @router.put("/products/{slug}")
    async def update_product(request: Request, slug: str) -> JSONResponse:
        """Change any subset of price, stock, restockAt, failNext, delayMs, confirmDelayMs,
        flakyRate, maxPerOrder, soldOutAtCheckout, requiresLogin, requiresConfirmation,
        ordersApiDown, layout."""
        product = store.product(slug)
        if product is None:
            return _unknown(slug)
        update = await _validated(request, ProductUpdate)
        if isinstance(update, JSONResponse):
            return update
        store.update_product(product, update)
        return JSONResponse(_product_json(store, request, slug))

    @router.get("/orders")
    async def list_orders(reference: str | None = None) -> JSONResponse:
        if store.orders_api_down:
            return JSONResponse(
                {"detail": "the orders API is down"}, status_code=503, headers={"Retry-After": "1"}
            )
        return JSONResponse([order.to_json() for order in store.list_orders(reference)])

    @router.post("/reset")
    async def reset(request: Request) -> JSONResponse:
        refused = _not_json(request)
        if refused is not None:
            return refused
        store.reset()
        return JSONResponse({"status": "reset"})

    @router.get("/stats")
    async def stats() -> JSONResponse:
        return JSONResponse(store.stats())

    @router.post("/accounts")
    async def add_account(request: Request) -> JSONResponse:
        account = await _validated(request, AccountCreate)
        if isinstance(account, JSONResponse):
            return account
        if not store.add_account(account.login, account.password):
            return JSONResponse({"detail": f"account {account.login!r} exists"}, status_code=409)
        return JSONResponse({"login": account.login}, status_code=201)

    @router.post("/confirmations")
    async def confirm(request: Request) -> JSONResponse:
        """Confirm the order with ``reference`` from outside ("Confirm it's you" answered by
        e-mail): its confirmation page then places the order without the checkbox."""
        confirmation = await _validated(request, ConfirmationCreate)
        if isinstance(confirmation, JSONResponse):
            return confirmation
        store.confirm(confirmation.reference)
        return JSONResponse({"reference": confirmation.reference, "confirmed": True}, status_code=201)

    return router
