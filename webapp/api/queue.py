"""``/api/queue`` and ``/api/workers``: the queue's state and its workers; pausing processing.

Who sees what (decided for issue 13): any signed-in user may read both, scoped like the rest of
the API. ``counts`` are the caller's own tasks (an admin's: everyone's); ``running`` of a worker
lists the caller's own task ids only. The stream figures, the holds and the workers themselves are
shared operational facts without anyone's task data, so everyone sees them. Pausing and resuming
are admins' (403 problem details for anyone else): a hold stops everyone's tasks.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body
from pydantic import Field

from models import pauses, queries, queue_reads
from models.schemas import Camel
from webapp import queue_control
from webapp.api import examples
from webapp.api.errors import api_router
from webapp.api.schemas import CamelOut
from webapp.auth import ViewerDep
from webapp.services import Services
from webapp.stream_figures import queue_figures


class PauseRequest(Camel):
    store: str | None = Field(None, min_length=1, max_length=64, description="one store; none: everything")


class HoldPublic(CamelOut):
    store: str  # "*" is the whole queue
    paused_at: datetime
    paused_by: uuid.UUID | None


class QueueState(CamelOut):
    stream_length: int | None = Field(description="entries in the Redis stream (null: no Redis)")
    pending: int | None = Field(description="stream entries delivered to a worker, not yet acknowledged")
    counts: dict[str, int]
    paused: bool = Field(description="the whole queue is held")
    paused_stores: list[str] = Field(description="stores held one by one")
    holds: list[HoldPublic]


class WorkerInfo(CamelOut):
    id: str
    host: str
    pid: int
    status: str
    version: str
    started: datetime
    last_seen: datetime
    heartbeat_age: float = Field(description="seconds since its last beat (the database's clock)")
    running: list[str]
    concurrency: int
    processed: int
    browser_contexts: int
    browser_memory_mb: float | None


class WorkerList(CamelOut):
    data: list[WorkerInfo]
    count: int


HOLD_DOCS = {
    "pause": "Workers claim nothing the hold covers; running tasks finish. Pausing twice is fine.",
    "resume": "Lifts that one hold (a whole-queue hold and a store's are separate).",
}
PauseBody = Annotated[PauseRequest | None, Body(openapi_examples=examples.PAUSE_EXAMPLES)]


def create_queue_router(services: Services) -> APIRouter:
    router = api_router(tags=["queue"])

    async def state(viewer: ViewerDep) -> QueueState:
        async with services.db.session() as session:
            counts = await queries.status_counts(session, viewer=viewer)
            held = await pauses.holds(session)
        stream = await queue_figures(services)
        return QueueState(
            stream_length=stream.get("stream_length"),
            pending=stream.get("unacknowledged"),
            counts=counts,
            paused=any(h.everything for h in held),
            paused_stores=[h.store for h in held if not h.everything],
            holds=[HoldPublic(store=h.store, paused_at=h.paused_at, paused_by=h.paused_by) for h in held],
        )

    answered = examples.answer(200, examples.QUEUE)
    router.get(
        "/queue", response_model=QueueState, summary="The queue: counts and holds", responses=answered
    )(state)

    def holding(verb: str) -> Callable[..., Awaitable[QueueState]]:
        command = queue_control.pause if verb == "pause" else queue_control.resume

        async def hold(viewer: ViewerDep, body: PauseBody = None) -> QueueState:
            await command(services, viewer=viewer, store=body.store if body else None)
            return await state(viewer)

        hold.__doc__ = HOLD_DOCS[verb]
        hold.__name__ = f"{verb}_queue"
        return hold

    for verb in ("pause", "resume"):
        router.post(
            f"/queue/{verb}",
            response_model=QueueState,
            summary=f"{verb.capitalize()} processing, all or one store (admins)",
            responses=answered,
        )(holding(verb))

    @router.get(
        "/workers",
        response_model=WorkerList,
        summary="Workers: heart-beat age, running tasks, browser memory",
        responses=examples.answer(200, examples.WORKERS),
    )
    async def workers(viewer: ViewerDep) -> WorkerList:
        """Live workers and those gone in the last hour; ``running`` holds your own task ids only."""
        async with services.db.session() as session:
            rows = await queries.list_workers(session, viewer=viewer)
            ages = await queue_reads.heartbeat_ages(session, [w.id for w in rows])
        data = [
            WorkerInfo(
                id=w.id,
                host=w.host,
                pid=w.pid,
                status=w.status,
                version=w.version,
                started=w.started_at,
                last_seen=w.last_seen,
                heartbeat_age=round(ages.get(w.id, 0.0), 3),
                running=list(w.running or []),
                concurrency=w.concurrency,
                processed=w.processed,
                browser_contexts=w.browser_contexts,
                browser_memory_mb=w.browser_memory_mb,
            )
            for w in rows
        ]
        return WorkerList(data=data, count=len(data))

    return router
