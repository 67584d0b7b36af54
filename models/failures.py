"""Failure triage: the viewer's failing tasks grouped by cause (part of the read layer, with the
owner rule of ``models.queries``).

A cause is a **signature**: the step the task was at and its error with the parts that differ
from task to task taken out — numbers, ids, URLs, times and hex tokens become ``<n>``, ``<id>``,
``<url>``, ``<time>``, ``<hex>`` — so 37 tasks whose checkout found no "Place order" button are
one line, ``checkout: button 'Place order' not found`` × 37, whatever their prices or order ids.

The groups are counted in the database, over every failing task (``GROUP BY`` the signature):
``signature_of(step, error)`` is the same rule in SQL — on Postgres ``regexp_replace`` with the
patterns below (``\b`` spelt ``\\y``), on SQLite this module's ``signature`` registered as the
function ``td_signature`` on each connection (``models.db``). A test holds the two to the same
answers.

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

from sqlalchemy import ColumnElement, String, Subquery, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import col

from models.states import TaskStatus
from models.tables import Task

S = TaskStatus
FAILING = (S.FAILED.value, S.RETRYING.value)
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


# ---- the signature in SQL ------------------------------------------------------------------

_LINE_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"  # where str.splitlines() cuts
_SPACE = " \t\n\r\v\f"


class signature_of(FunctionElement[str]):
    """``signature(step, error)`` computed by the database (see the module's doc)."""

    type = String()
    name = "td_signature"
    inherit_cache = True


@compiles(signature_of)
def _signature_sqlite(element: signature_of, compiler: Any, **kw: Any) -> str:
    return f"td_signature({compiler.process(element.clauses, **kw)})"


@compiles(signature_of, "postgresql")
def _signature_postgres(element: signature_of, compiler: Any, **kw: Any) -> str:
    step, error = element.clauses
    return str(compiler.process(_postgres_signature(step, error), **kw))


def _postgres_signature(step: Any, error: Any) -> ColumnElement[str]:
    def sub(text: Any, pattern: str, token: str, flags: str = "g") -> Any:
        return func.regexp_replace(text, literal(pattern), literal(token), literal(flags))

    stripped = func.btrim(func.coalesce(error, ""), literal(_SPACE))
    text: Any = case(
        (stripped == "", literal("no error message")),
        else_=func.regexp_replace(stripped, literal(f"[{_LINE_BREAKS}].*$"), literal("")),
    )
    text = sub(text, _STEP_PREFIX.pattern, "", "")
    for pattern, token in _PATTERNS:
        text = sub(text, pattern.pattern.replace(r"\b", r"\y"), token)
    message = func.left(func.btrim(sub(text, r"\s+", " "), literal(" ")), SIGNATURE_LIMIT)
    named = func.replace(step, literal("-"), literal(" ")).concat(literal(": ")).concat(message)
    return case((func.coalesce(step, "") != "", named), else_=message)


def _failing(filters: Sequence[ColumnElement[bool]]) -> Subquery:
    """The failing tasks ``filters`` select, each with its signature and when it was last seen."""
    seen = func.coalesce(col(Task.finished_at), col(Task.updated_at))
    return (
        select(
            col(Task.id).label("id"),
            col(Task.store).label("store"),
            col(Task.status).label("status"),
            col(Task.step).label("step"),
            seen.label("seen"),
            signature_of(col(Task.step), col(Task.error)).label("signature"),
        )
        .where(col(Task.status).in_(FAILING), *filters)
        .subquery("failing")
    )


async def failure_groups(
    session: AsyncSession, *, filters: Sequence[ColumnElement[bool]]
) -> list[FailureGroup]:
    """The failing tasks ``filters`` select (give the viewer's, ``models.queries.owned``) by
    signature, the largest group first (then the most recent); counted in the database."""
    f = _failing(filters)
    count, last = func.count(), func.max(f.c.seen)
    totals = await session.execute(
        select(
            f.c.signature,
            count,
            func.sum(case((f.c.status == S.FAILED.value, 1), else_=0)),
            func.sum(case((f.c.status == S.RETRYING.value, 1), else_=0)),
            func.min(f.c.seen),
            last,
        )
        .group_by(f.c.signature)
        .order_by(count.desc(), last.desc(), f.c.signature)
    )
    groups = {
        key: FailureGroup(
            signature=key,
            step=None,
            count=n,
            failed=failed,
            retrying=retrying,
            first_seen=first,
            last_seen=at,
        )
        for key, n, failed, retrying, first, at in totals.all()
    }
    for key, store in await session.execute(select(f.c.signature, f.c.store).distinct().order_by(f.c.store)):
        groups[key].stores.append(store)
    newest = func.row_number().over(partition_by=f.c.signature, order_by=(f.c.seen.desc(), f.c.id))
    ranked = select(f.c.signature, f.c.id, f.c.step, newest.label("n")).subquery("ranked")
    for key, task_id, step in await session.execute(
        select(ranked.c.signature, ranked.c.id, ranked.c.step).where(ranked.c.n == 1)
    ):
        groups[key].sample_task_id, groups[key].step = task_id, step
    return list(groups.values())


async def task_ids_failing_with(
    session: AsyncSession, *, filters: Sequence[ColumnElement[bool]], failure: str, limit: int
) -> list[uuid.UUID]:
    """Ids of the failing tasks ``filters`` select whose signature is ``failure``, newest first."""
    f = _failing(filters)
    rows = await session.scalars(
        select(f.c.id).where(f.c.signature == failure).order_by(f.c.seen.desc(), f.c.id).limit(limit)
    )
    return list(rows)


async def count_failing_with(
    session: AsyncSession, *, filters: Sequence[ColumnElement[bool]], failure: str
) -> int:
    """How many failing tasks ``filters`` select have the signature ``failure``."""
    f = _failing(filters)
    return await session.scalar(select(func.count()).where(f.c.signature == failure)) or 0
