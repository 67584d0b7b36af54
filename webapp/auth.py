"""Who is asking, for the API and the pages.

The API accepts ``Authorization: Bearer <token>`` (looked up by its SHA-256, ``models.users``)
or the dashboard's signed-in session. The router-level guard ``require_viewer(services)`` (every
``/api`` route but ``/api/health``) resolves the viewer once and keeps it on
``request.state.viewer``; routes take it as a parameter ``viewer: ViewerDep``.
Pages read the signed-in user from ``app.storage.user`` (NiceGUI's server-side
per-browser storage, keyed by a cookie signed with the storage secret) through
``page_viewer()``. ``PageGuard`` (a middleware over NiceGUI's page routes) sends a signed-out
browser to ``/login`` before a page is built, so its websocket never carries anything; it and
the API guard re-read the user row on every request (a bearer token's user is remembered for a
few seconds, ``webapp/token_cache.py``, and forgotten at once on a revocation or a disabling
NOTIFY), so a disabled user's session and tokens stop working at once.

    app.storage.user[SESSION_KEY] = {"id": "<user uuid>", "email": ..., "admin": bool, "exp": <unix time>}
"""

from __future__ import annotations

import contextlib
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse
from nicegui import Client, app, background_tasks
from nicegui.storage import request_contextvar
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.responses import Response
from starlette.routing import compile_path

from models import users
from models.access import Viewer
from webapp.errors import Unauthorized
from webapp.services import Services

SESSION_KEY = "auth"


def sign_in(viewer: Viewer, *, hours: float) -> None:
    """Remember the signed-in user for this browser (call from a page or route with a request)."""
    app.storage.user[SESSION_KEY] = {
        "id": str(viewer.user_id),
        "email": viewer.email,
        "admin": viewer.is_admin,
        "exp": time.time() + hours * 3600,
    }


def sign_out() -> None:
    app.storage.user.pop(SESSION_KEY, None)


def close_pages(session_id: object) -> None:
    """Send every open page of this browser session to ``/login`` and drop it on the server, so
    no page of a signed-out browser keeps receiving live pushes."""
    for client in list(Client.instances.values()):
        try:
            same = client.request.session.get("id") == session_id
        except (RuntimeError, AssertionError):  # no request, or no session middleware
            continue
        if same:
            background_tasks.create(_leave(client), name="sign-out page")


async def _leave(client: Client) -> None:
    with contextlib.suppress(Exception):  # a page that is unloading does not answer
        await client.run_javascript("window.location.href = '/login'", timeout=2)
    with contextlib.suppress(KeyError):  # already gone
        client.delete()


def session_viewer() -> Viewer | None:
    """The signed-in user of the current browser, if its session has not expired."""
    try:
        data: Any = app.storage.user.get(SESSION_KEY)
    except (RuntimeError, AssertionError):  # no request context, or storage not set up
        return None
    if not isinstance(data, dict) or float(data.get("exp", 0)) < time.time():
        return None
    try:
        return Viewer(user_id=uuid.UUID(data["id"]), email=str(data["email"]), is_admin=bool(data["admin"]))
    except (KeyError, ValueError, TypeError):
        return None


def page_viewer() -> Viewer | None:
    """Who the page being built (or its event handler) is for: the viewer ``PageGuard`` checked
    against the database for this page's request, else the session's."""
    request = request_contextvar.get()
    viewer = getattr(request.state, "viewer", None) if request is not None else None
    return viewer if isinstance(viewer, Viewer) else session_viewer()


async def checked_session_viewer(services: Services) -> Viewer | None:
    """The session's viewer if its user still exists and is enabled (read from the database, so
    ``is_admin`` is current); a session of a disabled or deleted user is ended."""
    viewer = session_viewer()
    if viewer is None:
        return None
    async with services.db.session() as session:
        user = await users.user_by_id(session, viewer.user_id)
    if user is None or user.disabled:
        sign_out()
        return None
    return users.viewer_of(user)


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def api_viewer(services: Services) -> Callable[[Request], Awaitable[Viewer]]:
    """The FastAPI dependency: a bearer token, else the dashboard's session, else 401."""

    async def current_viewer(request: Request) -> Viewer:
        token = bearer_token(request)
        if token is not None:
            digest = users.token_digest(token)
            cached = services.tokens.get(digest)
            if cached is not None:
                return cached
            generation = services.tokens.generation
            async with services.db.begin() as session:
                user = await users.user_for_token(session, token)
            if user is None:
                raise Unauthorized("the API token is not valid (revoked, or its user is disabled)")
            found = users.viewer_of(user)
            services.tokens.put(digest, found, generation=generation)
            return found
        viewer = await checked_session_viewer(services)
        if viewer is None:
            raise Unauthorized("sign in, or send Authorization: Bearer <token>")
        return viewer

    return current_viewer


def require_viewer(services: Services) -> Callable[[Request], Awaitable[None]]:
    """Router-level guard: resolve the viewer (or 401) and keep it on ``request.state``."""
    resolve = api_viewer(services)

    async def guard(request: Request) -> None:
        request.state.viewer = await resolve(request)

    return guard


async def _viewer(request: Request) -> Viewer:
    viewer = getattr(request.state, "viewer", None)
    if not isinstance(viewer, Viewer):
        raise Unauthorized("sign in, or send Authorization: Bearer <token>")
    return viewer


ViewerDep = Annotated[Viewer, Depends(_viewer)]


OPEN_PAGES = frozenset({"/login"})


class PageGuard(BaseHTTPMiddleware):
    """Every NiceGUI page but ``/login`` redirects a signed-out browser to ``/login?next=…``.

    Pages are recognised by NiceGUI's own registry (``Client.page_routes``), so a new page is
    guarded without doing anything. Add it before ``ui.run`` (inside NiceGUI's session
    middleware, which it needs).
    """

    def __init__(self, app: Any, services: Services) -> None:
        super().__init__(app)
        self.services = services
        self._patterns: list[re.Pattern[str]] = []
        self._known = 0

    def is_page(self, path: str) -> bool:
        routes = set(Client.page_routes.values()) - OPEN_PAGES
        if len(routes) != self._known:
            self._patterns = [compile_path(route)[0] for route in routes]
            self._known = len(routes)
        return any(p.match(path) for p in self._patterns)

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if request.method in ("GET", "HEAD") and self.is_page(request.url.path):
            viewer = await checked_session_viewer(self.services)
            if viewer is None:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
            request.state.viewer = viewer  # page_viewer() reads it while the page is built
        return await call_next(request)
