"""Schema version checks and programmatic upgrades (Alembic owns the DDL)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from models.db import Database

ALEMBIC_INI = Path(__file__).resolve().parent.parent / "alembic.ini"


class SchemaBehind(RuntimeError):
    """The database schema is older than this code."""


def _config(connection: Connection | None = None) -> Config:
    cfg = Config(str(ALEMBIC_INI))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()


async def current_revision(db: Database) -> str | None:
    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with db.engine.connect() as conn:
        return await conn.run_sync(read)


async def upgrade(db: Database, revision: str = "head") -> None:
    def run(connection: Connection) -> None:
        command.upgrade(_config(connection), revision)

    async with db.engine.begin() as conn:
        await conn.run_sync(run)


async def ensure_schema(db: Database, *, auto_migrate: bool) -> None:
    """Upgrade (embedded SQLite) or refuse to run on a schema that is behind (Postgres)."""
    current, head = await current_revision(db), head_revision()
    if current == head:
        return
    if auto_migrate:
        await upgrade(db)
        return
    raise SchemaBehind(
        f"the database schema is at {current or 'nothing (empty database)'}, this code needs {head}: "
        f"run `alembic upgrade head` (or `make migrate`) with the same DATABASE_URL first"
    )
