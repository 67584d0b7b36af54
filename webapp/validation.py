"""Checks a new task passes before any row is written, beyond what ``TaskCreate`` checks alone:
the store has a bot, the product exists (demo store), URLs are http(s), times make sense, the
profile exists and is the owner's, and no text would be refused by the database. Shared by the
API and the dashboard's New-task dialog (both create through ``webapp.commands``).
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from models import queries
from models.schemas import TaskCreate
from models.types import utcnow
from webapp.catalogue import DEMO, DemoCatalogue, check_url
from webapp.errors import BadInput
from workers.bots import registry


def check_text(value: str | None, field: str, *, where: str = "body") -> None:
    """Postgres text cannot hold NUL characters or unpaired surrogates: refuse them up front."""
    if value is None:
        return
    if "\x00" in value:
        raise BadInput(f"{field}: must not contain NUL characters", field=field, where=where)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInput(f"{field}: is not valid Unicode text", field=field, where=where) from None


def check_store(store: str, *, where: str = "body", field: str = "store") -> None:
    known = registry.names()
    if store not in known:
        raise BadInput(f"unknown store {store!r}; known stores: {', '.join(known)}", field=field, where=where)


async def check_create(data: TaskCreate, *, catalogue: DemoCatalogue) -> None:
    """Raise ``BadInput`` (422) naming the first problem with ``data`` (all but the profile)."""
    for field in ("name", "store", "product"):
        check_text(getattr(data, field), field)
    if not data.product:
        raise BadInput("product: must not be blank", field="product")
    check_store(data.store)
    check_url(data.product)
    if data.store == DEMO:
        await catalogue.check(data.product)
    now = utcnow()
    if data.until is not None:
        if data.until <= now:
            raise BadInput("until: must be in the future", field="until")
        if data.run_at is not None and data.until <= data.run_at:
            raise BadInput("until: must be after runAt", field="until")


async def check_profile(data: TaskCreate, *, session: AsyncSession, owner_id: uuid.UUID | None) -> None:
    """The profile a task names must exist and be its owner's (checked in the transaction that
    inserts the task); another user's profile reads as missing."""
    if data.profile_id is None:
        return
    if not await queries.profile_usable(session, data.profile_id, owner_id=owner_id):
        raise BadInput(f"profileId: no profile with id {data.profile_id}", field="profileId")
