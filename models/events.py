"""Publishing task events: an event row and a notification in the same transaction.

The notification payload is small (ids and a few fields, far under NOTIFY's 8000 bytes);
listeners that want more read the task or its events. It names the task's owner (``owner``, a
user id or null), so the live hub sends a change only to pages of that user (and admins').
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from sqlalchemy import String, bindparam, cast, func, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Uuid

from models.db import PENDING_KEY
from models.tables import TaskEvent
from models.types import utcnow

CHANNEL = "taskdeck"


_EVENTS = TaskEvent.metadata.tables["task_event"]
_FIELDS = ("task_id", "at", "kind", "status", "step", "progress", "message", "data")
# Built once: a statement object that is reused keeps its cache key and its compiled form, so a
# publish costs a parameter dict and a round trip, not a statement build and a cache-key walk.
_ROW = insert(_EVENTS).values({name: bindparam(f"e_{name}", type_=_EVENTS.c[name].type) for name in _FIELDS})
_INSERT = _ROW.returning(_EVENTS.c.id)
_TASKS = TaskEvent.metadata.tables["task"]
_OWNER = select(_TASKS.c.owner_id).where(_TASKS.c.id == bindparam("e_owner_of", type_=Uuid()))
_inserted = _INSERT.cte("inserted")
_OWNER_JSON = func.coalesce(
    literal('"', String) + cast(_OWNER.scalar_subquery(), String) + literal('"', String),
    literal("null", String),
)
_INSERT_AND_NOTIFY = select(
    _inserted.c.id,
    func.pg_notify(
        literal(CHANNEL, String),
        literal('{"id":', String)
        + cast(_inserted.c.id, String)
        + literal(',"owner":', String)
        + _OWNER_JSON
        + bindparam("e_rest", type_=String),
    ),
)


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
    params: dict[str, Any] = {
        "e_task_id": task_id,
        "e_at": utcnow(),
        "e_kind": kind,
        "e_status": status,
        "e_step": step,
        "e_progress": progress,
        "e_message": message[:2000] if message else None,
        "e_data": data,
    }
    payload: dict[str, Any] = {
        "task": str(task_id),
        "kind": kind,
        "status": status,
        "step": step,
        "progress": progress,
        "ts": round(time.time(), 3),  # the writer's clock: the live hub measures its lag by it
    }
    if attempt is not None:
        payload["attempt"] = attempt
    if session.get_bind().dialect.name == "postgresql":
        params["e_rest"] = (
            "," + json.dumps(payload, separators=(",", ":"))[1:]
        )  # ',"task":…}' after the owner
        params["e_owner_of"] = task_id
        result = await session.execute(_INSERT_AND_NOTIFY, params)
        return int(result.scalar_one())
    new_id = (await session.execute(_INSERT, params)).scalar_one()
    assert new_id is not None
    owner = await session.scalar(select(_TASKS.c.owner_id).where(_TASKS.c.id == task_id))
    await notify(session, {"id": new_id, "owner": str(owner) if owner else None, **payload})
    return int(new_id)


async def notify(session: AsyncSession, payload: dict[str, Any]) -> None:
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        await session.execute(select(func.pg_notify(CHANNEL, json.dumps(payload, separators=(",", ":")))))
    else:
        session.sync_session.info.setdefault(PENDING_KEY, []).append(payload)
