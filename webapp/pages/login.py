"""``/login``: the sign-in page, and the routes it posts to.

The page is a plain HTML form that POSTs to ``/login`` (a real route, so a refusal is a real
HTTP status): right → the session is signed in and the browser goes on to ``next``; wrong →
back to ``/login?failed=1``, which says "wrong email or password" whatever was wrong; more than
``LIMIT`` failures a minute for one email or one client address → 429 with ``Retry-After``.
``POST /logout`` (the header's user menu) ends the session.
"""

from __future__ import annotations

import html
from typing import Annotated
from urllib.parse import quote

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from nicegui import app, ui

from models import users
from webapp import auth
from webapp.services import Services
from webapp.throttle import Throttle

LIMIT = 5  # failed sign-ins a minute, per email and per client address
WRONG = "wrong email or password"
FORM = """
<form method="post" action="/login" class="flex flex-col gap-4" data-testid="login-form">
  <input type="hidden" name="next" value="{next}">
  <label class="flex flex-col gap-1 text-sm text-slate-600">Email
    <input name="email" type="email" autocomplete="username" required autofocus
      class="border border-slate-300 rounded px-3 py-2 text-base text-slate-900">
  </label>
  <label class="flex flex-col gap-1 text-sm text-slate-600">Password
    <input name="password" type="password" autocomplete="current-password" required
      class="border border-slate-300 rounded px-3 py-2 text-base text-slate-900">
  </label>
  <button type="submit" class="bg-[#3b5bdb] text-white rounded px-4 py-2 font-medium">Sign in</button>
</form>
"""
TOO_MANY = """<!doctype html><title>Too many sign-in attempts · Taskdeck</title>
<p>Too many failed sign-in attempts. Try again in {seconds} seconds.</p>
<p><a href="/login">Back to sign in</a></p>"""


def safe_next(target: str | None) -> str:
    """A local path to go on to after signing in (never another site)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/tasks"
    return target


def cross_site(request: Request) -> bool:
    """A form another site's page posted here (login CSRF), as the browser labels it."""
    return request.headers.get("sec-fetch-site") == "cross-site"


def forbidden() -> HTMLResponse:
    return HTMLResponse("<!doctype html><p>Sign in from Taskdeck's own page.</p>", status_code=403)


def register(services: Services) -> None:
    throttle = Throttle(limit=LIMIT, window=60.0)

    @ui.page("/login", title="Sign in")
    def login_page(next: str = "/tasks", failed: str | None = None) -> RedirectResponse | None:
        if auth.session_viewer() is not None and not failed:
            return RedirectResponse(safe_next(next))
        ui.page_title("Sign in · Taskdeck")
        ui.query("body").classes("bg-slate-100")
        with ui.card().classes("td-card mx-auto mt-24 w-[380px] max-w-full p-8 gap-4"):
            with ui.row().classes("items-center gap-2"):
                ui.icon("shopping_cart_checkout", size="28px").classes("text-amber-500")
                ui.label("Taskdeck").classes("text-2xl font-semibold")
            if failed:
                ui.label(WRONG).classes("text-negative").props('data-testid="login-error"')
            ui.html(FORM.format(next=html.escape(safe_next(next), quote=True)), sanitize=False).classes(
                "w-full"
            )
        return None

    @app.post("/login", include_in_schema=False)
    async def login(
        request: Request,
        email: Annotated[str, Form(max_length=254)] = "",
        password: Annotated[str, Form(max_length=1024)] = "",
        next: Annotated[str, Form(max_length=2000)] = "/tasks",
    ) -> Response:
        if cross_site(request):
            return forbidden()
        keys = [
            f"email:{users.normalize_email(email)}",
            f"ip:{request.client.host if request.client else '?'}",
        ]
        wait = throttle.retry_after(keys)
        if wait is not None:
            return HTMLResponse(
                TOO_MANY.format(seconds=wait), status_code=429, headers={"Retry-After": str(wait)}
            )
        async with services.db.begin() as session:
            user = await users.authenticate(session, email=email, password=password)
            viewer = users.viewer_of(user) if user is not None else None
        if viewer is None:
            throttle.fail(keys)
            return RedirectResponse(
                f"/login?failed=1&next={quote(safe_next(next), safe='')}", status_code=303
            )
        auth.sign_in(viewer, hours=services.settings.session_hours)
        return RedirectResponse(safe_next(next), status_code=303)

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        if cross_site(request):
            return forbidden()
        auth.sign_out()
        auth.close_pages(request.session.get("id"))
        return RedirectResponse("/login", status_code=303)
