"""``/healthz`` and ``/readyz``: the container health checks of the web process.

``GET /healthz``  200 while the process answers (touches neither the database nor Redis).
``GET /readyz``   200 when the database answers, its schema is one this code runs on
                  (``models.migrations.compatibility``) and Redis answers; else 503. The body
                  names each check and whether it passed, never a URL or an error text (the
                  reason is logged): probes are open to anyone who reaches the port.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from models import readiness
from webapp.api.errors import api_router
from webapp.services import Services

log = logging.getLogger(__name__)


def create_probes_router(services: Services) -> APIRouter:
    router = api_router(include_in_schema=False)

    @router.get("/healthz")
    async def healthz() -> JSONResponse:
        return JSONResponse({"ok": True})

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        checks = await readiness.check_all(services.settings, services.db)
        started = services.ready.is_set()
        ok = started and all(c.ok for c in checks)
        for check in checks:
            if not check.ok:
                log.warning("not ready: %s: %s", check.name, check.detail)
        body = {"ok": ok, "started": started, "checks": {c.name: c.ok for c in checks}}
        return JSONResponse(body, status_code=200 if ok else 503)

    return router
