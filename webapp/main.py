"""Composition root of the web process: ``python -m webapp``.

Dashboard, JSON API and (unless ``TASKDECK_DEMO_STORE=false``) the demo store in one NiceGUI
server. Embedded default (no ``DATABASE_URL``/``REDIS_URL``): SQLite file, in-process queue and
worker. On Postgres the schema must be current: it refuses to start when it is behind.
"""

from __future__ import annotations

import asyncio
import logging
import sys

from nicegui import app, ui

from models import migrations
from models.db import Database
from models.settings import Settings
from webapp import api, pages
from webapp.services import Services

log = logging.getLogger("webapp")


async def prepare_schema(settings: Settings) -> None:
    db = Database(settings.database_url)
    try:
        await migrations.ensure_schema(db, auto_migrate=db.is_sqlite)
    finally:
        await db.dispose()


def build(settings: Settings) -> Services:
    services = Services.build(settings)
    app.include_router(api.create_router(services))
    if settings.demo_store:
        from webapp.demo_store import create_demo_store

        app.include_router(create_demo_store(), prefix="/demo-store")
    pages.register(services)
    app.on_startup(services.start)
    app.on_shutdown(services.stop)
    return services


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings()
    try:
        asyncio.run(prepare_schema(settings))
    except migrations.SchemaBehind as exc:
        print(f"taskdeck: refusing to start: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except OSError as exc:
        print(f"taskdeck: cannot reach the database at {settings.database_url}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    build(settings)
    print(f"Taskdeck: http://{settings.host}:{settings.port}/  (API docs at /docs)", flush=True)
    ui.run(
        host=settings.host,
        port=settings.port,
        title="Taskdeck",
        reload=False,
        show=False,
        fastapi_docs=True,
        favicon="🛒",
        storage_secret=settings.secret_key or "taskdeck-local",
        uvicorn_logging_level="warning",
    )
