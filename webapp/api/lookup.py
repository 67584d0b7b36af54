"""``POST /api/lookup``: preview a product before a task is saved (the creation wizard)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import ConfigDict, Field

from models.schemas import Camel
from webapp.api import examples
from webapp.api.errors import BadInput, Unavailable, api_router
from webapp.services import Services
from workers.bots import registry
from workers.bounds import first_line
from workers.chromium import BrowserUnavailable
from workers.errors import BotError, PermanentError
from workers.lookup import LOOKUP_TIMEOUT, PreviewsBusy


class LookupRequest(Camel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"store": "demo", "product": "gpu-founders"}]})

    store: Annotated[str, Field(min_length=1, max_length=64)]
    product: Annotated[str, Field(min_length=1, max_length=500)]


def create_lookup_router(services: Services) -> APIRouter:
    router = api_router(tags=["stores"])

    @router.post(
        "/lookup",
        summary="Preview a product: name, price, availability, image",
        responses=examples.answer(200, examples.LOOKUP),
    )
    async def lookup(body: LookupRequest) -> dict[str, Any]:
        if body.store not in registry.names():
            known = ", ".join(registry.names())
            raise BadInput(f"unknown store {body.store!r}; known stores: {known}", field="store")
        try:
            info = await services.lookup(store=body.store, product=body.product.strip())
        except PreviewsBusy as exc:
            raise Unavailable(str(exc)) from None
        except PermanentError as exc:
            raise BadInput(str(exc), field="product") from None
        except TimeoutError:
            raise Unavailable(f"the store did not answer the preview within {LOOKUP_TIMEOUT:g} s") from None
        except (BotError, BrowserUnavailable) as exc:
            reason = first_line(exc) or type(exc).__name__
            raise Unavailable(f"the store did not answer the preview: {reason}") from None
        return {
            "store": body.store,
            "product": body.product,
            "name": info.name,
            "price": float(info.price) if info.price is not None else None,
            "available": info.available,
            "imageUrl": info.image_url,
            "canonicalUrl": info.canonical_url,
        }

    return router
