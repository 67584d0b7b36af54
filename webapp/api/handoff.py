"""The live view and the hand-off of one task (owner or admin; anyone else: 404).

    GET  /api/tasks/{id}/live/frame   the newest screencast frame, image/jpeg, X-Frame-Number
                                      (404 when there has never been one)
    POST /api/tasks/{id}/takeover     the control lease (renew by calling again); 409 when the task
                                      does not wait for a person or someone else holds it
    POST /api/tasks/{id}/input        {"type": "click", "x": 0.42, "y": 0.77} (fractions of the frame),
                                      {"type": "scroll", "dy": 300}, {"type": "key", "key": "Enter"},
                                      {"type": "text", "text": "…"}: 202 with the lease, 409 without
    POST /api/tasks/{id}/finish       {"orderNumber": …}: the purchase was made by hand; completed

``POST /api/tasks/{id}/resume`` (``tasks.py``) hands a waiting task back to its bot, as it resumes a
paused one. Typed text is relayed once and never stored or logged.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Response

from models.schemas import TaskPublic
from webapp import commands, handoff
from webapp.api import examples
from webapp.api.errors import ERROR_RESPONSES, api_router
from webapp.api.params import TaskId
from webapp.api.schemas import ControlLease, FinishByHand, InputEvent
from webapp.auth import ViewerDep
from webapp.services import Services

JPEG: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            "image/jpeg": {"schema": {"type": "string", "format": "binary"}, "example": "(JPEG bytes)"}
        },
        "description": "the newest frame; its number in `X-Frame-Number`",
    }
}


def create_handoff_router(services: Services) -> APIRouter:
    router = api_router(prefix="/tasks/{id}", tags=["live view"], responses=ERROR_RESPONSES)

    @router.get("/live/frame", response_class=Response, responses=JPEG, summary="The newest live frame")
    async def live_frame(task_id: TaskId, viewer: ViewerDep) -> Response:
        frame = await handoff.latest_frame(services, task_id, viewer=viewer)
        return Response(
            frame.jpeg,
            media_type="image/jpeg",
            headers={"X-Frame-Number": str(frame.number), "Cache-Control": "no-store"},
        )

    @router.post(
        "/takeover",
        response_model=ControlLease,
        responses=examples.answer(200, examples.LEASE),
        summary="Take control of a waiting task",
    )
    async def take_over(task_id: TaskId, viewer: ViewerDep) -> ControlLease:
        seconds = await handoff.take_over(services, task_id, viewer=viewer)
        return ControlLease(task_id=task_id, controller=viewer.user_id, expires_in=seconds)

    @router.post(
        "/input",
        status_code=202,
        response_model=ControlLease,
        responses=examples.answer(202, examples.LEASE),
        summary="Input for the bot's page",
    )
    async def send_input(
        task_id: TaskId,
        event: Annotated[InputEvent, Body(openapi_examples=examples.INPUTS)],
        viewer: ViewerDep,
    ) -> ControlLease:
        await handoff.send_input(services, task_id, event.model_dump(), viewer=viewer)
        return ControlLease(task_id=task_id, controller=viewer.user_id, expires_in=0)

    @router.post(
        "/finish",
        response_model=TaskPublic,
        responses=examples.answer(200, {**examples.TASK, "status": "completed"}),
        summary="A purchase made by hand: completed",
    )
    async def finish(
        task_id: TaskId,
        body: Annotated[FinishByHand, Body(openapi_examples={"finish": {"value": examples.FINISH}})],
        viewer: ViewerDep,
    ) -> TaskPublic:
        task = await commands.apply(
            services, task_id, "finish", viewer=viewer, order_number=body.order_number
        )
        assert task is not None
        return TaskPublic.model_validate(task)

    return router
