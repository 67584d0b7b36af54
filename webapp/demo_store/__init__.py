"""The bundled demo store: a small but real shop served by the webapp under ``/demo-store``.

    router = create_demo_store()
    app.include_router(router, prefix="/demo-store")

Pages (``pages.py``) are plain server-rendered HTML for people and bots; the JSON API
(``api.py``, under ``/api``) lets tests and the demo change a product's behaviour (stock,
restock time, failures, delay, flakiness, limits, login, page layout) and read orders and
checkout statistics. State (``state.py``) lives in this process; ``POST /api/reset`` restores it.
"""

from __future__ import annotations

from fastapi import APIRouter

from webapp.demo_store.api import api_router
from webapp.demo_store.pages import pages_router
from webapp.demo_store.state import DemoStore

__all__ = ["DemoStore", "create_demo_store"]


def create_demo_store(store: DemoStore | None = None) -> APIRouter:
    """A router serving ``store`` (a fresh ``DemoStore`` by default); mount it with a prefix."""
    store = store or DemoStore()
    router = APIRouter()
    router.include_router(api_router(store))
    router.include_router(pages_router(store))
    return router
