"""Composition root of the web process: ``python -m webapp``.

Dashboard, JSON API and (unless ``TASKDECK_DEMO_STORE=false``) the demo store in one NiceGUI
server. Embedded default (no ``DATABASE_URL``/``REDIS_URL``): SQLite file, in-process queue and
worker; on its first start with no users it creates ``admin@localhost`` and prints the password
once. On Postgres the schema must be current and ``TASKDECK_SECRET_KEY`` set (``models.keys``):
it refuses to start otherwise. ``python -m webapp users …`` / ``tokens …`` is the admin CLI
(``webapp.cli``).
"""

from __future__ import annotations

import asyncio
import logging
import sys

from nicegui import app, ui

from models import keys, logs, migrations, users
from models.db import Database
from models.settings import Settings, load_settings, mask_url
from webapp import api, docs, guards, metrics, pages, probes
from webapp.api import errors as api_errors
from webapp.services import Services

log = logging.getLogger("webapp")


FIRST_ADMIN = "admin@localhost"


async def prepare_schema(settings: Settings) -> None:
    db = Database(settings.database_url)
    try:
        log.info("schema %s", await migrations.ensure_schema(db, auto_migrate=db.is_sqlite))
        if db.is_sqlite:
            await create_first_admin(db)
    finally:
        await db.dispose()


async def create_first_admin(db: Database) -> None:
    """Embedded mode's first start: an admin to sign in with, its password shown this once."""
    async with db.begin() as session:
        if await users.user_count(session) > 0:
            return
        password = users.generate_password()
        await users.create_user(session, email=FIRST_ADMIN, password=password, is_admin=True)
    print(
        f"Taskdeck: created the first user. Sign in as {FIRST_ADMIN} with password: {password}\n"
        "  (shown once; change it with: python -m webapp users set-password admin@localhost)",
        flush=True,
    )


def build(settings: Settings) -> Services:
    services = Services.build(settings)
    app.include_router(api.create_router(services))
    app.include_router(probes.create_probes_router(services))
    app.include_router(metrics.create_metrics_router(services))
    docs.install(app)  # /docs and /redoc with their assets from a package (no CDN)
    if settings.demo_store:
        from webapp.demo_store import create_demo_store

        app.include_router(create_demo_store(), prefix="/demo-store")
    pages.register(services)  # also the styled 404 page of paths outside /api
    api_errors.install(app)  # after: problem details for /api paths no route answers (404, 405)
    guards.install(app, settings)  # last: outermost, in front of the pages' sign-in redirect too
    app.on_startup(services.start)
    app.on_shutdown(services.stop)
    return services


RECONNECT_TIMEOUT = 15.0  # seconds; NiceGUI derives ping interval 12 s and ping deadline 6 s


def main() -> None:
    settings = load_settings()
    logs.configure(settings)
    try:
        key = keys.secret_key(settings)
    except keys.MissingSecretKey as exc:
        print(f"taskdeck: refusing to start: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    try:
        asyncio.run(prepare_schema(settings))
    except (migrations.SchemaBehind, migrations.SchemaUnknown) as exc:
        print(f"taskdeck: refusing to start: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except OSError as exc:
        print(
            f"taskdeck: cannot reach the database at {mask_url(settings.database_url)}: {exc}",
            file=sys.stderr,
        )
        raise SystemExit(2) from None
    build(settings)
    print(f"Taskdeck: http://{settings.host}:{settings.port}/  (API docs at /docs)", flush=True)
    ui.run(
        host=settings.host,
        port=settings.port,
        title="Taskdeck",
        reload=False,
        show=False,
        favicon="🛒",
        storage_secret=keys.cookie_secret(key),
        session_middleware_kwargs={
            "max_age": round(settings.session_hours * 3600),
            "same_site": "lax",
            "https_only": settings.cookie_secure,
        },
        uvicorn_logging_level="warning",
        # a page survives a browser or server busy for a few seconds (a slow phone, a long bulk
        # action on a loaded machine): NiceGUI's default of 3 s also sets a 2 s ping deadline,
        # after which the socket closes and the page reloads, losing its selection and dialogs
        reconnect_timeout=RECONNECT_TIMEOUT,
    )
