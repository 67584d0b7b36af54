"""``/api/purchases``: your orders placed (an admin's: everyone's, or one ``owner``'s), newest first."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from models import queries
from webapp.api import examples
from webapp.api.errors import api_router
from webapp.api.schemas import PurchaseList, PurchasePublic
from webapp.auth import ViewerDep
from webapp.services import Services
from webapp.validation import check_text

MAX_OFFSET = 1_000_000_000


def create_purchases_router(services: Services) -> APIRouter:
    router = api_router(tags=["purchases"])

    @router.get(
        "/purchases",
        response_model=PurchaseList,
        summary="Purchases, newest first",
        responses=examples.answer(200, examples.PURCHASES),
    )
    async def list_purchases(
        viewer: ViewerDep,
        store: Annotated[str | None, Query(max_length=64)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
        owner: Annotated[uuid.UUID | None, Query(description="admins: only this user's (a user id)")] = None,
    ) -> PurchaseList:
        check_text(store, "store", where="query")
        async with services.db.session() as session:
            rows, count = await queries.list_purchases(
                session, viewer=viewer, store=store, owner=owner, limit=limit, offset=offset
            )
        return PurchaseList(data=[PurchasePublic.model_validate(p) for p, _ in rows], count=count)

    return router
