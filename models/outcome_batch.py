"""The outcomes of several runs in one round trip (the worker's group commit, Postgres).

``record_outcomes`` writes, for every run in the batch, exactly what ``outcomes.record_purchase``
then ``outcomes.record_outcome`` write for one: the purchase row (``ON CONFLICT (task_id) DO
NOTHING``: at most one per task, written even when the outcome is refused), the guarded move
(``status IN ('running', 'action_needed') AND lease = the run's lease``; a pending cancel turns a
hand-on into ``cancelled``), the attempt row closed, the ``state`` event, its NOTIFY, and the
owner's webhook deliveries (``task.completed`` / ``task.failed`` when the move reached that state,
``purchase.created`` when the purchase row is new). On Postgres all of that is ONE statement over
a JSON list of the runs (``jsonb_to_recordset``), whose rows are locked in id order (the
heartbeat locks in the same order: no deadlock between them).

A run whose outcome has values this statement does not carry (a SQL expression such as a retry's
``run_at`` on the database's clock, an unusual column) and every run on SQLite go through the
one-run functions instead, in the same transaction.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ClauseElement, text
from sqlalchemy.ext.asyncio import AsyncSession

from models import outcomes, webhooks
from models.errors import InvalidTransition
from models.events import CHANNEL
from models.moves import YIELDS_TO_CANCEL
from models.states import TaskStatus
from models.tables import Task
from models.types import utcnow

S = TaskStatus

# task columns an outcome may set in the batch statement, with their Postgres types
FAST_COLUMNS = {
    "error": "text",
    "finished_at": "timestamptz",
    "worker_id": "text",
    "progress": "integer",
    "result": "json",
    "checks": "integer",
    "last_check": "text",
    "last_check_at": "timestamptz",
    "attempt": "integer",
    "queued_at": "timestamptz",
    "kicked_at": "timestamptz",
}
PURCHASE_COLUMNS = {
    "task_id": "uuid",
    "owner_id": "uuid",
    "store": "text",
    "product": "text",
    "product_name": "text",
    "quantity": "integer",
    "unit_price": "numeric",
    "total": "numeric",
    "currency": "text",
    "order_number": "text",
    "screenshot": "text",
    "created_at": "timestamptz",
    "hook_payload": "jsonb",  # purchase.created for the owner's hooks (null: no owner)
}


@dataclass
class Outcome:
    """One run's ending, as ``outcomes.record_outcome`` takes it, plus its purchase (or None)."""

    task: Task
    to: TaskStatus
    outcome: str
    error: str | None
    values: Mapping[str, Any]
    purchase: Mapping[str, Any] | None = None
    message: str | None = None


def _set_clause(name: str) -> str:
    return f"{name} = CASE WHEN i.sets LIKE '%,{name},%' THEN i.{name} ELSE task.{name} END"


def _statement() -> str:
    columns = ", ".join(f"{name} {kind}" for name, kind in FAST_COLUMNS.items())
    bought_columns = ", ".join(f"{name} {kind}" for name, kind in PURCHASE_COLUMNS.items())
    inserted = [name for name in PURCHASE_COLUMNS if name != "hook_payload"]
    yields = ", ".join(f"'{s}'" for s in sorted(YIELDS_TO_CANCEL))
    held = "'action_needed', 'running'"
    sets = ",\n        ".join(
        _set_clause(name) for name in FAST_COLUMNS if name not in ("error", "finished_at")
    )
    return f"""
WITH input AS (
    SELECT * FROM jsonb_to_recordset(CAST(:items AS jsonb)) AS i(
        id uuid, lease uuid, number integer, to_status text, outcome text, message text,
        at timestamptz, closed_at timestamptz, hook_event text, hook_payload jsonb, sets text,
        {columns})
), locked AS (
    SELECT task.id FROM task WHERE task.id IN (SELECT id FROM input) ORDER BY task.id FOR NO KEY UPDATE
), bought AS (
    INSERT INTO purchase ({", ".join(inserted)})
    SELECT {", ".join(f"b.{name}" for name in inserted)}
    FROM jsonb_to_recordset(CAST(:purchases AS jsonb)) AS b({bought_columns})
    ON CONFLICT (task_id) DO NOTHING
    RETURNING purchase.task_id
), moved AS (
    UPDATE task SET
        status = CASE WHEN i.to_status IN ({yields}) AND task.cancel_requested
            THEN 'cancelled' ELSE i.to_status END,
        error = CASE WHEN i.to_status IN ({yields}) AND task.cancel_requested
            THEN 'cancelled by user' WHEN i.sets LIKE '%,error,%' THEN i.error ELSE task.error END,
        finished_at = CASE WHEN i.to_status IN ({yields}) AND task.cancel_requested THEN i.at
            WHEN i.sets LIKE '%,finished_at,%' THEN i.finished_at ELSE task.finished_at END,
        updated_at = i.at,
        {sets}
    FROM input i
    WHERE task.id = i.id AND task.lease = i.lease AND task.status IN ({held})
        AND task.id IN (SELECT id FROM locked)
    RETURNING task.id, task.lease, task.status, task.step, task.progress, task.attempt, task.owner_id
), closed AS (
    UPDATE task_attempt SET
        finished_at = i.closed_at,
        outcome = CASE WHEN m.status = 'cancelled' THEN 'cancelled' ELSE i.outcome END,
        error = i.error
    FROM moved m JOIN input i ON i.id = m.id AND i.lease = m.lease
    WHERE task_attempt.task_id = m.id AND task_attempt.number = i.number
        AND task_attempt.finished_at IS NULL
), event AS (
    INSERT INTO task_event (task_id, at, kind, status, step, progress, message)
    SELECT m.id, i.at, 'state', m.status, m.step, m.progress, i.message
    FROM moved m JOIN input i ON i.id = m.id AND i.lease = m.lease
    RETURNING task_event.id, task_event.task_id
), outbox AS (
    INSERT INTO webhook_delivery (webhook_id, event, payload, status, tries, next_at, created_at)
    SELECT h.id, o.event, o.payload, 'pending', 0, clock_timestamp(), clock_timestamp()
    FROM (
        SELECT i.hook_event AS event, i.hook_payload AS payload, m.owner_id
        FROM moved m JOIN input i ON i.id = m.id AND i.lease = m.lease
        WHERE i.hook_event IS NOT NULL AND m.status = i.to_status
        UNION ALL
        SELECT 'purchase.created', b.hook_payload, b.owner_id
        FROM bought n JOIN jsonb_to_recordset(CAST(:purchases AS jsonb)) AS b({bought_columns})
            ON b.task_id = n.task_id
        WHERE b.hook_payload IS NOT NULL
    ) o
    JOIN webhook h ON h.owner_id = o.owner_id AND h.enabled
        AND (',' || h.events || ',') LIKE '%,' || o.event || ',%'
)
SELECT m.lease, pg_notify('{CHANNEL}', CAST(json_build_object(
    'id', e.id, 'owner', m.owner_id, 'task', m.id, 'kind', 'state', 'status', m.status,
    'step', m.step, 'progress', m.progress, 'ts', CAST(:ts AS float8), 'attempt', m.attempt) AS text))
FROM moved m JOIN event e ON e.task_id = m.id
"""


_STATEMENT = text(_statement())


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    return value


def _fits(values: Mapping[str, Any], purchase: Mapping[str, Any] | None) -> bool:
    """Can the batch statement carry this outcome (plain values of its columns, a whole purchase)?"""
    if any(isinstance(v, ClauseElement) for v in values.values()) or not set(values) <= set(FAST_COLUMNS):
        return False
    return purchase is None or set(purchase) == set(PURCHASE_COLUMNS) - {"hook_payload"}


def one_statement(items: Sequence[Outcome], *, worker_id: str) -> bool:
    """Does the batch go as one statement on Postgres (then it needs no transaction around it)?"""
    for item in items:
        values = outcomes.outcome_values(item.to, worker_id, item.error, dict(item.values))
        purchase = outcomes.purchase_row(item.task, item.purchase) if item.purchase is not None else None
        if not _fits(values, purchase):
            return False
    return True


async def record_outcomes(
    session: AsyncSession, *, worker_id: str, items: Sequence[Outcome]
) -> set[uuid.UUID]:
    """Write the batch in the caller's transaction → the leases whose outcome was written (a
    lease missing: the run no longer held its task, nothing of its outcome was written; its
    purchase, if any, was)."""
    postgres = session.get_bind().dialect.name == "postgresql"
    written: set[uuid.UUID] = set()
    rows: list[dict[str, Any]] = []
    bought: list[dict[str, Any]] = []
    now = utcnow()
    for item in items:
        task = item.task
        assert task.lease is not None
        values = outcomes.outcome_values(item.to, worker_id, item.error, dict(item.values))
        purchase = outcomes.purchase_row(task, item.purchase) if item.purchase is not None else None
        if not postgres or not _fits(values, purchase):
            await _one(session, worker_id=worker_id, item=item, written=written)
            continue
        event = webhooks.OUTCOME_EVENTS.get(item.to) if task.owner_id is not None else None
        row = {name: _plain(value) for name, value in values.items()}
        row.update(
            id=str(task.id),
            lease=str(task.lease),
            number=task.attempt,
            to_status=item.to.value,
            outcome=item.outcome,
            message=item.message or item.error or item.outcome,
            at=now.isoformat(),
            closed_at=now.isoformat(),
            hook_event=event,
            hook_payload=webhooks.task_payload(task, status=item.to.value, error=item.error)
            if event
            else None,
            sets="," + ",".join(values) + ",",
        )
        rows.append(row)
        if purchase is not None:
            hook = outcomes.purchase_payload(task, purchase) if task.owner_id is not None else None
            bought.append({**{k: _plain(v) for k, v in purchase.items()}, "hook_payload": hook})
    if rows:
        params = {
            "items": json.dumps(sorted(rows, key=lambda r: r["id"])),
            "purchases": json.dumps(bought),
            "ts": round(time.time(), 3),
        }
        result = await session.execute(_STATEMENT, params)
        written.update(uuid.UUID(str(lease)) for lease, _ in result.all())
    return written


async def _one(session: AsyncSession, *, worker_id: str, item: Outcome, written: set[uuid.UUID]) -> None:
    if item.purchase is not None:  # purchases first: a refused outcome never takes one back
        await outcomes.record_purchase(session, task=item.task, purchase=item.purchase)
    try:
        await outcomes.record_outcome(
            session,
            task=item.task,
            worker_id=worker_id,
            to=item.to,
            outcome=item.outcome,
            error=item.error,
            values=dict(item.values),
            message=item.message,
        )
    except InvalidTransition:
        return
    assert item.task.lease is not None
    written.add(item.task.lease)
