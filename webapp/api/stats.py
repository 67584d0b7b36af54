"""``/api/stats``: counts per state, completions per minute and workers, for the dashboard charts."""

from __future__ import annotations

from fastapi import APIRouter

from models import queries_api
from models import tasks as task_ops
from webapp.api.errors import api_router
from webapp.api.schemas import Stats, ThroughputPoint, WorkerPublic
from webapp.services import Services

THROUGHPUT_MINUTES = 60


def create_stats_router(services: Services) -> APIRouter:
    router = api_router(tags=["stats"])

    @router.get("/stats", response_model=Stats, summary="Counts, throughput (last hour) and workers")
    async def stats() -> Stats:
        async with services.db.session() as session:
            counts = await task_ops.status_counts(session)
            points = await queries_api.throughput(session, minutes=THROUGHPUT_MINUTES)
            workers = await queries_api.list_workers(session)
        return Stats(
            counts=counts,
            throughput=[ThroughputPoint.model_validate(p) for p in points],
            workers=[WorkerPublic.model_validate(w) for w in workers],
        )

    return router
