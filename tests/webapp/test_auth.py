"""Authentication on a real webapp process (Postgres): the API guard over every route in the
OpenAPI schema, pages that send a signed-out browser to ``/login``, the login form's answers
(wrong password, throttling), the session cookie's flags, and a disabled user locked out."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

from models import users
from models.db import Database
from tests.conftest import AuthUser, StartWebapp, make_user, sign_in_http

METHODS = {"get", "post", "put", "patch", "delete"}


async def test_every_api_route_but_health_needs_credentials(
    start_webapp: StartWebapp, db: Database, pg_url: str, auth_headers: dict[str, str]
) -> None:
    """Iterates ``/openapi.json``, so a route added later cannot forget the guard."""
    web = await start_webapp(DATABASE_URL=pg_url)
    async with httpx.AsyncClient(base_url=web.url or "", timeout=15) as http:
        schema = (await http.get("/openapi.json")).json()
        routes = [
            (method.upper(), path)
            for path, item in schema["paths"].items()
            if path.startswith("/api/") and path != "/api/health"
            for method in item
            if method in METHODS
        ]
        assert len(routes) >= 20 and ("GET", "/api/tokens") in routes, routes
        for method, path in routes:
            url = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)
            for headers in ({}, {"Authorization": "Bearer td_not-a-token"}, {"Authorization": "Basic eDp5"}):
                r = await http.request(method, url, headers=headers)
                assert r.status_code == 401, (method, path, headers, r.status_code, r.text)
                assert r.headers["www-authenticate"] == "Bearer", (method, path)
                assert r.headers["content-type"].startswith("application/problem+json")
        assert (await http.get("/api/health")).status_code == 200
        assert (await http.get("/api/tasks", headers=auth_headers)).status_code == 200


async def test_pages_send_a_signed_out_browser_to_login(
    start_webapp: StartWebapp, db: Database, pg_url: str, api_user: AuthUser
) -> None:
    web = await start_webapp(DATABASE_URL=pg_url)
    async with httpx.AsyncClient(base_url=web.url or "", timeout=15) as http:
        for path in ("/", "/tasks", f"/tasks/{uuid.uuid4()}", "/queue", "/purchases", "/settings"):
            r = await http.get(path)
            assert r.status_code == 303, (path, r.status_code)
            assert r.headers["location"].startswith("/login?next="), (path, r.headers["location"])
        page = await http.get("/login")
        assert page.status_code == 200 and "login-form" in page.text
        # a sign-in form posted from another site's page (login CSRF) is refused
        forged = await http.post(
            "/login",
            data={"email": api_user.email, "password": api_user.password},
            headers={"Sec-Fetch-Site": "cross-site"},
        )
        assert forged.status_code == 403 and (await http.get("/tasks")).status_code == 303
        # signed in, the same pages are built
        await sign_in_http(http, web.url or "", api_user.email, api_user.password)
        assert (await http.get("/tasks")).status_code == 200
        assert (await http.get("/api/tasks")).status_code == 200  # the session works for the API too
        r = await http.post("/logout")
        assert (r.status_code, r.headers["location"]) == (303, "/login")
        assert (await http.get("/tasks")).status_code == 303
        assert (await http.get("/api/tasks")).status_code == 401


async def login(http: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await http.post("/login", data={"email": email, "password": password, "next": "/queue"})


async def test_wrong_login_says_so_alike_and_six_failures_a_minute_are_429(
    start_webapp: StartWebapp, db: Database, pg_url: str, api_user: AuthUser, second_user: AuthUser
) -> None:
    web = await start_webapp(DATABASE_URL=pg_url)
    async with httpx.AsyncClient(base_url=web.url or "", timeout=15) as http:
        wrong_password = await login(http, api_user.email, "not-the-password")
        unknown_email = await login(http, "nobody@taskdeck.test", api_user.password)
        for r in (wrong_password, unknown_email):
            assert r.status_code == 303 and r.headers["location"].startswith("/login?failed=1"), r.headers
        page = await http.get(wrong_password.headers["location"])
        assert "wrong email or password" in page.text
        for _ in range(3):
            assert (await login(http, api_user.email, "nope")).status_code == 303
        # 5 failures for this email: the 6th try is refused, even with the right password
        throttled = await login(http, api_user.email, api_user.password)
        assert throttled.status_code == 429
        assert 1 <= int(throttled.headers["retry-after"]) <= 60
        assert "Too many" in throttled.text
        # 5 failures from this client address too: another user is refused from here as well
        other = await login(http, second_user.email, second_user.password)
        assert other.status_code == 429
    async with httpx.AsyncClient(base_url=web.url or "", timeout=15) as http:
        assert (await http.get("/tasks")).status_code == 303  # nothing signed in on the way


@pytest.mark.parametrize("secure", [False, True])
async def test_session_cookie_flags_and_lifetime(
    start_webapp: StartWebapp, db: Database, pg_url: str, api_user: AuthUser, secure: bool
) -> None:
    env: dict[str, Any] = {"DATABASE_URL": pg_url}
    if secure:
        env |= {"TASKDECK_COOKIE_SECURE": "true", "TASKDECK_SESSION_HOURS": "2"}
    web = await start_webapp(**env)
    async with httpx.AsyncClient(base_url=web.url or "", timeout=15) as http:
        r = await login(http, api_user.email, api_user.password)
        assert (r.status_code, r.headers["location"]) == (303, "/queue")
        cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("session="))
        attributes = {a.strip().split("=")[0].lower(): a.strip() for a in cookie.split(";")[1:]}
        assert "httponly" in attributes and attributes["samesite"].lower() == "samesite=lax"
        assert attributes["max-age"] == f"Max-Age={2 * 3600 if secure else 12 * 3600}"
        assert ("secure" in attributes) is secure
        assert "taskdeck-local" not in web.log()


async def test_a_disabled_users_session_and_tokens_stop_working(
    start_webapp: StartWebapp, db: Database, pg_url: str
) -> None:
    user = await make_user(pg_url, f"leaver-{uuid.uuid4().hex[:6]}@taskdeck.test")
    web = await start_webapp(DATABASE_URL=pg_url)
    async with (
        httpx.AsyncClient(base_url=web.url or "", timeout=15) as browser,
        httpx.AsyncClient(base_url=web.url or "", timeout=15, headers=user.headers) as script,
    ):
        await sign_in_http(browser, web.url or "", user.email, user.password)
        assert (await browser.get("/tasks")).status_code == 200
        assert (await script.get("/api/tasks")).status_code == 200
        async with db.begin() as session:
            await users.set_disabled(session, email=user.email)
        assert (await browser.get("/tasks")).status_code == 303
        assert (await browser.get("/api/tasks")).status_code == 401
        assert (await script.get("/api/tasks")).status_code == 401
        r = await login(browser, user.email, user.password)
        assert r.headers["location"].startswith("/login?failed=1")
