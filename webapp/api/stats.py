"""``/api/stats``: counts per state, completions per minute and workers, for the dashboard charts."""

from __future__ import annotations

from fastapi import APIRouter

from models import queries
from webapp.api import examples
from webapp.api.errors import api_router
from webapp.api.schemas import Stats, ThroughputPoint, WorkerPublic
from webapp.auth import ViewerDep
from webapp.services import Services

THROUGHPUT_MINUTES = 60


def create_stats_router(services: Services) -> APIRouter:
    router = api_router(tags=["stats"])

    @router.get(
        "/stats",
        response_model=Stats,
        summary="Counts, throughput (last hour) and workers",
        responses=examples.answer(200, examples.STATS),
    )
    async def stats(viewer: ViewerDep) -> Stats:
        """Your tasks' counts and tasks finished per minute (an admin's: everyone's); the workers."""
        async with services.db.session() as session:
            counts = await queries.status_counts(session, viewer=viewer)
            points = await queries.throughput(session, viewer=viewer, minutes=THROUGHPUT_MINUTES)
            workers = await queries.list_workers(session, viewer=viewer)
        return Stats(
            counts=counts,
            throughput=[ThroughputPoint.model_validate(p) for p in points],
            workers=[WorkerPublic.model_validate(w) for w in workers],
        )

    return router
