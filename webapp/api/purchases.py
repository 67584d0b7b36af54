"""``/api/purchases``: orders placed, newest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from models import queries_api
from webapp.api.errors import api_router
from webapp.api.schemas import PurchaseList, PurchasePublic
from webapp.api.validation import check_text
from webapp.services import Services

MAX_OFFSET = 1_000_000_000


def create_purchases_router(services: Services) -> APIRouter:
    router = api_router(tags=["purchases"])

    @router.get("/purchases", response_model=PurchaseList, summary="Purchases, newest first")
    async def list_purchases(
        store: Annotated[str | None, Query(max_length=64)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    ) -> PurchaseList:
        check_text(store, "store", where="query")
        async with services.db.session() as session:
            rows, count = await queries_api.list_purchases(session, store=store, limit=limit, offset=offset)
        return PurchaseList(data=[PurchasePublic.model_validate(p) for p in rows], count=count)

    return router
