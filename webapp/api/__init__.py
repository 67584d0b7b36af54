"""The JSON API under ``/api``: one router, built from the process's ``Services``.

Every route first waits for ``services.wait_ready()`` (NiceGUI serves before its start-up
coroutines have finished) and answers errors as problem details (``webapp.api.errors``). Every route but
``/api/health`` sits behind ``webapp.auth.require_viewer``: a bearer token or the dashboard's
session, else 401 with ``WWW-Authenticate: Bearer``.

    health.py     GET  /api/health
    tasks.py      POST/GET /api/tasks, GET/PATCH/DELETE /api/tasks/{id}, POST /api/tasks/{id}/{action},
                  POST /api/tasks/{id}/mark-bought, POST/GET /api/tasks/execute, POST /api/tasks/bulk
    streams.py    GET  /api/events/stream, /api/tasks/{id}/events/stream (Server-Sent Events)
    handoff.py    GET  /api/tasks/{id}/live/frame, POST /api/tasks/{id}/takeover|input|finish
    artifacts.py  GET  /api/tasks/{id}/artifacts[/{name}]
    stats.py      GET  /api/stats
    failures.py   GET  /api/failures (failing tasks by cause)
    queue.py      GET  /api/queue, POST /api/queue/pause|resume (admins), GET /api/workers
    purchases.py  GET  /api/purchases
    stores.py     GET  /api/stores
    lookup.py     POST /api/lookup   (product preview for the creation wizard)
    profiles.py   /api/profiles, /api/accounts (checkout profiles and store logins, encrypted)
    tokens.py     GET/POST /api/tokens, DELETE /api/tokens/{id} (the caller's API tokens)
    webhooks.py   /api/webhooks, /api/webhooks/{id}/test, /api/webhooks/{id}/deliveries
    watches.py    POST/GET /api/watches, GET/PATCH/DELETE /api/watches/{id},
                  GET /api/watches/{id}/history, POST /api/watches/{id}/cancel

Routes take the viewer (``ViewerDep``) and pass it to the one read layer (``models.queries``) and
command path (``webapp.commands``): a user sees and changes their own only.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from webapp.api.artifacts import create_artifacts_router
from webapp.api.errors import Unavailable, api_router
from webapp.api.failures import create_failures_router
from webapp.api.handoff import create_handoff_router
from webapp.api.health import create_health_router
from webapp.api.lookup import create_lookup_router
from webapp.api.profiles import create_profiles_router
from webapp.api.purchases import create_purchases_router
from webapp.api.queue import create_queue_router
from webapp.api.stats import create_stats_router
from webapp.api.stores import create_stores_router
from webapp.api.streams import create_streams_router
from webapp.api.tasks import create_tasks_router
from webapp.api.tokens import create_tokens_router
from webapp.api.watches import create_watches_router
from webapp.api.webhooks import create_webhooks_router
from webapp.auth import require_viewer
from webapp.services import Services

__all__ = ["create_router"]


def create_router(services: Services) -> APIRouter:
    async def ready() -> None:
        try:
            await services.wait_ready()
        except TimeoutError:
            raise Unavailable("Taskdeck is still starting; try again in a moment") from None

    router = api_router(prefix="/api", dependencies=[Depends(ready)])
    router.include_router(create_health_router(services))
    guarded = api_router(dependencies=[Depends(require_viewer(services))])
    guarded.include_router(
        create_streams_router(services, heartbeat=services.settings.sse_heartbeat)
    )  # before /tasks/{id}/{action}
    guarded.include_router(create_handoff_router(services))  # before tasks' catch-all /{id}/{action}
    guarded.include_router(create_tasks_router(services))
    guarded.include_router(create_artifacts_router(services))
    guarded.include_router(create_stats_router(services))
    guarded.include_router(create_queue_router(services))
    guarded.include_router(create_failures_router(services))
    guarded.include_router(create_purchases_router(services))
    guarded.include_router(create_stores_router(services.settings))
    guarded.include_router(create_lookup_router(services))
    guarded.include_router(create_profiles_router(services))
    guarded.include_router(create_tokens_router(services))
    guarded.include_router(create_watches_router(services))
    guarded.include_router(create_webhooks_router(services))
    router.include_router(guarded)
    return router
