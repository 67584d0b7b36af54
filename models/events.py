"""Publishing task events: an event row and a notification in the same transaction.

The notification payload is small (ids and a few fields, far under NOTIFY's 8000 bytes);
listeners that want more read the task or its events.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import String, cast, func, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models.db import PENDING_KEY
from models.tables import TaskEvent
from models.types import utcnow

CHANNEL = "taskdeck"


async def publish(
    session: AsyncSession,
    *,
    task_id: uuid.UUID,
    kind: str,
    status: str | None = None,
    step: str | None = None,
    progress: int | None = None,
    message: str | None = None,
    data: dict[str, Any] | None = None,
    attempt: int | None = None,
) -> int:
    """Write a ``task_event`` row and notify listeners once the transaction commits.

    On Postgres the row and the NOTIFY are one statement (a data-modifying CTE): the payload is
    built here with the new id spliced in, so a progress step costs one round trip.
    """
    row = insert(TaskEvent).values(
        task_id=task_id,
        at=utcnow(),
        kind=kind,
        status=status,
        step=step,
        progress=progress,
        message=message[:2000] if message else None,
        data=data,
    )
    payload: dict[str, Any] = {
        "task": str(task_id),
        "kind": kind,
        "status": status,
        "step": step,
        "progress": progress,
    }
    if attempt is not None:
        payload["attempt"] = attempt
    if session.get_bind().dialect.name == "postgresql":
        inserted = row.returning(col(TaskEvent.id)).cte("inserted")
        rest = json.dumps(payload, separators=(",", ":"))[1:]  # '"task":…}' after the id
        text_id = cast(inserted.c.id, String)
        message_sql = literal('{"id":') + text_id + literal("," + rest)
        result = await session.execute(select(inserted.c.id, func.pg_notify(CHANNEL, message_sql)))
        event_id = result.scalar_one()
        return int(event_id)
    new_id = (await session.execute(row.returning(col(TaskEvent.id)))).scalar_one()
    assert new_id is not None
    await notify(session, {"id": new_id, **payload})
    return new_id


async def notify(session: AsyncSession, payload: dict[str, Any]) -> None:
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        await session.execute(select(func.pg_notify(CHANNEL, json.dumps(payload, separators=(",", ":")))))
    else:
        session.sync_session.info.setdefault(PENDING_KEY, []).append(payload)
