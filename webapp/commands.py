"""Every write of a task, for the API and the dashboard alike: create, actions, bulk, delete.

Create: validate (``webapp.validation``: store, product, URL, times, the owner's profile) →
insert with the viewer as owner → commit → ring the doorbell. Actions and deletes first read the
task through ``models.queries`` in their transaction, so another user's task is ``TaskNotFound``
(404), the same as an unknown id; a deleted task loses its artifacts too. A task that became
``queued`` is kicked after the commit (a failed kick leaves it to the sweeper). The webapp
reaches workers only through the broker and this module.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError

from models import queries
from models import tasks as task_ops
from models.access import Viewer
from models.errors import InvalidTransition, TaskNotFound
from models.schemas import TaskCreate
from models.states import TaskStatus
from models.tables import Task
from webapp.errors import BadInput
from webapp.validation import check_create, check_profile

if TYPE_CHECKING:
    from webapp.services import Services

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Done:
    """What one action did to one task: ``task`` afterwards (None when deleted or refused)."""

    task_id: uuid.UUID
    ok: bool
    status: str | None
    error: str | None = None
    task: Task | None = None


async def create_task(services: Services, data: TaskCreate, *, viewer: Viewer) -> Task:
    """Validate everything first, then one insert owned by ``viewer``; ``BadInput`` names the
    first problem (the same checks for the API and the New-task dialog)."""
    await check_create(data, catalogue=services.catalogue)
    try:
        async with services.db.begin() as session:
            await check_profile(data, session=session, owner_id=viewer.user_id)
            task = await task_ops.create_task(
                session, data=data, settings=services.settings, owner_id=viewer.user_id
            )
    except IntegrityError as exc:  # e.g. the profile was deleted meanwhile
        log.info("task not created: %s", exc.orig)
        raise BadInput(
            "the task conflicts with the stored data (was its profile deleted?)", field="profileId"
        ) from None
    await _kick_if_queued(services, task)
    return task


async def apply(
    services: Services, task_id: uuid.UUID, action: str, *, viewer: Viewer, order_number: str | None = None
) -> Task | None:
    """Run a named action (``models.tasks.apply_action``'s, or ``execute``) on one of the viewer's
    tasks; ``delete`` returns None. Raises ``TaskNotFound`` (not the viewer's, or no such task) or
    ``InvalidTransition``."""
    async with services.db.begin() as session:
        await queries.get_task(session, task_id, viewer=viewer)  # the owner rule; owners never change
        if action == "execute":
            task: Task | None = await task_ops.start_task(session, task_id=task_id, action="execute")
        else:
            task = await task_ops.apply_action(
                session, task_id=task_id, action=action, order_number=order_number
            )
    if task is None:
        await asyncio.to_thread(services.artifacts.delete, str(task_id))
        return None
    await _kick_if_queued(services, task)
    return task


async def try_apply(
    services: Services, task_id: uuid.UUID, action: str, *, viewer: Viewer, order_number: str | None = None
) -> Done:
    """``apply`` that reports a refusal instead of raising it (for bulk actions and the pages)."""
    try:
        task = await apply(services, task_id, action, viewer=viewer, order_number=order_number)
    except ValueError as exc:  # mark-bought without a usable order number
        return Done(task_id, False, None, str(exc))
    except InvalidTransition as exc:
        return Done(task_id, False, exc.status, str(exc))
    except TaskNotFound as exc:
        return Done(task_id, False, None, str(exc))
    return Done(task_id, True, task.status if task is not None else None, None, task)


async def apply_many(
    services: Services, task_ids: Iterable[uuid.UUID], action: str, *, viewer: Viewer
) -> list[Done]:
    """The action on each task, one transaction each: each succeeds or fails on its own."""
    return [await try_apply(services, task_id, action, viewer=viewer) for task_id in dict.fromkeys(task_ids)]


async def _kick_if_queued(services: Services, task: Task) -> None:
    if task.status == TaskStatus.QUEUED:
        with suppress(TimeoutError):  # not started yet: the sweeper rings for it later
            await services.wait_ready()
        await services.kick(task.id)
