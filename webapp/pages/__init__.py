"""The dashboard: one module per page, all drawn in ``theme.frame``.

``register`` defines the pages as closures over ``Services``; pages read through
``models.queries`` and write through ``webapp.commands`` (the API's paths), always as the signed-in
viewer (``page_viewer()``), and stay live through ``services.hub``. Every page but ``/login`` is
for signed-in users only (``webapp.auth.PageGuard``); without a viewer a page shows no data.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import app, ui

from models.access import Viewer
from webapp.auth import PageGuard, page_viewer
from webapp.pages import (
    failures,
    login,
    not_found,
    purchases,
    queue,
    settings,
    task_detail,
    tasks,
    theme,
    watch_detail,
    watches,
)
from webapp.pages.notifications import Inbox
from webapp.pages.updates import HubWatch
from webapp.services import Services


def signed_in() -> Viewer | None:
    """The page's viewer; signed out, a short note instead of the page (and no data)."""
    viewer = page_viewer()
    if viewer is None:
        ui.label("Sign in to see this page.").props('data-testid="signed-out"')
    return viewer


def register(services: Services) -> None:
    inbox = Inbox(services.hub)
    watch = HubWatch(services.hub, inbox)
    app.on_startup(inbox.start)
    app.on_startup(watch.start)
    app.on_shutdown(watch.stop)
    app.add_middleware(PageGuard, services=services)
    login.register(services)
    not_found.install(app, watch)

    @ui.page("/")
    def index() -> RedirectResponse:
        return RedirectResponse("/tasks")

    @ui.page("/tasks", title="Tasks")
    async def tasks_page(request: Request) -> None:
        if viewer := signed_in():
            zone = theme.browser_zone(request)
            await tasks.render(services, watch, zone, viewer=viewer, params=request.query_params)

    @ui.page("/tasks/{task_id}", title="Task")
    async def task_page(request: Request, task_id: str) -> None:
        if viewer := signed_in():
            await task_detail.render(services, watch, theme.browser_zone(request), task_id, viewer=viewer)

    @ui.page("/queue", title="Queue")
    async def queue_page(request: Request) -> None:
        if viewer := signed_in():
            await queue.render(services, watch, theme.browser_zone(request), viewer=viewer)

    @ui.page("/failures", title="Failures")
    async def failures_page(request: Request) -> None:
        if viewer := signed_in():
            await failures.render(services, watch, theme.browser_zone(request), viewer=viewer)

    @ui.page("/purchases", title="Purchases")
    async def purchases_page(request: Request) -> None:
        if viewer := signed_in():
            await purchases.render(services, watch, theme.browser_zone(request), viewer=viewer)

    @ui.page("/settings", title="Settings")
    async def settings_page(request: Request) -> None:
        if viewer := signed_in():
            await settings.render(services, watch, theme.browser_zone(request), viewer=viewer)

    @ui.page("/watches", title="Watches")
    async def watches_page(request: Request) -> None:
        if viewer := signed_in():
            await watches.render(services, watch, theme.browser_zone(request), viewer=viewer)

    @ui.page("/watches/{watch_id}", title="Watch")
    async def watch_page(request: Request, watch_id: str) -> None:
        if viewer := signed_in():
            await watch_detail.render(services, watch, theme.browser_zone(request), watch_id, viewer=viewer)
