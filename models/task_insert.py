"""A new task in one round trip (Postgres): the row, its ``created`` event and the NOTIFY as one
statement, run in autocommit — a single statement is atomic, so no BEGIN/COMMIT is needed.

    WITH new_task AS (INSERT INTO task (...) VALUES (...) RETURNING id),
         new_event AS (INSERT INTO task_event (...) SELECT new_task.id, ... FROM new_task RETURNING id)
    SELECT new_event.id, pg_notify('taskdeck', '{"id":' || new_event.id || ',"owner":…' || :tail)
    FROM new_event

Built once at import (a reused statement keeps its compiled form). The API's single create
without a profile or an idempotency key takes it (``webapp.commands``); everything else keeps
the session path (``models.tasks.create_task``), whose transaction also checks the profile and
stores the idempotent answer.
"""

from __future__ import annotations

import json

from sqlalchemy import String, bindparam, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection

from models.events import created_tail, pg_notify_sql
from models.tables import Task, TaskEvent
from models.types import utcnow

_TASKS = Task.metadata.tables["task"]
_EVENTS = TaskEvent.metadata.tables["task_event"]
_COLUMNS = [c for c in _TASKS.columns]

_new_task = (
    insert(_TASKS)
    .values({c.name: bindparam(f"t_{c.name}", type_=c.type) for c in _COLUMNS})
    .returning(_TASKS.c.id)
    .cte("new_task")
)
_new_event = (
    insert(_EVENTS)
    .from_select(
        ["task_id", "at", "kind", "status", "message"],
        select(
            _new_task.c.id,
            bindparam("e_at", type_=_EVENTS.c.at.type),
            literal("state", String),
            bindparam("e_status", type_=String),
            literal("created", String),
        ),
    )
    .returning(_EVENTS.c.id)
    .cte("new_event")
)
_INSERT_AND_NOTIFY = select(
    _new_event.c.id, pg_notify_sql(_new_event.c.id, bindparam("e_owner", type_=String))
)


async def insert_task(conn: AsyncConnection, task: Task) -> int:
    """INSERT ``task`` (built by ``models.tasks.build_task``) with its ``created`` event and
    NOTIFY in one statement on ``conn`` (Postgres; autocommit or a transaction). Returns the
    event id."""
    params = {f"t_{c.name}": getattr(task, c.key) for c in _COLUMNS}
    params["e_at"] = utcnow()
    params["e_status"] = task.status
    params["e_owner"] = json.dumps(str(task.owner_id)) if task.owner_id else "null"
    params["e_rest"] = created_tail(task.id, task.status)
    result = await conn.execute(_INSERT_AND_NOTIFY, params)
    return int(result.scalar_one())
