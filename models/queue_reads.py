"""Reads for the queue's operators (``/api/queue``, ``/api/workers``, the queue page), beside
``models.queries`` (which holds the owner rule they reuse): worker heart-beat ages on the
database's clock, and the holds (``models.pauses``)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models.clock import db_now
from models.metrics import Seconds
from models.tables import Worker


async def heartbeat_ages(session: AsyncSession, worker_ids: Iterable[str]) -> dict[str, float]:
    """Seconds since each worker's last beat, measured on the database's clock (the clock that
    stamped it), so a web process with a skewed clock reports the truth."""
    ids = list(worker_ids)
    if not ids:
        return {}
    rows = await session.execute(
        select(col(Worker.id), Seconds(col(Worker.last_seen), db_now())).where(col(Worker.id).in_(ids))
    )
    return {worker_id: max(0.0, float(age or 0.0)) for worker_id, age in rows.all()}
