"""The dashboard: one module per page, all drawn in ``theme.frame``.

``register`` defines the pages as closures over ``Services``; pages read and write through the
models layer (async sessions from ``services.db``) and stay live through ``services.hub``.
Every page but ``/login`` is for signed-in users only (``webapp.auth.PageGuard``).
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import app, ui

from webapp.auth import PageGuard
from webapp.pages import login, purchases, queue, settings, task_detail, tasks, theme
from webapp.pages.updates import HubWatch
from webapp.services import Services


def register(services: Services) -> None:
    watch = HubWatch(services.hub)
    app.on_startup(watch.start)
    app.on_shutdown(watch.stop)
    app.add_middleware(PageGuard, services=services)
    login.register(services)

    @ui.page("/")
    def index() -> RedirectResponse:
        return RedirectResponse("/tasks")

    @ui.page("/tasks", title="Tasks")
    async def tasks_page(request: Request, status: str | None = None, q: str = "") -> None:
        await tasks.render(services, watch, theme.browser_zone(request), status=status, search=q)

    @ui.page("/tasks/{task_id}", title="Task")
    async def task_page(request: Request, task_id: str) -> None:
        await task_detail.render(services, watch, theme.browser_zone(request), task_id)

    @ui.page("/queue", title="Queue")
    async def queue_page(request: Request) -> None:
        await queue.render(services, watch, theme.browser_zone(request))

    @ui.page("/purchases", title="Purchases")
    async def purchases_page(request: Request) -> None:
        await purchases.render(services, watch, theme.browser_zone(request))

    @ui.page("/settings", title="Settings")
    async def settings_page(request: Request) -> None:
        await settings.render(services, watch, theme.browser_zone(request))
