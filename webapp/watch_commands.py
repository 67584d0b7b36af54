"""Every write of a watch, for the API and the dashboard alike (the command path of
``webapp/commands.py``, for watches): create, edit, cancel, delete.

Create checks each listing as the monitor task it becomes (``webapp.validation``: a known store,
an existing product, the owner's profile), then inserts the watch, its listings and their tasks
in ONE transaction, commits and rings for the queued tasks. Edits, cancels and deletes first read
the watch through ``models.watch_queries`` with the viewer, so another user's watch is
``WatchNotFound`` (404), the same as an unknown id.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError

from models import watch_queries, watches
from models.access import Viewer
from models.tables import Watch
from models.types import utcnow
from models.watch_schemas import WatchCreate, WatchUpdate
from webapp.commands import _kick_if_queued
from webapp.errors import BadInput, Forbidden
from webapp.validation import check_create, check_profile, check_text

if TYPE_CHECKING:
    from webapp.services import Services


def _at_listing(exc: BadInput, index: int) -> BadInput:
    """A listing's own problem names the listing; a watch-wide one (``until``) stays as it is."""
    if exc.field not in ("store", "product"):
        return exc
    return BadInput(f"listings.{index}.{exc}", field=f"listings.{index}.{exc.field}")


async def create_watch(services: Services, data: WatchCreate, *, viewer: Viewer) -> Watch:
    check_text(data.name, "name")
    for index in range(len(data.listings)):
        try:
            await check_create(watches.listing_task(data, data.listings[index]), catalogue=services.catalogue)
        except BadInput as exc:
            raise _at_listing(exc, index) from None
    try:
        async with services.db.begin() as session:
            await check_profile(
                watches.listing_task(data, data.listings[0]), session=session, owner_id=viewer.user_id
            )
            watch, tasks = await watches.create_watch(
                session, data=data, settings=services.settings, owner_id=viewer.user_id
            )
    except IntegrityError:  # the profile was deleted meanwhile
        raise BadInput(
            "the watch conflicts with the stored data (was its profile deleted?)", field="profileId"
        ) from None
    for task in tasks:
        await _kick_if_queued(services, task)
    return watch


async def _own(services: Services, watch_id: uuid.UUID, viewer: Viewer, *, what: str) -> None:
    async with services.db.session() as session:
        row = await watch_queries.get_watch(session, watch_id, viewer=viewer)
    if row.watch.owner_id != viewer.user_id:
        raise Forbidden(f"only its owner may {what} a watch")


async def edit_watch(
    services: Services, watch_id: uuid.UUID, update: WatchUpdate, *, viewer: Viewer
) -> Watch:
    """Listings added are checked as at create (a known store, an existing product) and their
    monitors rung after the commit; removed ones stop in the same transaction."""
    await _own(services, watch_id, viewer, what="edit")
    if update.name is not None:
        check_text(update.name, "name")
    if update.until is not None and update.until <= utcnow():
        raise BadInput("until: must be in the future", field="until")
    async with services.db.session() as session:
        current = (await watch_queries.get_watch(session, watch_id, viewer=viewer)).watch
    for index, listing in enumerate(update.listings or []):
        try:
            await check_create(watches.listing_task(current, listing), catalogue=services.catalogue)
        except BadInput as exc:
            raise _at_listing(exc, index) from None
    async with services.db.begin() as session:
        watch, added = await watches.edit_watch(
            session, watch_id=watch_id, update_=update, settings=services.settings
        )
    for task in added:
        await _kick_if_queued(services, task)
    return watch


async def cancel_watch(services: Services, watch_id: uuid.UUID, *, viewer: Viewer) -> Watch:
    async with services.db.begin() as session:
        await watch_queries.get_watch(session, watch_id, viewer=viewer)
        return await watches.cancel_watch(session, watch_id=watch_id)


async def delete_watch(services: Services, watch_id: uuid.UUID, *, viewer: Viewer) -> None:
    async with services.db.begin() as session:
        await watch_queries.get_watch(session, watch_id, viewer=viewer)
        await watches.delete_watch(session, watch_id=watch_id)
