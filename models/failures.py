"""Failure triage: the viewer's failing tasks grouped by cause (part of the read layer, with the
owner rule of ``models.queries``).

A cause is a **signature**: the step the task was at and its error with the parts that differ
from task to task taken out — numbers, ids, URLs, times and hex tokens become ``<n>``, ``<id>``,
``<url>``, ``<time>``, ``<hex>`` — so 37 tasks whose checkout found no "Place order" button are
one line, ``checkout: button 'Place order' not found`` × 37, whatever their prices or order ids.

A group holds the tasks whose last attempt failed that way: ``failed`` ones (stopped for good)
and ``retrying`` ones (still trying). What a person may do to a whole group is what the state
machine allows: retry the failed ones (failed → queued); cancel the retrying ones (failed →
cancelled is not a move: a failed task has already stopped); delete any of them.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models.states import TaskStatus
from models.tables import Task

S = TaskStatus
FAILING = (S.FAILED.value, S.RETRYING.value)
SCAN_LIMIT = 20_000  # the newest failing tasks read to build the groups
SIGNATURE_LIMIT = 300

_STEP_PREFIX = re.compile(r'^step "[^"]*":\s*')
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"https?://\S+"), "<url>"),
    (re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"), "<id>"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?"), "<time>"),
    (re.compile(r"\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b"), "<hex>"),
    (re.compile(r"(?<![A-Za-z0-9_])\d+(?:[.,]\d+)*"), "<n>"),
]


def normalise(error: str | None) -> str:
    """The error's first line with what varies between tasks replaced (see the module's doc)."""
    text = (error or "").strip().splitlines()[0] if (error or "").strip() else "no error message"
    text = _STEP_PREFIX.sub("", text)
    for pattern, token in _PATTERNS:
        text = pattern.sub(token, text)
    return " ".join(text.split())[:SIGNATURE_LIMIT]


def signature(step: str | None, error: str | None) -> str:
    """``<step>: <normalised error>``; the error alone when no step was reached."""
    message = normalise(error)
    return f"{step.replace('-', ' ')}: {message}" if step else message


@dataclass
class FailureGroup:
    signature: str
    step: str | None
    count: int = 0
    failed: int = 0
    retrying: int = 0
    stores: list[str] = field(default_factory=list)
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    sample_task_id: uuid.UUID | None = None  # the most recent task of the group
    task_ids: list[uuid.UUID] = field(default_factory=list)

    def add(self, task_id: uuid.UUID, store: str, status: str, seen: datetime) -> None:
        self.count += 1
        self.failed += status == S.FAILED
        self.retrying += status == S.RETRYING
        if store not in self.stores:
            self.stores.append(store)
            self.stores.sort()
        if self.first_seen is None or seen < self.first_seen:
            self.first_seen = seen
        if self.last_seen is None or seen >= self.last_seen:
            self.last_seen, self.sample_task_id = seen, task_id
        self.task_ids.append(task_id)


async def _failing(session: AsyncSession, filters: Sequence[ColumnElement[bool]]) -> list[Any]:
    seen = func.coalesce(col(Task.finished_at), col(Task.updated_at))
    rows = await session.execute(
        select(col(Task.id), col(Task.store), col(Task.status), col(Task.step), col(Task.error), seen)
        .where(col(Task.status).in_(FAILING), *filters)
        .order_by(seen.desc(), col(Task.id))
        .limit(SCAN_LIMIT)
    )
    return list(rows.all())


async def failure_groups(
    session: AsyncSession, *, filters: Sequence[ColumnElement[bool]]
) -> list[FailureGroup]:
    """The failing tasks ``filters`` select (give the viewer's, ``models.queries.owned``) by
    signature, the largest group first (then the most recent)."""
    groups: dict[str, FailureGroup] = {}
    for task_id, store, status, step, error, seen in await _failing(session, filters):
        key = signature(step, error)
        group = groups.setdefault(key, FailureGroup(signature=key, step=step))
        group.add(task_id, store, status, seen)
    ordered = sorted(groups.values(), key=lambda g: g.last_seen or datetime.min, reverse=True)
    return sorted(ordered, key=lambda g: g.count, reverse=True)


async def task_ids_failing_with(
    session: AsyncSession, *, filters: Sequence[ColumnElement[bool]], failure: str, limit: int
) -> list[uuid.UUID]:
    """Ids of the failing tasks ``filters`` select whose signature is ``failure``, newest first."""
    found = [
        task_id
        for task_id, _store, _status, step, error, _seen in await _failing(session, filters)
        if signature(step, error) == failure
    ]
    return found[:limit]
