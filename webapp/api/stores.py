"""``/api/stores``: the stores that have a bot (bundled or installed through ``taskdeck.bots``), with
the base URL and settings ``TASKDECK_STORES`` gives each."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from models.settings import Settings
from webapp.api import examples
from webapp.api.errors import api_router
from webapp.api.schemas import StorePublic
from workers.bots import registry

SECRET_WORDS = ("key", "secret", "token", "password", "credential")


def masked(values: dict[str, Any]) -> dict[str, Any]:
    """A store's bot settings as the API shows them: a value whose name looks secret is ``***``."""
    return {k: "***" if any(w in k.lower() for w in SECRET_WORDS) else v for k, v in values.items()}


def create_stores_router(settings: Settings) -> APIRouter:
    router = api_router(tags=["stores"])

    @router.get(
        "/stores",
        response_model=list[StorePublic],
        summary="Stores with a bot",
        responses=examples.answer(200, examples.STORES),
    )
    async def list_stores() -> list[StorePublic]:
        return [
            StorePublic(
                name=spec.name,
                title=spec.title or spec.name,
                needs_browser=spec.needs_browser,
                url=settings.store_url(spec.name),
                settings=masked(settings.store_settings(spec.name)),
            )
            for spec in sorted(registry.load().values(), key=lambda s: s.name)
        ]

    return router
