"""Every read of owned rows, for the API and the pages alike: the owner rule lives here.

Tasks, their events, attempts and purchases, profiles, accounts, workers and stats. Each read
takes ``viewer`` (keyword-only) and sees the viewer's own rows only; an admin sees everyone's
(``owner`` narrows an admin's view to one user). Another user's id reads as missing
(``TaskNotFound`` or ``None``), never as forbidden, so existence is not revealed. All async and
read-only; writes are in ``models.tasks`` and the command path (``webapp.commands``).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, String, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models import failures, history_queries, profile_queries, purchase_queries
from models.access import Viewer, owned
from models.errors import TaskNotFound
from models.states import TaskStatus
from models.tables import Purchase, Task, TaskAttempt, Worker
from models.types import utcnow

# purchases are read in models.purchase_queries; the one read layer offers them here too
PurchaseFilter = purchase_queries.PurchaseFilter
StoreTotal = purchase_queries.StoreTotal
list_purchases = purchase_queries.list_purchases
each_purchase = purchase_queries.each_purchase
spent = purchase_queries.spent
store_totals = purchase_queries.store_totals
purchase_stores = purchase_queries.purchase_stores
# a task's history (attempts, events) and the settings' rows (profiles, accounts, owners) too
task_attempts = history_queries.task_attempts
task_events = history_queries.task_events
events_after = history_queries.events_after
RECENT_EVENTS = history_queries.RECENT_EVENTS
recent_events = history_queries.recent_events
EventCatchUp = history_queries.EventCatchUp
list_profiles = profile_queries.list_profiles
get_profile = profile_queries.get_profile
profile_usable = profile_queries.profile_usable
list_accounts = profile_queries.list_accounts
get_account = profile_queries.get_account
owner_emails = profile_queries.owner_emails

S = TaskStatus
FINISHED = (S.COMPLETED.value, S.FAILED.value)
ORDERS = {
    "created": col(Task.created_at),
    "updated": col(Task.updated_at),
    "priority": col(Task.priority),
    "name": col(Task.name),
    "status": col(Task.status),
}


# ---- tasks ----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class TaskFilter:
    """Which tasks a list or a bulk action means: the dashboard's filters and the API's
    ``filter`` object are both this, so "all matching" is the same set on the page and over the API.

    Every field narrows (all unset: every task the viewer may see). ``search`` matches text in
    the name, the product or the order number (case-insensitive, ``%``/``_`` taken literally), or
    the task's id: a whole UUID, or the first 4-8 hex digits of one as the pages show it.
    ``worker`` is a worker id that ran any attempt of the task. ``created_from`` is inclusive,
    ``created_to`` exclusive. ``failure`` (a signature from ``models.failures``) is matched in
    Python, not SQL: only ``matching_task_ids`` and ``count_tasks`` take it; ``clauses`` leaves it
    out."""

    statuses: tuple[str, ...] = ()
    store: str | None = None
    mode: str | None = None
    worker: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    search: str | None = None
    owner: uuid.UUID | None = None  # an admin's view narrowed to one user
    failure: str | None = None  # a signature of ``models.failures``: that group's failing tasks

    def clauses(self, viewer: Viewer) -> list[ColumnElement[bool]]:
        """WHERE clauses: the viewer's tasks (the owner rule) that this filter selects."""
        filters = owned(viewer, col(Task.owner_id), self.owner)
        if self.statuses:
            filters.append(col(Task.status).in_(list(self.statuses)))
        if self.store:
            filters.append(col(Task.store) == self.store)
        if self.mode:
            filters.append(col(Task.mode) == self.mode)
        if self.worker:
            ran_there = select(col(TaskAttempt.task_id)).where(col(TaskAttempt.worker_id) == self.worker)
            filters.append(or_(col(Task.worker_id) == self.worker, col(Task.id).in_(ran_there)))
        if self.created_from is not None:
            filters.append(col(Task.created_at) >= self.created_from)
        if self.created_to is not None:
            filters.append(col(Task.created_at) < self.created_to)
        if self.search and self.search.strip():
            filters.append(_search(self.search.strip()))
        return filters


def _search(text: str) -> ColumnElement[bool]:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    like = f"%{escaped}%"
    ordered = select(col(Purchase.task_id)).where(
        func.lower(col(Purchase.order_number)).like(like, escape="\\")
    )
    matches: list[ColumnElement[bool]] = [
        func.lower(col(Task.name)).like(like, escape="\\"),
        func.lower(col(Task.product)).like(like, escape="\\"),
        col(Task.id).in_(ordered),
    ]
    hexdigits = text.lower().replace("-", "")
    if re.fullmatch(r"[0-9a-f]{32}", hexdigits):
        matches.append(col(Task.id) == uuid.UUID(hexdigits))
    elif re.fullmatch(r"[0-9a-f]{4,8}", hexdigits):  # the leading digits, before the first dash
        matches.append(func.lower(cast(col(Task.id), String)).like(f"{hexdigits}%"))
    return or_(*matches)


async def get_task(session: AsyncSession, task_id: uuid.UUID, *, viewer: Viewer) -> Task:
    """The task, if the viewer may see it; else ``TaskNotFound`` (the same as no such task)."""
    task = await session.scalar(
        select(Task)
        .where(col(Task.id) == task_id, *owned(viewer, col(Task.owner_id)))
        .execution_options(populate_existing=True)
    )
    if task is None:
        raise TaskNotFound(f"no task with id {task_id}")
    return task


async def get_tasks(session: AsyncSession, task_ids: list[uuid.UUID], *, viewer: Viewer) -> list[Task]:
    """Those of the tasks that the viewer may see (any order; the others are left out)."""
    rows = await session.scalars(
        select(Task)
        .where(col(Task.id).in_(task_ids), *owned(viewer, col(Task.owner_id)))
        .execution_options(populate_existing=True)
    )
    return list(rows)


async def list_tasks(
    session: AsyncSession,
    *,
    viewer: Viewer,
    where: TaskFilter = TaskFilter(),
    limit: int = 50,
    offset: int = 0,
    order: str = "-created",
) -> tuple[list[Task], int]:
    """A page of the viewer's tasks that ``where`` selects, and how many match in all."""
    filters = where.clauses(viewer)
    count = await session.scalar(select(func.count()).select_from(Task).where(*filters)) or 0
    column = ORDERS.get(order.lstrip("-"), col(Task.created_at))
    ordering = column.desc() if order.startswith("-") else column.asc()
    rows = await session.scalars(
        select(Task).where(*filters).order_by(ordering, col(Task.id)).limit(limit).offset(offset)
    )
    return list(rows), count


async def matching_task_ids(
    session: AsyncSession, *, viewer: Viewer, where: TaskFilter = TaskFilter(), limit: int
) -> list[uuid.UUID]:
    """Ids of the viewer's tasks a filter selects ("all matching"), newest first, at most ``limit``;
    with ``where.failure``: only the failing tasks of that signature (``models.failures``)."""
    if where.failure is not None:
        return await failures.task_ids_failing_with(
            session, filters=where.clauses(viewer), failure=where.failure, limit=limit
        )
    rows = await session.scalars(
        select(col(Task.id))
        .where(*where.clauses(viewer))
        .order_by(col(Task.created_at).desc(), col(Task.id))
        .limit(limit)
    )
    return list(rows)


async def count_tasks(session: AsyncSession, *, viewer: Viewer, where: TaskFilter = TaskFilter()) -> int:
    """How many of the viewer's tasks ``where`` selects."""
    if where.failure is not None:
        return await failures.count_failing_with(
            session, filters=where.clauses(viewer), failure=where.failure
        )
    return await session.scalar(select(func.count()).select_from(Task).where(*where.clauses(viewer))) or 0


async def task_stores(session: AsyncSession, *, viewer: Viewer) -> list[str]:
    """The stores the viewer's tasks use, sorted (a filter's choices)."""
    rows = await session.scalars(
        select(col(Task.store)).where(*owned(viewer, col(Task.owner_id))).distinct().order_by(col(Task.store))
    )
    return list(rows)


async def task_workers(session: AsyncSession, *, viewer: Viewer, limit: int = 100) -> list[str]:
    """Workers that ran the viewer's tasks, most recent first (a filter's choices)."""
    visible = select(col(Task.id)).where(*owned(viewer, col(Task.owner_id)))
    latest = func.max(col(TaskAttempt.started_at))
    rows = await session.execute(
        select(col(TaskAttempt.worker_id), latest)
        .where(
            col(TaskAttempt.task_id).in_(visible.scalar_subquery()), col(TaskAttempt.worker_id).is_not(None)
        )
        .group_by(col(TaskAttempt.worker_id))
        .order_by(latest.desc())
        .limit(limit)
    )
    return [worker for worker, _ in rows.all() if worker is not None]


async def status_counts(
    session: AsyncSession, *, viewer: Viewer, owner: uuid.UUID | None = None
) -> dict[str, int]:
    rows = await session.execute(
        select(col(Task.status), func.count())
        .where(*owned(viewer, col(Task.owner_id), owner))
        .group_by(col(Task.status))
    )
    counts = {s.value: 0 for s in TaskStatus}
    counts.update({status: n for status, n in rows.all()})
    return counts


# ---- purchases --------------------------------------------------------------------------------


async def purchase_for(session: AsyncSession, task_id: uuid.UUID, *, viewer: Viewer) -> Purchase | None:
    return await session.scalar(
        select(Purchase).where(col(Purchase.task_id) == task_id, *owned(viewer, col(Purchase.owner_id)))
    )


# ---- stats and workers ------------------------------------------------------------------------


async def throughput(
    session: AsyncSession, *, viewer: Viewer, minutes: int = 60, now: datetime | None = None
) -> list[dict[str, Any]]:
    """The viewer's tasks finished per minute (``completed``, ``failed``) over the last ``minutes``,
    by the tasks' ``finished_at``; every minute appears (oldest first), zeros included.

    Buckets are computed in SQL (``date_trunc`` on Postgres, ``strftime`` on SQLite)."""
    now = now or utcnow()
    end = now.replace(second=0, microsecond=0)
    start = end - timedelta(minutes=minutes - 1)
    postgres = session.get_bind().dialect.name == "postgresql"
    finished = col(Task.finished_at)
    bucket = (
        func.to_char(func.date_trunc("minute", func.timezone("UTC", finished)), "YYYY-MM-DD HH24:MI")
        if postgres
        else func.strftime("%Y-%m-%d %H:%M", finished)
    ).label("minute")
    rows = await session.execute(
        select(bucket, col(Task.status), func.count())
        .where(col(Task.status).in_(FINISHED), finished >= start, *owned(viewer, col(Task.owner_id)))
        .group_by(bucket, col(Task.status))
    )
    axis = [start + timedelta(minutes=i) for i in range(minutes)]
    points: dict[str, dict[str, Any]] = {
        m.astimezone(start.tzinfo).strftime("%Y-%m-%d %H:%M"): {"minute": m, "completed": 0, "failed": 0}
        for m in axis
    }
    for minute, status, n in rows.all():
        point = points.get(minute)
        if point is not None and status in FINISHED:
            point[status] += n
    return list(points.values())


async def list_workers(session: AsyncSession, *, viewer: Viewer, gone_for: float = 3600.0) -> list[Worker]:
    """Workers up, stopping, or gone for less than ``gone_for`` seconds: live ones first, then the
    most recently seen. A user sees every worker, but only their own tasks among those running."""
    cutoff = utcnow() - timedelta(seconds=gone_for)
    rows = list(
        await session.scalars(
            select(Worker)
            .where(or_(col(Worker.status) != "gone", col(Worker.last_seen) >= cutoff))
            .order_by((col(Worker.status) == "gone").asc(), col(Worker.last_seen).desc(), col(Worker.id))
            .limit(200)
        )
    )
    if viewer.is_admin:
        return rows
    running = {uuid.UUID(i) for w in rows for i in w.running if _is_uuid(i)}
    mine = set()
    if running:
        mine = {
            str(i)
            for i in await session.scalars(
                select(col(Task.id)).where(col(Task.id).in_(running), *owned(viewer, col(Task.owner_id)))
            )
        }
    for worker in rows:
        session.expunge(worker)  # what this viewer sees is not written back
        worker.running = [i for i in worker.running if i in mine]
    return rows


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
