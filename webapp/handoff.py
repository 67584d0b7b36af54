"""Watching a task and taking it over, for the API and the task page alike.

Each call first reads the task through ``models.queries`` with the viewer (another user's task is
``TaskNotFound``: 404). Taking over and input need the task in ``action_needed``; input also needs
the caller to hold the control lease (``InvalidTransition``: 409, otherwise). Handing back and
finishing by hand are task writes and go through ``webapp.commands`` ("resume", "finish"); the
waiting worker drops the control lease when it continues or stops.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from models import queries
from models.access import Viewer
from models.errors import InvalidTransition
from models.live_keys import CONTROL_TTL
from models.states import ACTIONS
from models.tables import Task
from webapp.errors import NotFound
from webapp.live_view import Frame, LiveRelay

if TYPE_CHECKING:
    from webapp.services import Services


def relay_of(services: Services) -> LiveRelay:
    if services.live is None:
        raise NotFound("the live view needs Redis (REDIS_URL); this process has none")
    return services.live


async def _task(services: Services, task_id: uuid.UUID, viewer: Viewer) -> Task:
    async with services.db.session() as session:
        return await queries.get_task(session, task_id, viewer=viewer)


async def latest_frame(services: Services, task_id: uuid.UUID, *, viewer: Viewer) -> Frame:
    await _task(services, task_id, viewer)
    frame = await relay_of(services).latest(task_id)
    if frame is None:
        raise NotFound("no frame of this task yet: nobody has watched it run")
    return frame


async def take_over(services: Services, task_id: uuid.UUID, *, viewer: Viewer) -> int:
    """The control lease for the viewer (renewed when they hold it); its seconds left."""
    task = await _task(services, task_id, viewer)
    if task.status not in ACTIONS["take-over"]:
        raise InvalidTransition(f"cannot take over: task is {task.status}", status=task.status)
    if not await relay_of(services).take_control(task_id, viewer.user_id):
        raise InvalidTransition("someone else has taken over this task", status=task.status)
    return CONTROL_TTL


async def send_input(
    services: Services, task_id: uuid.UUID, event: dict[str, Any], *, viewer: Viewer
) -> None:
    """Relay one input event to the waiting bot's page (never stored beyond that, never logged)."""
    task = await _task(services, task_id, viewer)
    if task.status not in ACTIONS["take-over"]:
        raise InvalidTransition(f"cannot send input: task is {task.status}", status=task.status)
    relay = relay_of(services)
    if await relay.controller(task_id) != str(viewer.user_id):
        raise InvalidTransition("take over first: you do not hold the control lease", status=task.status)
    await relay.send(task_id, event)
