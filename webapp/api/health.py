"""``/api/health``: what this process runs on, and whether its live feed is connected."""

from __future__ import annotations

from fastapi import APIRouter

from webapp.api import examples
from webapp.api.errors import api_router
from webapp.api.schemas import Health
from webapp.services import Services


def create_health_router(services: Services) -> APIRouter:
    router = api_router(tags=["health"])

    @router.get(
        "/health",
        response_model=Health,
        summary="Ready to serve (tests and probes wait on this)",
        responses=examples.answer(200, examples.HEALTH),
    )
    async def health() -> Health:
        return Health(
            ok=True,
            database="sqlite" if services.db.is_sqlite else "postgresql",
            queue="in-process" if services.settings.embedded_queue else "redis",
            live=services.hub.connected,
        )

    return router
