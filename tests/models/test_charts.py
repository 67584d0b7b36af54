"""The queue page's series over 1 h / 24 h / 7 d, from stored task rows (Postgres)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from models import charts
from models.access import Viewer
from models.db import Database
from models.tables import Task
from tests.conftest import AuthUser

NOW = datetime(2026, 12, 1, 12, 0, 30, tzinfo=UTC)


def finished(owner: AuthUser, status: str, ago: timedelta, *, wait: float, run: float) -> Task:
    end = NOW - ago
    started = end - timedelta(seconds=run)
    return Task(
        name="t", store="noop", product="p", status=status, owner_id=owner.id,
        queued_at=started - timedelta(seconds=wait), started_at=started, finished_at=end,
    )  # fmt: skip


async def test_series_buckets_counts_rates_and_times(
    db: Database, api_user: AuthUser, second_user: AuthUser
) -> None:
    async with db.begin() as session:
        session.add(finished(api_user, "completed", timedelta(minutes=5), wait=2, run=10))
        session.add(finished(api_user, "failed", timedelta(minutes=5), wait=4, run=20))
        session.add(finished(api_user, "completed", timedelta(hours=5), wait=1, run=1))
        session.add(finished(api_user, "completed", timedelta(days=3), wait=1, run=1))
        session.add(finished(second_user, "failed", timedelta(minutes=5), wait=1, run=1))  # not the viewer's
    me = Viewer(user_id=api_user.id, email=api_user.email)
    async with db.session() as session:
        hour = await charts.series(session, viewer=me, range_name="1h", now=NOW)
        day = await charts.series(session, viewer=me, range_name="24h", now=NOW)
        week = await charts.series(session, viewer=me, range_name="7d", now=NOW)
    assert (len(hour), len(day), len(week)) == (60, 24, 28)
    busy = [p for p in hour if p.completed or p.failed]
    assert [(p.completed, p.failed, p.failure_rate, p.wait, p.run) for p in busy] == [(1, 1, 50.0, 3.0, 15.0)]
    assert busy[0].start == datetime(2026, 12, 1, 11, 55, tzinfo=UTC)
    assert sum(p.completed for p in day) == 2 and sum(p.failed for p in day) == 1
    assert sum(p.completed for p in week) == 3
    assert all(p.failure_rate is None for p in hour if not (p.completed or p.failed))
