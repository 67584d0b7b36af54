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
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, String, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models import checks, failures, purchase_queries
from models.access import Viewer
from models.errors import TaskNotFound
from models.states import TaskStatus
from models.tables import Account, Profile, Purchase, Task, TaskAttempt, TaskEvent, User, Worker
from models.types import utcnow

# purchases are read in models.purchase_queries; the one read layer offers them here too
PurchaseFilter = purchase_queries.PurchaseFilter
StoreTotal = purchase_queries.StoreTotal
list_purchases = purchase_queries.list_purchases
each_purchase = purchase_queries.each_purchase
spent = purchase_queries.spent
store_totals = purchase_queries.store_totals
purchase_stores = purchase_queries.purchase_stores

S = TaskStatus
FINISHED = (S.COMPLETED.value, S.FAILED.value)
ORDERS = {
    "created": col(Task.created_at),
    "updated": col(Task.updated_at),
    "priority": col(Task.priority),
    "name": col(Task.name),
    "status": col(Task.status),
}


def owned(viewer: Viewer, column: Any, owner: uuid.UUID | None = None) -> list[ColumnElement[bool]]:
    """The viewer's rows (an admin: all), narrowed to ``owner``'s when one is given."""
    filters = [viewer.owner_filter(column)]
    if owner is not None:
        filters.append(column == owner)
    return filters


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


def _of_task(viewer: Viewer, task_column: Any, task_id: uuid.UUID) -> Any:
    """``task_id = :id AND the task is the viewer's``, as a subquery on the task."""
    visible = select(col(Task.id)).where(col(Task.id) == task_id, *owned(viewer, col(Task.owner_id)))
    return task_column.in_(visible.scalar_subquery())


async def task_attempts(session: AsyncSession, task_id: uuid.UUID, *, viewer: Viewer) -> list[TaskAttempt]:
    """The task's attempts, oldest first; a monitor's checks that found nothing are not attempts
    (``models/checks.py`` removes their rows; one not removed yet is never shown)."""
    rows = await session.scalars(
        select(TaskAttempt)
        .where(
            _of_task(viewer, col(TaskAttempt.task_id), task_id),
            or_(col(TaskAttempt.outcome).is_(None), col(TaskAttempt.outcome) != checks.WAITING),
        )
        .order_by(col(TaskAttempt.id))
    )
    return list(rows)


async def task_events(
    session: AsyncSession, task_id: uuid.UUID, *, viewer: Viewer, after: int = 0, limit: int = 500
) -> list[TaskEvent]:
    """The task's events after ``after``, oldest first."""
    rows = await session.scalars(
        select(TaskEvent)
        .where(_of_task(viewer, col(TaskEvent.task_id), task_id), col(TaskEvent.id) > after)
        .order_by(col(TaskEvent.id))
        .limit(limit)
    )
    return list(rows)


async def events_after(
    session: AsyncSession,
    *,
    viewer: Viewer,
    after: int,
    task_id: uuid.UUID | None = None,
    limit: int = 10_000,
) -> list[TaskEvent]:
    """Events of the viewer's tasks (or of one of them) with ids above ``after``, oldest first:
    what an event stream resumed with ``Last-Event-ID`` missed."""
    visible = select(col(Task.id)).where(*owned(viewer, col(Task.owner_id)))
    if task_id is not None:
        visible = visible.where(col(Task.id) == task_id)
    rows = await session.scalars(
        select(TaskEvent)
        .where(col(TaskEvent.task_id).in_(visible.scalar_subquery()), col(TaskEvent.id) > after)
        .order_by(col(TaskEvent.id))
        .limit(limit)
    )
    return list(rows)


RECENT_EVENTS = 300  # events a task page opens with


async def recent_events(
    session: AsyncSession, task_id: uuid.UUID, *, viewer: Viewer, limit: int = RECENT_EVENTS
) -> list[TaskEvent]:
    """The task's newest ``limit`` events, oldest first."""
    rows = await session.scalars(
        select(TaskEvent)
        .where(_of_task(viewer, col(TaskEvent.task_id), task_id))
        .order_by(col(TaskEvent.id).desc())
        .limit(limit)
    )
    return list(reversed(list(rows)))


@dataclass
class EventCatchUp:
    """A page's reader of one task's new events that misses none committed late.

    Event ids are not in commit order, so "ids after the last one seen, minus a margin" misses an
    event whose transaction stayed open while more ids than the margin were shown. Instead it
    reads the task's ids above the page's starting point (an index-only read of
    ``ix_task_event_task``) and fetches the rows of those not seen yet; the viewer's tasks only.
    """

    floor: int  # ids at or below this were never shown and are not read
    seen: set[int] = field(default_factory=set)

    @classmethod
    def starting_from(cls, shown: list[TaskEvent], *, limit: int = RECENT_EVENTS) -> EventCatchUp:
        """After ``recent_events``: everything of the task when it fit, else from the oldest shown."""
        ids = {e.id for e in shown if e.id is not None}
        return cls(floor=min(ids) - 1 if ids and len(shown) >= limit else 0, seen=ids)

    async def read(
        self, session: AsyncSession, task_id: uuid.UUID, *, viewer: Viewer, limit: int = 500
    ) -> list[TaskEvent]:
        event_id = col(TaskEvent.id)
        ids = await session.scalars(
            select(event_id).where(_of_task(viewer, col(TaskEvent.task_id), task_id), event_id > self.floor)
        )
        missing = sorted({i for i in ids if i is not None} - self.seen)[:limit]
        if not missing:
            return []
        rows = list(await session.scalars(select(TaskEvent).where(event_id.in_(missing)).order_by(event_id)))
        self.seen.update(e.id for e in rows if e.id is not None)
        return rows


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


# ---- profiles, accounts, users ----------------------------------------------------------------


async def list_profiles(session: AsyncSession, *, viewer: Viewer) -> list[Profile]:
    rows = await session.scalars(
        select(Profile)
        .where(*owned(viewer, col(Profile.owner_id)))
        .order_by(col(Profile.name), col(Profile.created_at), col(Profile.id))
    )
    return list(rows)


async def get_profile(session: AsyncSession, profile_id: uuid.UUID, *, viewer: Viewer) -> Profile | None:
    return await session.scalar(
        select(Profile).where(col(Profile.id) == profile_id, *owned(viewer, col(Profile.owner_id)))
    )


async def profile_usable(session: AsyncSession, profile_id: uuid.UUID, *, owner_id: uuid.UUID | None) -> bool:
    """A task may use its owner's profiles only (an admin's task too: the task's owner pays)."""
    found = await session.scalar(
        select(col(Profile.id)).where(col(Profile.id) == profile_id, col(Profile.owner_id) == owner_id)
    )
    return found is not None


async def list_accounts(session: AsyncSession, *, viewer: Viewer) -> list[Account]:
    rows = await session.scalars(
        select(Account)
        .where(*owned(viewer, col(Account.owner_id)))
        .order_by(col(Account.store), col(Account.login), col(Account.id))
    )
    return list(rows)


async def get_account(session: AsyncSession, account_id: uuid.UUID, *, viewer: Viewer) -> Account | None:
    return await session.scalar(
        select(Account).where(col(Account.id) == account_id, *owned(viewer, col(Account.owner_id)))
    )


async def owner_emails(session: AsyncSession, *, viewer: Viewer) -> dict[uuid.UUID, str]:
    """Users the viewer may name as owners (an admin: everyone; a user: themself), by id."""
    rows = await session.execute(
        select(col(User.id), col(User.email)).where(*owned(viewer, col(User.id))).order_by(col(User.email))
    )
    return {user_id: email for user_id, email in rows.all()}
