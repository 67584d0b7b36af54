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

from sqlalchemy import ColumnElement, String, bindparam, cast, func, insert, literal, select
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


def pg_notify_sql(event_id: ColumnElement[Any], owner_json: ColumnElement[Any]) -> ColumnElement[Any]:
    """``pg_notify('taskdeck', '{"id":<event_id>,"owner":<owner_json>' || :e_rest)``: the
    payload built in SQL around the new event id (``e_rest`` from ``payload_tail``)."""
    return func.pg_notify(
        literal(CHANNEL, String),
        literal('{"id":', String)
        + cast(event_id, String)
        + literal(',"owner":', String)
        + owner_json
        + bindparam("e_rest", type_=String),
    )


_INSERT_AND_NOTIFY = select(_inserted.c.id, pg_notify_sql(_inserted.c.id, _OWNER_JSON))


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
    created: bool = False,
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
    payload = _payload(
        task_id, kind, status=status, step=step, progress=progress, attempt=attempt, created=created
    )
    if session.get_bind().dialect.name == "postgresql":
        params["e_rest"] = payload_tail(payload)
        params["e_owner_of"] = task_id
        result = await session.execute(_INSERT_AND_NOTIFY, params)
        return int(result.scalar_one())
    new_id = (await session.execute(_INSERT, params)).scalar_one()
    assert new_id is not None
    owner = await session.scalar(select(_TASKS.c.owner_id).where(_TASKS.c.id == task_id))
    await notify(session, {"id": new_id, "owner": str(owner) if owner else None, **payload})
    return int(new_id)


def _payload(
    task_id: uuid.UUID,
    kind: str,
    *,
    status: str | None = None,
    step: str | None = None,
    progress: int | None = None,
    attempt: int | None = None,
    created: bool = False,
) -> dict[str, Any]:
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
    if created:  # a new task: pages re-read which tasks they show
        payload["created"] = True
    return payload


def payload_tail(payload: dict[str, Any]) -> str:
    """``',"task":…}'``: the NOTIFY payload after ``{"id":N,"owner":…`` (spliced in SQL)."""
    return "," + json.dumps(payload, separators=(",", ":"))[1:]


def created_tail(task_id: uuid.UUID, status: str) -> str:
    """The payload tail of a new task's ``state`` event (``models.task_insert``)."""
    return payload_tail(_payload(task_id, "state", status=status, created=True))


async def notify(session: AsyncSession, payload: dict[str, Any]) -> None:
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        await session.execute(select(func.pg_notify(CHANNEL, json.dumps(payload, separators=(",", ":")))))
    else:
        session.sync_session.info.setdefault(PENDING_KEY, []).append(payload)
