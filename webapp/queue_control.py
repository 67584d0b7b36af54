"""Pausing and resuming processing (part of the command path, like ``webapp.commands``).

Admins only (``Forbidden`` for anyone else: a hold stops everyone's tasks). A hold is one row
(``models.pauses``); the claim skips what it covers, so queued tasks stay queued and running ones
finish. Resuming rings the doorbell of the queued tasks the hold covered, so they run at once
rather than at the sweeper's next re-ring.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlmodel import col

from models import pauses
from models.access import Viewer
from models.states import TaskStatus
from models.tables import Task
from webapp.errors import Forbidden
from webapp.validation import check_store, check_text

if TYPE_CHECKING:
    from webapp.services import Services

RING_AFTER_RESUME = 1000  # queued tasks rung at once on resume; the sweeper re-rings the rest


def _check(viewer: Viewer, store: str | None) -> None:
    if not viewer.is_admin:
        raise Forbidden("only an admin may pause or resume processing")
    if store is not None:
        check_text(store, "store")
        check_store(store)


async def pause(services: Services, *, viewer: Viewer, store: str | None = None) -> bool:
    """Hold the whole queue (``store`` None) or one store; False when it was held already."""
    _check(viewer, store)
    async with services.db.begin() as session:
        return await pauses.pause(session, store=store, by=viewer.user_id)


async def resume(services: Services, *, viewer: Viewer, store: str | None = None) -> bool:
    """Lift the hold; False when there was none. Rings for the queued tasks now claimable."""
    _check(viewer, store)
    async with services.db.begin() as session:
        lifted = await pauses.resume(session, store=store)
        held = await pauses.holds(session)
        if any(h.everything for h in held):
            return lifted  # the whole queue is still held: nothing to ring for
        stmt = select(col(Task.id)).where(
            col(Task.status) == TaskStatus.QUEUED.value,
            col(Task.store).not_in([h.store for h in held]),
        )
        if store is not None:
            stmt = stmt.where(col(Task.store) == store)
        stmt = stmt.order_by(col(Task.priority).desc(), col(Task.queued_at)).limit(RING_AFTER_RESUME)
        ids: list[uuid.UUID] = list(await session.scalars(stmt))
    for task_id in ids:
        await services.kick(task_id)
    return lifted
