"""A person's start (``execute``, ``start``, ``retry``) in one round trip (Postgres): the guarded
move with the owner rule in its WHERE, the ``state`` event and the NOTIFY as one statement, run in
autocommit — a single statement is atomic, so no BEGIN/COMMIT is needed.

    WITH moved AS (UPDATE task SET status = 'queued', … WHERE id = :id AND status IN (…)
                     [AND owner_id = :me] AND NOT EXISTS (a watch's listing of it) RETURNING task.*),
         new_event AS (INSERT INTO task_event (…) SELECT … FROM moved RETURNING id)
    SELECT moved.*, pg_notify('taskdeck', json_build_object('id', new_event.id, …)::text)
    FROM moved, new_event

No row means "not this way": no such task, not the viewer's, a state it cannot start from, or a
watch's listing (whose watch settles in the same transaction, ``models.watch_outcomes``). The
caller then takes the session path (``models.tasks.start_task``), which says which (404 or 409)
and settles the watch. The statements are built once per (sources, owner rule) at first use.
"""

from __future__ import annotations

import time
import uuid
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Float,
    String,
    bindparam,
    cast,
    exists,
    func,
    literal,
    literal_column,
    select,
    true,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Select

from models.events import CHANNEL
from models.moves import status_in
from models.states import TaskStatus
from models.tables import Task, TaskEvent
from models.tasks import start_message, start_sources, start_values
from models.types import utcnow
from models.watch_tables import WatchListing

_TASKS = Task.metadata.tables["task"]
_EVENTS = TaskEvent.metadata.tables["task_event"]
_LISTINGS = WatchListing.metadata.tables["watch_listing"]


@lru_cache(maxsize=8)
def _statement(allowed: tuple[str, ...], owned: bool) -> Select[Any]:
    t = _TASKS.c
    now = bindparam("s_now", type_=t.updated_at.type)
    where = [
        t.id == bindparam("s_id", type_=t.id.type),
        status_in(allowed),
        t.owner_id == bindparam("s_owner", type_=t.owner_id.type) if owned else true(),
        ~exists().where(_LISTINGS.c.task_id == t.id),
    ]
    moved = (
        update(_TASKS)
        .where(*where)
        .values(status=TaskStatus.QUEUED.value, updated_at=now, **start_values(now))
        .returning(*_TASKS.c)
        .cte("moved")
    )
    event = (
        _EVENTS.insert()
        .from_select(
            ["task_id", "at", "kind", "status", "step", "progress", "message"],
            select(
                moved.c.id,
                now,
                literal("state", String),
                moved.c.status,
                moved.c.step,
                moved.c.progress,
                bindparam("s_message", type_=String),
            ),
        )
        .returning(_EVENTS.c.id)
        .cte("new_event")
    )
    fields: dict[str, Any] = {  # ``models.events.publish``'s payload
        "id": event.c.id,
        "owner": moved.c.owner_id,
        "task": moved.c.id,
        "kind": literal_column("'state'"),
        "status": moved.c.status,
        "step": moved.c.step,
        "progress": moved.c.progress,
        "ts": bindparam("s_ts", type_=Float),
        "attempt": moved.c.attempt,
    }
    pairs: list[Any] = []
    for key, value in fields.items():
        pairs += [literal_column(f"'{key}'"), value]
    payload = func.json_build_object(*pairs)
    notified = func.pg_notify(literal(CHANNEL, String), cast(payload, String))
    return select(*moved.c, notified.label("notified")).select_from(moved.join(event, true()))


async def start_now(
    conn: AsyncConnection, *, task_id: uuid.UUID, action: str, owner_id: uuid.UUID | None
) -> Task | None:
    """Queue the task now in one statement on ``conn`` (Postgres, autocommit), if it is
    ``owner_id``'s (None: anyone's, an admin), may start from its state and is no watch's
    listing; else None and nothing changed (the caller takes the session path)."""
    allowed = tuple(sorted(s.value for s in start_sources(action)))
    params = {
        "s_id": task_id,
        "s_owner": owner_id,
        "s_now": utcnow(),
        "s_message": start_message(action),
        "s_ts": round(time.time(), 3),  # the writer's clock, as ``publish`` stamps it
    }
    row = (await conn.execute(_statement(allowed, owner_id is not None), params)).first()
    if row is None:
        return None
    values = row._asdict()
    values.pop("notified")
    return Task(**values)
