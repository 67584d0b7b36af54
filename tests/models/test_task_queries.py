"""The read layer (``models.queries``): search, and the owner rule every read goes through."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from models import migrations, queries
from models.access import Viewer
from models.db import Database
from models.errors import TaskNotFound
from models.schemas import TaskCreate
from models.settings import Settings
from models.tables import Purchase, TaskAttempt
from models.tasks import create_task
from tests.conftest import AuthUser

ADMIN = Viewer(user_id=uuid.uuid4(), email="root@example.com", is_admin=True)


async def test_search_treats_like_wildcards_as_text(db: Database) -> None:
    async with db.begin() as session:
        for name in ("50% off drop", "5000 units", "a_b", "axb"):
            await create_task(
                session, data=TaskCreate(name=name, store="noop", product="p"), settings=Settings()
            )
    async with db.session() as session:

        async def names(search: str) -> tuple[list[str], int]:
            rows, count = await queries.list_tasks(
                session, viewer=ADMIN, where=queries.TaskFilter(search=search)
            )
            return [t.name for t in rows], count

        assert (await names("50%"))[0] == ["50% off drop"]
        assert (await names("a_b"))[0] == ["a_b"]
        assert (await names("%"))[1] == 1
        assert (await names("OFF"))[1] == 1


def viewer(user: AuthUser) -> Viewer:
    return Viewer(user_id=user.id, email=user.email, is_admin=user.is_admin)


async def test_each_user_reads_their_own_tasks_and_an_admin_everyones(
    db: Database, api_user: AuthUser, second_user: AuthUser, admin_user: AuthUser
) -> None:
    a, b, admin = viewer(api_user), viewer(second_user), viewer(admin_user)
    async with db.begin() as session:
        mine = {}
        for who in (a, b):
            data = TaskCreate(name=f"of {who.email}", store="noop", product="p", start="later")
            mine[who] = await create_task(session, data=data, settings=Settings(), owner_id=who.user_id)
    async with db.session() as session:
        for who in (a, b):
            rows, count = await queries.list_tasks(session, viewer=who)
            assert ([t.name for t in rows], count) == ([f"of {who.email}"], 1)
            assert (await queries.status_counts(session, viewer=who))["pending"] == 1
            assert await queries.matching_task_ids(session, viewer=who, limit=10) == [mine[who].id]
        with pytest.raises(TaskNotFound):
            await queries.get_task(session, mine[a].id, viewer=b)
        assert await queries.task_events(session, mine[a].id, viewer=b) == []
        assert len(await queries.task_events(session, mine[a].id, viewer=a)) == 1
        _, everyone = await queries.list_tasks(session, viewer=admin)
        only_a, _ = await queries.list_tasks(session, viewer=admin, where=queries.TaskFilter(owner=a.user_id))
        assert everyone == 2
        assert [t.id for t in only_a] == [mine[a].id]
        assert {a.user_id, b.user_id} <= set(await queries.owner_emails(session, viewer=admin))
        assert await queries.owner_emails(session, viewer=b) == {b.user_id: b.email}


async def filter_fields_select(db: Database) -> None:
    """Each field of ``TaskFilter`` narrows the list; search finds name, product, order number, id."""
    async with db.begin() as session:
        made = {}
        for name, product, mode in (
            ("Sneaker drop", "sneaker-drop", "once"),
            ("Vinyl watch", "vinyl-box", "monitor"),
            ("Figure", "collector-figure", "once"),
        ):
            data = TaskCreate(
                name=name,
                store="noop",
                product=product,
                start="later",
                mode=mode,
                check_every=60 if mode == "monitor" else None,
            )
            made[name] = await create_task(session, data=data, settings=Settings())
        figure = made["Figure"]
        figure.created_at = datetime(2026, 1, 5, tzinfo=UTC)
        session.add(TaskAttempt(task_id=figure.id, number=1, worker_id="host-a:42"))
        session.add(
            Purchase(
                task_id=made["Sneaker drop"].id,
                store="noop",
                product="sneaker-drop",
                quantity=1,
                unit_price=Decimal(1),
                total=Decimal(1),
                order_number="DS-10042",
            )
        )
    async with db.session() as session:

        async def names(**fields: Any) -> set[str]:
            rows, count = await queries.list_tasks(session, viewer=ADMIN, where=queries.TaskFilter(**fields))
            assert count == len(rows)
            return {t.name for t in rows}

        assert await names() == set(made)
        assert await names(mode="monitor") == {"Vinyl watch"}
        assert await names(worker="host-a:42") == {"Figure"}
        assert await names(worker="host-b:1") == set()
        assert await names(created_to=datetime(2026, 2, 1, tzinfo=UTC)) == {"Figure"}
        assert await names(created_from=datetime(2026, 2, 1, tzinfo=UTC)) == {"Sneaker drop", "Vinyl watch"}
        assert await names(search="ds-1004") == {"Sneaker drop"}  # the order number
        assert await names(search="VINYL-BOX") == {"Vinyl watch"}  # the product
        assert await names(search=str(figure.id)) == {"Figure"}  # a whole id
        assert await names(search=str(figure.id)[:8]) == {"Figure"}  # an id as the pages shorten it
        assert await names(statuses=("pending",), search="figure") == {"Figure"}
        assert await queries.count_tasks(session, viewer=ADMIN, where=queries.TaskFilter(mode="once")) == 2
        assert await queries.task_workers(session, viewer=ADMIN) == ["host-a:42"]
        assert await queries.task_stores(session, viewer=ADMIN) == ["noop"]


async def test_filter_fields_select_on_postgres(db: Database) -> None:
    await filter_fields_select(db)


async def test_filter_fields_select_on_sqlite(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'filters.db'}")
    await migrations.upgrade(db)
    try:
        await filter_fields_select(db)
    finally:
        await db.dispose()
