"""Alembic owns the DDL: an empty database upgrades to head and then matches the models."""

from __future__ import annotations

import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

import models.tables  # noqa: F401
from models import migrations
from models.db import Database
from tests.conftest import SERVER_URL, _admin


def _diff(connection: Connection) -> list[object]:
    opts: dict[str, object] = {"compare_type": True}
    if connection.dialect.name == "sqlite":  # Alembic reflects a SQLite index without its DESC
        opts["include_object"] = _comparable_on_sqlite
    ctx = MigrationContext.configure(connection, opts=opts)
    return list(compare_metadata(ctx, SQLModel.metadata))


def _comparable_on_sqlite(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Leave out ``ix_task_claim_order`` (``priority DESC``) on SQLite: its reflection has no
    DESC, so Alembic can never match it (Postgres compares it fully)."""
    return not (type_ == "index" and name == "ix_task_claim_order")


async def _check(db: Database) -> None:
    assert await migrations.current_revision(db) is None
    await migrations.upgrade(db)
    assert await migrations.current_revision(db) == migrations.head_revision()
    async with db.engine.connect() as conn:
        assert await conn.run_sync(_diff) == []
        # every revision since 0006 declares which code still runs on it (docs/operations.md)
        declared = set((await conn.execute(text("SELECT revision FROM schema_compat"))).scalars())
    assert migrations.head_revision() in declared
    await _status_check_accepts_unknown(db)


async def _status_check_accepts_unknown(db: Database) -> None:
    """Revision 0004: the status CHECK takes ``unknown`` and still refuses a made-up state."""
    insert = text(
        "INSERT INTO task (id, name, store, product, quantity, status, priority, mode, max_attempts,"
        " attempt, checks, progress, checkpoints, cancel_requested, trace, created_at, updated_at)"
        " VALUES (:id, 't', 'noop', 'p', 1, :status, 0, 'once', 3, 0, 0, 0, '[]', false, false,"
        " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
    )
    async with db.begin() as session:
        await session.execute(insert, {"id": uuid.uuid4().hex, "status": "unknown"})
    with pytest.raises(IntegrityError):
        async with db.begin() as session:
            await session.execute(insert, {"id": uuid.uuid4().hex, "status": "bogus"})


async def test_postgres_upgrade_from_empty_matches_models() -> None:
    from sqlalchemy.engine import make_url

    name = f"taskdeck_mig_{uuid.uuid4().hex[:8]}"
    await _admin(f'CREATE DATABASE "{name}"')
    db = Database(make_url(SERVER_URL).set(database=name).render_as_string(hide_password=False))
    try:
        await _check(db)
    finally:
        await db.dispose()
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_sqlite_upgrade_from_empty_matches_models(tmp_path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")
    try:
        await _check(db)
    finally:
        await db.dispose()


async def test_behind_schema_is_refused_on_postgres(tmp_path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")
    try:
        import pytest

        with pytest.raises(migrations.SchemaBehind, match="alembic upgrade head"):
            await migrations.ensure_schema(db, auto_migrate=False)
        await migrations.ensure_schema(db, auto_migrate=True)
        assert await migrations.current_revision(db) == migrations.head_revision()
    finally:
        await db.dispose()


async def test_sqlite_upgrade_keeps_events_and_never_reuses_their_ids(tmp_path) -> None:
    """0005 recreates SQLite's task_event with AUTOINCREMENT: rows kept, deleted ids not reused."""
    from sqlalchemy import text

    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")
    try:
        await migrations.upgrade(db, "0004")
        task = uuid.uuid4().hex
        async with db.engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO task (id, name, store, product, quantity, status, priority, mode,"
                    " max_attempts, attempt, checks, progress, checkpoints, cancel_requested, trace,"
                    " created_at, updated_at) VALUES (:id, 't', 'noop', 'p', 1, 'pending', 0, 'once',"
                    " 3, 0, 0, 0, '[]', 0, 0, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
                ),
                {"id": task},
            )
            for _ in range(3):
                await conn.execute(
                    text(
                        "INSERT INTO task_event (task_id, at, kind) VALUES (:t, '2026-01-01 00:00:00', 'log')"
                    ),
                    {"t": task},
                )
        await migrations.upgrade(db)
        async with db.engine.begin() as conn:
            assert (await conn.execute(text("SELECT max(id), count(*) FROM task_event"))).one() == (3, 3)
            await conn.execute(text("DELETE FROM task_event WHERE id = 3"))
            await conn.execute(
                text("INSERT INTO task_event (task_id, at, kind) VALUES (:t, '2026-01-01 00:00:00', 'log')"),
                {"t": task},
            )
            assert (await conn.execute(text("SELECT max(id) FROM task_event"))).scalar() == 4
    finally:
        await db.dispose()


# ---- migrations while old processes serve --------------------------------------------------------


async def _fresh_postgres() -> tuple[str, Database]:
    from sqlalchemy.engine import make_url

    name = f"taskdeck_mig_{uuid.uuid4().hex[:8]}"
    await _admin(f'CREATE DATABASE "{name}"')
    return name, Database(make_url(SERVER_URL).set(database=name).render_as_string(hide_password=False))


async def _round_trip(db: Database) -> None:
    await migrations.upgrade(db)
    await migrations.downgrade(db, "base")
    assert await migrations.current_revision(db) is None
    async with db.engine.connect() as conn:
        tables = await conn.run_sync(lambda c: __import__("sqlalchemy").inspect(c).get_table_names())
    assert set(tables) <= {"alembic_version"}, tables
    await migrations.upgrade(db)
    assert await migrations.current_revision(db) == migrations.head_revision()
    async with db.engine.connect() as conn:
        assert await conn.run_sync(_diff) == []


async def test_postgres_upgrade_downgrade_upgrade() -> None:
    name, db = await _fresh_postgres()
    try:
        await _round_trip(db)
    finally:
        await db.dispose()
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_sqlite_upgrade_downgrade_upgrade(tmp_path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")
    try:
        await _round_trip(db)
    finally:
        await db.dispose()


async def _pretend_newer(db: Database, revision: str, oldest_code: str | None) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
        if oldest_code is not None:
            await conn.execute(
                text("INSERT INTO schema_compat (revision, oldest_code) VALUES (:r, :o)"),
                {"r": revision, "o": oldest_code},
            )


async def test_a_newer_schema_that_declares_this_code_compatible_is_accepted(tmp_path) -> None:
    """A rollback can start: the newer revision (unknown to this code) said this code still runs."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")
    try:
        await migrations.upgrade(db)
        await _pretend_newer(db, "0999", migrations.head_revision())
        assert "declared compatible" in await migrations.ensure_schema(db, auto_migrate=False)
        assert "declared compatible" in await migrations.ensure_schema(
            db, auto_migrate=True
        )  # no upgrade tried
    finally:
        await db.dispose()


@pytest.mark.parametrize("oldest_code", [None, "0998"])
async def test_an_unknown_schema_is_refused(tmp_path, oldest_code: str | None) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")
    try:
        await migrations.upgrade(db)
        await _pretend_newer(db, "0999", oldest_code)
        with pytest.raises(migrations.SchemaUnknown, match="0999"):
            await migrations.ensure_schema(db, auto_migrate=True)
    finally:
        await db.dispose()


async def test_a_migration_gives_up_on_a_held_lock_instead_of_queueing_everyone() -> None:
    """lock_timeout (alembic/env.py): an ALTER TABLE that waits behind a long transaction fails
    after a few seconds rather than blocking every heartbeat and claim queued behind it."""
    name, db = await _fresh_postgres()
    try:
        await migrations.upgrade(db, "0004")
        async with db.engine.connect() as holder:
            await holder.execute(text("BEGIN"))
            await holder.execute(text("LOCK TABLE task IN ACCESS SHARE MODE"))  # an old process's read
            with pytest.raises(Exception, match="lock timeout"):
                await migrations.upgrade(db, "0005")  # ALTER TABLE task ADD COLUMN lease
            await holder.execute(text("ROLLBACK"))
        await migrations.upgrade(db)  # run again once the reader is gone: it completes
        assert await migrations.current_revision(db) == migrations.head_revision()
    finally:
        await db.dispose()
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
