"""Queue pause: an admin holds processing for the whole queue or for one store.

A ``queue_pause`` row per hold (``store`` = ``ALL_STORES`` for everything). The claim adds
``claimable(store)`` to its WHERE, so while a hold stands no worker claims a task it covers;
tasks already running finish as usual, and tasks keep their state (``queued`` stays queued) to be
claimed once the hold is lifted. Holds are independent: lifting one store's hold leaves a
whole-queue hold in place, and the other way round.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, exists, literal, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from models.tables import QueuePause
from models.types import utcnow

ALL_STORES = "*"
PAUSES = QueuePause.metadata.tables["queue_pause"]


def claimable(store: Any) -> ColumnElement[bool]:
    """``NOT EXISTS (a hold on '*' or on the task's store)``: the claim's condition."""
    held = exists().where(or_(PAUSES.c.store == literal(ALL_STORES), PAUSES.c.store == store))
    return ~held


@dataclass(frozen=True)
class Hold:
    store: str  # a store's name, or ALL_STORES
    paused_by: uuid.UUID | None
    paused_at: datetime

    @property
    def everything(self) -> bool:
        return self.store == ALL_STORES


async def holds(session: AsyncSession) -> list[Hold]:
    """Every hold, the whole-queue one first, then by store."""
    rows = await session.execute(select(PAUSES.c.store, PAUSES.c.paused_by, PAUSES.c.paused_at))
    found = [Hold(store, by, at) for store, by, at in rows.all()]
    return sorted(found, key=lambda h: (not h.everything, h.store))


async def pause(session: AsyncSession, *, store: str | None, by: uuid.UUID | None) -> bool:
    """Hold ``store`` (None: everything); False when it was held already (the first hold stays)."""
    insert_ = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (
        insert_(PAUSES)
        .values(store=store or ALL_STORES, paused_by=by, paused_at=utcnow())
        .on_conflict_do_nothing(index_elements=["store"])
        .returning(PAUSES.c.store)
    )
    return (await session.execute(stmt)).first() is not None


async def resume(session: AsyncSession, *, store: str | None) -> bool:
    """Lift the hold on ``store`` (None: the whole-queue hold); False when there was none."""
    done = await session.execute(
        delete(PAUSES).where(PAUSES.c.store == (store or ALL_STORES)).returning(PAUSES.c.store)
    )
    return done.first() is not None
