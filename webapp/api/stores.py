"""``/api/stores``: the stores that have a bot (bundled or installed through ``taskdeck.bots``)."""

from __future__ import annotations

from fastapi import APIRouter

from webapp.api import examples
from webapp.api.errors import api_router
from webapp.api.schemas import StorePublic
from workers.bots import registry


def create_stores_router() -> APIRouter:
    router = api_router(tags=["stores"])

    @router.get(
        "/stores",
        response_model=list[StorePublic],
        summary="Stores with a bot",
        responses=examples.answer(200, examples.STORES),
    )
    async def list_stores() -> list[StorePublic]:
        return [
            StorePublic(name=spec.name, title=spec.title or spec.name, needs_browser=spec.needs_browser)
            for spec in sorted(registry.load().values(), key=lambda s: s.name)
        ]

    return router
