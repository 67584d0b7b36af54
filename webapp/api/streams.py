"""Server-Sent Events: ``GET /api/events/stream`` (the caller's tasks; an admin's: all) and
``GET /api/tasks/{id}/events/stream`` (one task; another user's is 404).

Each event is one ``task_event`` row: ``id:`` its id, ``data:`` JSON with the task id, the
event's type and the task's new state (a deleted task: type ``deleted``, no id). A client that
reconnects with ``Last-Event-ID`` first gets every event of its tasks after that id, read from
``task_event`` (``models.queries.events_after``), then the live ones from the live hub
(``webapp.live``), which it subscribed to before reading, so nothing falls in between; ids sent
from the table are not sent twice. A comment line every ``TASKDECK_SSE_HEARTBEAT`` seconds
(15 by default) keeps proxies from closing the stream (sse-starlette's ping).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path
from sse_starlette import EventSourceResponse, ServerSentEvent

from models import queries
from models.access import Viewer
from models.tables import TaskEvent
from webapp.api.errors import ERROR_RESPONSES, api_router
from webapp.auth import ViewerDep
from webapp.services import Services

HEARTBEAT = 15.0  # seconds between keep-alive comments (Settings.sse_heartbeat)
REPLAY_LIMIT = 10_000  # events replayed after Last-Event-ID
STREAM_EXAMPLE = (
    'id: 1042\ndata: {"id": 1042, "taskId": "3f2c8a9e-5b1d-4c3e-9a7f-0d2e4b6c8a10", '
    '"type": "state", "status": "running", "step": null, "progress": 0}\n\n'
    ": ping\n\n"
)
STREAM_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "text/event-stream: one event per task_event row, a comment every 15 s",
        "content": {"text/event-stream": {"schema": {"type": "string"}, "example": STREAM_EXAMPLE}},
    }
}
LastEventId = Annotated[
    int | None,
    Header(alias="Last-Event-ID", ge=0, description="resume: replay the events after this id first"),
]


def _event(payload: dict[str, Any]) -> ServerSentEvent:
    data = {
        "id": payload.get("id"),
        "taskId": payload.get("task"),
        "type": payload.get("kind"),
        "status": payload.get("status"),
        "step": payload.get("step"),
        "progress": payload.get("progress"),
    }
    event_id = payload.get("id")
    return ServerSentEvent(
        data=json.dumps(data, separators=(",", ":")), id=str(event_id) if event_id is not None else None
    )


def _payload(event: TaskEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "task": str(event.task_id),
        "kind": event.kind,
        "status": event.status,
        "step": event.step,
        "progress": event.progress,
    }


def create_streams_router(services: Services, *, heartbeat: float = HEARTBEAT) -> APIRouter:
    router = api_router(tags=["events"], responses=ERROR_RESPONSES)

    def stream(viewer: Viewer, after: int | None, task_id: uuid.UUID | None) -> EventSourceResponse:
        live: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        wanted = None if task_id is None else str(task_id)

        def on_batch(batch: list[dict[str, Any]]) -> None:
            for payload in batch:
                if wanted is None or payload.get("task") == wanted:
                    live.put_nowait(payload)

        unsubscribe = services.hub.listen(viewer, on_batch)  # before the replay: nothing in between

        async def events() -> AsyncIterator[ServerSentEvent]:
            try:
                replayed: set[int] = set()
                if after is not None:
                    async with services.db.session() as session:
                        missed = await queries.events_after(
                            session, viewer=viewer, after=after, task_id=task_id, limit=REPLAY_LIMIT
                        )
                    for event in missed:
                        replayed.add(event.id or 0)
                        yield _event(_payload(event))
                while True:
                    payload = await live.get()
                    if payload.get("id") in replayed:
                        continue
                    yield _event(payload)
            finally:
                unsubscribe()

        return EventSourceResponse(events(), ping=heartbeat, headers={"Cache-Control": "no-store"})

    @router.get(
        "/events/stream",
        response_class=EventSourceResponse,
        responses=STREAM_RESPONSE,
        summary="Live events of your tasks (an admin's: all), as Server-Sent Events",
    )
    async def all_events(viewer: ViewerDep, last_event_id: LastEventId = None) -> EventSourceResponse:
        return stream(viewer, last_event_id, None)

    @router.get(
        "/tasks/{id}/events/stream",
        response_class=EventSourceResponse,
        responses=STREAM_RESPONSE,
        summary="Live events of one task, as Server-Sent Events",
    )
    async def task_events(
        task_id: Annotated[uuid.UUID, Path(alias="id", description="the task's id (a UUID)")],
        viewer: ViewerDep,
        last_event_id: LastEventId = None,
    ) -> EventSourceResponse:
        async with services.db.session() as session:
            await queries.get_task(session, task_id, viewer=viewer)  # another user's: 404
        return stream(viewer, last_event_id, task_id)

    return router
