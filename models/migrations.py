"""Schema version checks and programmatic upgrades (Alembic owns the DDL).

Which schema a process runs on (``compatibility``):

- at this code's head: yes;
- a revision this code knows that is older than its head: no (``SchemaBehind``; migrate first);
- a revision this code does not know (newer code migrated it): yes only when that revision
  declared, in the ``schema_compat`` table, that code at a revision this code knows can still run
  on it — an *expand* migration (docs/operations.md: expand, deploy, contract). That is what lets
  a rollback start. Otherwise no (``SchemaUnknown``).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection

from models.db import Database

ALEMBIC_INI = Path(__file__).resolve().parent.parent / "alembic.ini"
COMPAT_TABLE = "schema_compat"


class SchemaBehind(RuntimeError):
    """The database schema is older than this code."""


class SchemaUnknown(RuntimeError):
    """The database schema is at a revision this code does not know and that did not declare
    itself compatible with it."""


def _config(connection: Connection | None = None) -> Config:
    cfg = Config(str(ALEMBIC_INI))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def head_revision() -> str | None:
    return _scripts().get_current_head()


def known_revisions() -> set[str]:
    return {script.revision for script in _scripts().walk_revisions()}


async def current_revision(db: Database) -> str | None:
    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with db.engine.connect() as conn:
        return await conn.run_sync(read)


async def declared_oldest_code(db: Database, revision: str) -> str | None:
    """The oldest code revision that revision ``revision`` declared it still runs (None: none)."""
    async with db.engine.connect() as conn:
        try:
            row = await conn.execute(
                text(f"SELECT oldest_code FROM {COMPAT_TABLE} WHERE revision = :r"), {"r": revision}
            )
        except Exception:  # no table: a schema from before revisions declared anything
            return None
        return row.scalar_one_or_none()


async def compatibility(db: Database) -> str:
    """A short description of why this code may run on the database's schema; raises
    ``SchemaBehind`` or ``SchemaUnknown`` when it may not."""
    current, head = await current_revision(db), head_revision()
    if current == head:
        return f"at head ({head})"
    known = known_revisions()
    if current is None or current in known:
        raise SchemaBehind(
            f"the database schema is at {current or 'nothing (empty database)'}, this code needs {head}: "
            f"run `alembic upgrade head` (or `make migrate`) with the same DATABASE_URL first"
        )
    oldest = await declared_oldest_code(db, current)
    if oldest is not None and oldest in known:
        return f"at {current}, newer than this code ({head}) and declared compatible with code from {oldest}"
    raise SchemaUnknown(
        f"the database schema is at {current}, which this code (head {head}) does not know and which "
        "does not declare itself compatible with it: deploy the code that migrated it, or downgrade "
        "the schema with that code's `alembic downgrade`"
    )


async def upgrade(db: Database, revision: str = "head") -> None:
    def run(connection: Connection) -> None:
        command.upgrade(_config(connection), revision)

    async with db.engine.connect() as conn:  # Alembic runs the transactions (one per revision)
        await conn.run_sync(run)
        await conn.commit()


async def downgrade(db: Database, revision: str) -> None:
    def run(connection: Connection) -> None:
        command.downgrade(_config(connection), revision)

    async with db.engine.connect() as conn:  # Alembic runs the transactions (one per revision)
        await conn.run_sync(run)
        await conn.commit()


async def ensure_schema(db: Database, *, auto_migrate: bool) -> str:
    """Upgrade (embedded SQLite) or refuse to run on a schema that is behind or unknown (Postgres).
    Returns how the schema stands (for the start-up log)."""
    try:
        return await compatibility(db)
    except SchemaBehind:
        if not auto_migrate:
            raise
    await upgrade(db)
    return await compatibility(db)
