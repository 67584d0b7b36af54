"""The styled 404 page: a path no page answers (``/nope``) shows the header and a way back
instead of NiceGUI's raw ``HTTPException: 404``.

``install`` wraps NiceGUI's 404 handler: what it answers with JSON (a non-page endpoint raising
404, e.g. the demo store's API) keeps that; everything else gets this page, with status 404.
``webapp.api.errors.install`` runs after it, so paths under ``/api`` stay problem details.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from nicegui import Client, ui
from nicegui.page import page
from starlette.exceptions import HTTPException

from webapp.pages import theme
from webapp.pages.updates import HubWatch


def content(path: str) -> None:
    with theme.card().classes("items-center text-center py-10 gap-4").props('data-testid="page-not-found"'):
        ui.icon("explore_off", size="56px").classes("text-grey-5")
        ui.label("404 — page not found").classes("text-2xl font-semibold text-grey-10")
        ui.label(f"Nothing lives at {theme.truncate(path, 80)}.").classes("text-grey-7 td-mono")
        with ui.row().classes("gap-3"):
            ui.button("Back to tasks", icon="arrow_back", on_click=lambda: ui.navigate.to("/tasks")).props(
                'unelevated data-testid="back-to-tasks"'
            )
            ui.button("Go back", icon="undo", on_click=lambda: ui.navigate.back()).props("flat")


def _is_page_404(request: Request, exc: Exception, app: Any) -> bool:
    """False where NiceGUI itself answers JSON: a non-page endpoint that raised the 404."""
    endpoint = request.scope.get("endpoint")
    return (
        endpoint is None
        or endpoint is app
        or bool(request.scope.get("nicegui_page_path"))
        or not isinstance(exc, HTTPException)
    )


def install(app: Any, watch: HubWatch) -> None:
    previous = app.exception_handlers.get(404)

    async def not_found(request: Request, exc: Exception) -> Response:
        if previous is not None and not _is_page_404(request, exc, app):
            result: Response = await previous(request, exc)
            return result
        with Client(page(""), request=request) as client, theme.frame("Not found", watch, section=""):
            content(request.url.path)
        return client.build_response(request, 404)

    app.add_exception_handler(404, not_found)
