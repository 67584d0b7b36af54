"""Errors as RFC 9457 problem details, and an example on every route of the OpenAPI schema."""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlalchemy import text

from tests.conftest import StartWebapp
from tests.webapp.test_api import Api, api, api_app

__all__ = ["api", "api_app"]  # the fixture, imported to be used here

PROBLEM = "application/problem+json"


async def test_each_kind_of_error_is_problem_details(api: Api) -> None:
    anonymous = await api.http.get("/api/tasks", headers={"Authorization": "Bearer td_not-a-token"})
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == PROBLEM
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert anonymous.json() == {
        "type": "/problems/unauthorized",
        "title": "Authentication required",
        "status": 401,
        "detail": "the API token is not valid (revoked, or its user is disabled)",
    }
    invalid = await api.http.post("/api/tasks", json={"name": "", "store": "demo", "product": "p", "x": 1})
    body = invalid.json()
    assert (invalid.status_code, invalid.headers["content-type"]) == (422, PROBLEM)
    assert (body["type"], body["title"], body["status"]) == ("/problems/validation", "Invalid input", 422)
    assert {e["field"] for e in body["errors"]} == {"name", "x"}
    assert all(set(e) == {"field", "detail", "type", "loc"} for e in body["errors"])
    malformed = await api.http.post("/api/tasks", content=b"{", headers={"content-type": "application/json"})
    assert malformed.status_code == 422 and malformed.json()["detail"].startswith(
        "the body is not valid JSON"
    )
    wrong_method = await api.http.put("/api/tasks")
    assert (wrong_method.status_code, wrong_method.headers["content-type"]) == (405, PROBLEM)
    assert wrong_method.json()["title"] == "Method Not Allowed"


async def test_an_unexpected_error_is_a_500_that_shows_nothing_inside(api: Api) -> None:
    """A broken database (its task table gone for a moment) must not leak SQL or a traceback."""
    async with api.db.begin() as session:
        await session.execute(text("ALTER TABLE task RENAME TO task_gone"))
    try:
        response = await api.http.get("/api/tasks")
    finally:
        async with api.db.begin() as session:
            await session.execute(text("ALTER TABLE task_gone RENAME TO task"))
    assert (response.status_code, response.headers["content-type"]) == (500, PROBLEM)
    assert response.json() == {
        "type": "/problems/internal",
        "title": "Internal error",
        "status": 500,
        "detail": "internal error; it has been logged",
    }


async def test_in_the_real_webapp_unknown_api_paths_and_bad_hosts_are_problems(
    start_webapp: StartWebapp, pg_url: str, auth_headers: dict[str, str]
) -> None:
    webapp = await start_webapp(DATABASE_URL=pg_url)  # hosts: 127.0.0.1, localhost
    async with httpx.AsyncClient(base_url=webapp.url, timeout=10, headers=auth_headers) as http:
        unknown = await http.get("/api/nothing-here")
        assert (unknown.status_code, unknown.headers["content-type"]) == (404, PROBLEM)
        assert unknown.json()["type"] == "/problems/not-found"
        wrong_method = await http.delete("/api/stores")
        assert (wrong_method.status_code, wrong_method.headers["content-type"]) == (405, PROBLEM)
        page = await http.get("/no-such-page")
        assert page.headers["content-type"].startswith("text/html")  # pages keep NiceGUI's error page
        bad_host = await http.get("/api/health", headers={"Host": "evil.example"})
        assert (bad_host.status_code, bad_host.headers["content-type"]) == (400, PROBLEM)
        assert bad_host.json()["detail"] == "this host name is not served here"


def _has_example(spec: dict[str, Any], content: dict[str, Any]) -> bool:
    for media in content.values():
        if "example" in media or "examples" in media:
            return True
        schema = media.get("schema", {})
        ref = schema.get("$ref") or schema.get("items", {}).get("$ref")
        if ref and "examples" in spec["components"]["schemas"][ref.split("/")[-1]]:
            return True
    return False


async def test_every_route_has_an_example_request_and_answer(api: Api) -> None:
    spec = api.app.openapi()
    missing = []
    for path, operations in spec["paths"].items():
        if not path.startswith("/api/"):
            continue  # the demo store stands for a shop, not for Taskdeck's API
        for method, op in operations.items():
            body = op.get("requestBody")
            if body and not _has_example(spec, body["content"]):
                missing.append(f"{method.upper()} {path}: request")
            for status, answer in op["responses"].items():
                if (
                    status.startswith("2")
                    and answer.get("content")
                    and not _has_example(spec, answer["content"])
                ):
                    missing.append(f"{method.upper()} {path}: {status}")
    assert not missing, json.dumps(missing, indent=1)
    assert "Problem" in spec["components"]["schemas"]


async def test_the_action_route_documents_both_meanings_of_resume(api: Api) -> None:
    """``POST /api/tasks/{id}/resume`` resumes a paused task *or* hands an ``action_needed`` one
    back to its bot: an integrator reads both in the schema."""
    op = api.app.openapi()["paths"]["/api/tasks/{id}/{action}"]["post"]
    text = op["summary"] + op["description"]
    assert "paused" in text and "action_needed" in text and "hand" in text.lower()
