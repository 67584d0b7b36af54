"""Alembic environment: async engines, the URL from Taskdeck's settings.

Where the database comes from, first match wins:

1. ``config.attributes["connection"]``: a caller's open connection, not in a transaction
   (``models.migrations.upgrade`` uses ``engine.connect()``): Alembic runs one transaction per
   revision on it, and autocommit blocks (``CREATE INDEX CONCURRENTLY``) need that.
   This is how the webapp (embedded auto-migration) and tests upgrade from async code::

       def _upgrade(connection: Connection) -> None:
           cfg = Config(ALEMBIC_INI)
           cfg.attributes["connection"] = connection
           command.upgrade(cfg, "head")

       async with engine.connect() as conn:
           await conn.run_sync(_upgrade)
           await conn.commit()

   It must be the sync ``Connection`` that ``run_sync`` hands over: env.py runs synchronously
   and cannot await an ``AsyncConnection``.
2. ``sqlalchemy.url`` set on the config (``cfg.set_main_option("sqlalchemy.url", url)``, with
   any ``%`` doubled): e.g. a test pointing at the database it just created.
3. ``Settings().database_url``: ``DATABASE_URL``, by default the embedded SQLite file.

URLs are async (``postgresql+asyncpg://``, ``sqlite+aiosqlite://``); the engine is an
``AsyncEngine`` and migrations run through ``connection.run_sync``. SQLite gets
``render_as_batch`` (ALTER TABLE via table copy). Offline mode (``alembic upgrade head --sql``)
needs only the URL's dialect.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable, Coroutine
from logging.config import fileConfig
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlmodel import SQLModel

import models.tables  # noqa: F401  (registers every table on SQLModel.metadata)
from models.settings import load_settings

config = context.config
target_metadata = SQLModel.metadata

# Logging from alembic.ini only for the `alembic` command line (cmd_opts is its parsed
# arguments); a program calling alembic.command (the webapp, a test) keeps its own logging.
if config.config_file_name is not None and config.cmd_opts is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def database_url() -> str:
    return config.get_main_option("sqlalchemy.url") or load_settings("alembic").database_url


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> Literal[False]:
    """Autogenerate: import the module of a project column type (``models.types.UTCDateTime``).

    Alembic writes such a type module-qualified but does not import its module; this adds the
    import to the revision and leaves the rendering itself to Alembic.
    """
    if type_ == "type":
        module = type(obj).__module__
        if not module.startswith(("sqlalchemy", "sqlmodel", "builtins")):
            autogen_context.imports.add(f"import {module}")
    return False


def configure_options(dialect_name: str) -> dict[str, Any]:
    return {
        "target_metadata": target_metadata,
        "render_item": render_item,
        "compare_type": True,
        "render_as_batch": dialect_name == "sqlite",
        # one transaction per revision: a revision with an autocommit block (CREATE INDEX
        # CONCURRENTLY) commits what came before it, and a failed revision keeps the earlier ones
        "transaction_per_migration": True,
    }


def run_migrations_offline() -> None:
    """Emit SQL to stdout instead of running it (``alembic upgrade head --sql``)."""
    url = database_url()
    context.configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **configure_options(url.split(":", 1)[0].split("+", 1)[0]),
    )
    with context.begin_transaction():
        context.run_migrations()


# Migrations run while old processes serve (docs/operations.md): a statement that would wait
# behind their row locks gives up after LOCK_TIMEOUT instead of queueing every heartbeat and claim
# behind itself; STATEMENT_TIMEOUT bounds anything else. A migration that times out fails and
# is run again (every revision is one that can be re-run after a failure).
LOCK_TIMEOUT = "5s"
STATEMENT_TIMEOUT = "15min"


def do_run_migrations(connection: Connection) -> None:
    postgres = connection.dialect.name == "postgresql"
    if postgres:  # session-level, so it also holds inside autocommit blocks (CREATE INDEX CONCURRENTLY)
        connection.exec_driver_sql(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
        connection.exec_driver_sql(f"SET statement_timeout = '{STATEMENT_TIMEOUT}'")
        connection.commit()  # Alembic then owns the transactions (autocommit blocks need that)
    context.configure(connection=connection, **configure_options(connection.dialect.name))
    try:
        with context.begin_transaction():
            context.run_migrations()
    finally:
        if postgres and not connection.invalidated:
            connection.exec_driver_sql("RESET lock_timeout")
            connection.exec_driver_sql("RESET statement_timeout")


async def run_async_migrations(url: str) -> None:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
            await connection.commit()
    finally:
        await engine.dispose()


def run_coroutine(coro_factory: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run a coroutine to completion from this synchronous module.

    Normally there is no event loop here (the CLI). When ``command.upgrade`` is called straight
    from async code (say an async test), this thread's loop is busy running the caller, so the
    migration runs on a loop of its own in a helper thread while the caller waits.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coro_factory())
        return
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool_:
        pool_.submit(asyncio.run, coro_factory()).result()


def run_migrations_online() -> None:
    given = config.attributes.get("connection")
    if given is None:
        url = database_url()
        run_coroutine(lambda: run_async_migrations(url))
    elif isinstance(given, Connection):
        do_run_migrations(given)
    elif isinstance(given, AsyncConnection):
        raise TypeError(
            'config.attributes["connection"] is an AsyncConnection; pass the sync connection '
            "instead: `await async_conn.run_sync(fn)` where fn sets it and calls command.upgrade"
        )
    else:
        raise TypeError(f'config.attributes["connection"]: unsupported {type(given).__name__}')


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
