"""Webhooks: a user's hooks, the delivery outbox, and each try of a delivery.

An event becomes ``webhook_delivery`` rows **in the transaction that records it** (an outbox):
committed with the outcome, gone with a rollback, so no event is lost and none is invented.
The rows are written by ``INSERT … SELECT FROM webhook WHERE <owner subscribes>``, which writes
nothing when nobody listens; on Postgres the worker's outcome and purchase statements carry
that INSERT as one more CTE (``outbox_cte``), so a task whose owner has no webhooks costs no
extra round trip. The workers' delivery loop (``workers/webhooks.py``) claims due rows
(``FOR UPDATE SKIP LOCKED`` on Postgres), POSTs them and records every try here; a claimed row's
``next_at`` moves ahead while it is in flight, so a worker that dies mid-POST leaves it due again.

Hooks are their owner's only (admins included: a hook carries a personal secret); another
user's hook id reads as missing. ``worker.lost`` is for admins' hooks only.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Executable,
    Integer,
    String,
    bindparam,
    case,
    delete,
    exists,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.selectable import CTE
from sqlalchemy.types import Uuid
from sqlmodel import col

from models.access import Viewer
from models.clock import db_now
from models.errors import ValidationFailed
from models.schemas import WebhookCreate
from models.states import TaskStatus
from models.tables import Task, Webhook, WebhookAttempt, WebhookDelivery
from models.vault import Vault

EVENTS = (
    "task.completed",
    "task.failed",
    "purchase.created",
    "monitor.in_stock",
    "worker.lost",
    "watch.bought",
)
ADMIN_EVENTS = frozenset({"worker.lost"})
TEST_EVENT = "webhook.test"
FORMATS = ("json", "discord", "slack")
OUTCOME_EVENTS = {TaskStatus.COMPLETED: "task.completed", TaskStatus.FAILED: "task.failed"}

HOOKS = Webhook.metadata.tables["webhook"]
DELIVERIES = Webhook.metadata.tables["webhook_delivery"]
USERS = Webhook.metadata.tables["user"]


def new_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(24)}"


def task_payload(task: Task, *, status: str, error: str | None = None) -> dict[str, Any]:
    """What an event tells about a task: never a profile, an account or anything typed."""
    return {
        "task": {
            "id": str(task.id),
            "name": task.name,
            "store": task.store,
            "product": task.product,
            "status": status,
            "attempt": task.attempt,
            "error": error,
        }
    }


# ---- the outbox ---------------------------------------------------------------------------


def _subscribed(pattern: Any) -> Any:
    return (literal(",", String) + HOOKS.c.events + literal(",", String)).like(pattern)


def _outbox_insert(where: list[Any], *, enabled_only: bool = True) -> Any:
    """``INSERT INTO webhook_delivery … SELECT <hook>, :event, :payload … FROM webhook WHERE
    enabled AND subscribed AND <where>`` (bind parameters ``w_event``, ``w_pattern``,
    ``w_payload``)."""
    rows = select(
        HOOKS.c.id,
        bindparam("w_event", type_=String()),
        bindparam("w_payload", type_=DELIVERIES.c.payload.type),
        literal("pending", String),
        literal(0, Integer),
        db_now(),
        db_now(),
    ).where(_subscribed(bindparam("w_pattern", type_=String())), *where)
    if enabled_only:
        rows = rows.where(HOOKS.c.enabled)
    return insert(DELIVERIES).from_select(
        ["webhook_id", "event", "payload", "status", "tries", "next_at", "created_at"], rows
    )


_FOR_OWNER = _outbox_insert([HOOKS.c.owner_id == bindparam("w_owner", type_=Uuid())])
_FOR_ADMINS = _outbox_insert(
    [HOOKS.c.owner_id.in_(select(USERS.c.id).where(USERS.c.is_admin, USERS.c.disabled.is_(False)))]
)
_FOR_HOOK = _outbox_insert([HOOKS.c.id == bindparam("w_hook", type_=Uuid())], enabled_only=False).returning(
    DELIVERIES.c.id
)


def outbox_params(event: str, payload: dict[str, Any], owner_id: uuid.UUID | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"w_event": event, "w_pattern": f"%,{event},%", "w_payload": payload}
    if owner_id is not None:
        params["w_owner"] = owner_id
    return params


def outbox_cte(written: CTE, *, status: str | None = None) -> CTE:
    """The owner's deliveries as a CTE of a larger statement: rows only if ``written`` (the
    statement's own UPDATE or INSERT … RETURNING) returned a row — with ``status`` = the
    expected new state, when given. Bind ``outbox_params(event, payload, owner)``."""
    guard = select(literal(1)).select_from(written)
    if status is not None:
        guard = guard.where(written.c.status == literal(status, String))
    return _outbox_insert([HOOKS.c.owner_id == bindparam("w_owner", type_=Uuid()), exists(guard)]).cte(
        f"outbox_{written.name}"
    )


async def enqueue(
    session: AsyncSession,
    *,
    event: str,
    payload: dict[str, Any],
    owner_id: uuid.UUID | None = None,
    admins: bool = False,
) -> int:
    """Deliveries of ``event`` to the owner's subscribed hooks (or every admin's, for
    ``worker.lost``), in the caller's transaction. Returns how many were written (often 0).
    This is how other parts emit events (``monitor.in_stock``, for example)."""
    if event in ADMIN_EVENTS or admins:
        stmt: Executable = _FOR_ADMINS
    elif owner_id is None:
        return 0
    else:
        stmt = _FOR_OWNER
    result = await session.execute(stmt, outbox_params(event, payload, owner_id))
    return int(getattr(result, "rowcount", 0) or 0)


async def enqueue_test(session: AsyncSession, *, hook: Webhook) -> int:
    """A ``webhook.test`` delivery to this one hook (enabled or not); returns its id."""
    payload = {"message": "A test from Taskdeck: this webhook works."}
    params = {"w_event": TEST_EVENT, "w_pattern": "%", "w_payload": payload, "w_hook": hook.id}
    return int((await session.execute(_FOR_HOOK, params)).scalar_one())


# ---- a user's hooks -----------------------------------------------------------------------


async def create_webhook(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    url: str,
    events: list[str],
    format: str,
    sealed_secret: str,
    enabled: bool = True,
) -> Webhook:
    hook = Webhook(
        owner_id=owner_id,
        url=url,
        events=",".join(dict.fromkeys(events)),
        format=format,
        secret=sealed_secret,
        enabled=enabled,
    )
    session.add(hook)
    await session.flush()
    return hook


def _mine(viewer: Viewer) -> Any:
    return col(Webhook.owner_id) == viewer.user_id


async def list_webhooks(session: AsyncSession, *, viewer: Viewer) -> list[Webhook]:
    rows = await session.scalars(select(Webhook).where(_mine(viewer)).order_by(col(Webhook.created_at)))
    return list(rows.all())


async def get_webhook(session: AsyncSession, *, viewer: Viewer, webhook_id: uuid.UUID) -> Webhook | None:
    return await session.scalar(select(Webhook).where(col(Webhook.id) == webhook_id, _mine(viewer)))


async def delete_webhook(session: AsyncSession, *, viewer: Viewer, webhook_id: uuid.UUID) -> bool:
    result = await session.execute(
        delete(Webhook).where(col(Webhook.id) == webhook_id, _mine(viewer)).returning(col(Webhook.id))
    )
    return result.first() is not None


@dataclass(frozen=True)
class DeliveryLog:
    delivery: WebhookDelivery
    attempts: list[WebhookAttempt]


async def list_deliveries(
    session: AsyncSession, *, viewer: Viewer, webhook_id: uuid.UUID, limit: int = 50, only: int | None = None
) -> list[DeliveryLog] | None:
    """The hook's newest deliveries (or delivery ``only``) with their tries; None when the
    viewer has no such hook."""
    if await get_webhook(session, viewer=viewer, webhook_id=webhook_id) is None:
        return None
    query = select(WebhookDelivery).where(col(WebhookDelivery.webhook_id) == webhook_id)
    if only is not None:
        query = query.where(col(WebhookDelivery.id) == only)
    deliveries = list(
        (await session.scalars(query.order_by(col(WebhookDelivery.id).desc()).limit(limit))).all()
    )
    ids = [d.id for d in deliveries]
    tries: dict[int, list[WebhookAttempt]] = {i: [] for i in ids if i is not None}
    if ids:
        for attempt in await session.scalars(
            select(WebhookAttempt)
            .where(col(WebhookAttempt.delivery_id).in_(ids))
            .order_by(col(WebhookAttempt.id))
        ):
            tries[attempt.delivery_id].append(attempt)
    return [DeliveryLog(d, tries.get(d.id or 0, [])) for d in deliveries]


# ---- delivering ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Due:
    """A claimed delivery and what is needed to send it."""

    id: int
    event: str
    payload: dict[str, Any]
    tries: int  # this try's number
    created_at: Any
    url: str
    format: str
    sealed_secret: str


async def claim_due(
    session: AsyncSession, *, limit: int, in_flight: float, only: int | None = None
) -> list[Due]:
    """Claim up to ``limit`` due pending deliveries (or just delivery ``only``): their try count
    goes up and ``next_at`` moves ``in_flight`` seconds ahead (a worker that dies mid-POST
    leaves them due again)."""
    postgres = session.get_bind().dialect.name == "postgresql"
    due = (
        select(col(WebhookDelivery.id))
        .where(col(WebhookDelivery.status) == "pending", col(WebhookDelivery.next_at) <= db_now())
        .order_by(col(WebhookDelivery.next_at))
        .limit(limit)
    )
    if only is not None:
        due = due.where(col(WebhookDelivery.id) == only)
    if postgres:
        due = due.with_for_update(skip_locked=True)
    claimed = (
        update(WebhookDelivery)
        .where(col(WebhookDelivery.id).in_(due.scalar_subquery()), col(WebhookDelivery.status) == "pending")
        .values(tries=col(WebhookDelivery.tries) + 1, next_at=db_now(in_flight))
        .returning(
            col(WebhookDelivery.id),
            col(WebhookDelivery.webhook_id),
            col(WebhookDelivery.event),
            col(WebhookDelivery.payload),
            col(WebhookDelivery.tries),
            col(WebhookDelivery.created_at),
        )
        .execution_options(synchronize_session=False)
    )
    rows = (await session.execute(claimed)).all()
    if not rows:
        return []
    hooks = {
        h.id: h
        for h in await session.scalars(select(Webhook).where(col(Webhook.id).in_({r[1] for r in rows})))
    }
    return [
        Due(
            id=r[0],
            event=r[2],
            payload=r[3],
            tries=r[4],
            created_at=r[5],
            url=hooks[r[1]].url,
            format=hooks[r[1]].format,
            sealed_secret=hooks[r[1]].secret,
        )
        for r in rows
        if r[1] in hooks
    ]


async def record_try(
    session: AsyncSession,
    *,
    due: Due,
    status_code: int | None,
    error: str | None,
    duration_ms: int,
    retry_in: float,
    retry_for: float,
) -> str:
    """Log one try and settle the delivery: ``delivered`` on a 2xx; else due again in
    ``retry_in`` seconds, or ``failed`` once it is ``retry_for`` seconds old (the database's
    clock). Guarded by the try number, so a stale claimer never overwrites a newer try.
    Returns the delivery's status (``""`` when the row moved on without this try)."""
    session.add(
        WebhookAttempt(delivery_id=due.id, status_code=status_code, error=error, duration_ms=duration_ms)
    )
    ok = status_code is not None and 200 <= status_code < 300
    expired = col(WebhookDelivery.created_at) < db_now(-retry_for)
    values: dict[str, Any] = {"last_code": status_code}
    if ok:
        values |= {"status": "delivered", "delivered_at": db_now()}
    else:
        values |= {
            "status": case((expired, literal("failed", String)), else_=literal("pending", String)),
            "next_at": db_now(retry_in),
        }
    row = (
        await session.execute(
            update(WebhookDelivery)
            .where(
                col(WebhookDelivery.id) == due.id,
                col(WebhookDelivery.tries) == due.tries,
                col(WebhookDelivery.status) == "pending",
            )
            .values(values)
            .returning(col(WebhookDelivery.status))
            .execution_options(synchronize_session=False)
        )
    ).first()
    return str(row[0]) if row else ""


async def register(
    session: AsyncSession, *, viewer: Viewer, data: WebhookCreate, vault: Vault
) -> tuple[Webhook, str]:
    """The one way a hook is made (API and Settings page): returns it and its secret, which is
    stored sealed and shown this once."""
    if not viewer.is_admin and ADMIN_EVENTS & set(data.events):
        raise ValidationFailed("events: worker.lost is for admins only")
    secret = new_secret()
    hook = await create_webhook(
        session,
        owner_id=viewer.user_id,
        url=str(data.url),
        events=list(data.events),
        format=data.format,
        sealed_secret=vault.seal({"secret": secret}),
        enabled=data.enabled,
    )
    return hook, secret
