"""Ownership over the JSON API: user B never sees, changes, spends or downloads what is user A's.

Every route of the OpenAPI schema that takes an id is called with A's ids as B (the schema is
iterated, so a new route cannot forget the owner rule): each answers 404, as for an unknown id,
and A's rows are untouched. Lists, stats, purchases and "all matching this filter" leave A's out;
A's profile is not B's to use (422). An admin sees both users' tasks and purchases, each with its
owner, and may narrow a list to one owner.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import AuthUser
from tests.webapp.test_api import Api, api, api_app

__all__ = ["api", "api_app"]

PROFILE = {
    "name": "Mine",
    "fullName": "Ann Owner",
    "email": "ann@example.com",
    "address": "1 Way",
    "cardNumber": "4242 4242 4242 4242",
    "cardExpiry": "12/30",
    "cardCvc": "123",
}
SHOT = "a1-01-open-product.png"
ACTIONS = ("start", "pause", "resume", "cancel", "retry", "mark-not-bought")
BODIES = {  # the smallest valid body of each route that wants one (else a 422 would hide the 404)
    ("PATCH", "/api/profiles/{profile_id}"): {"name": "taken"},
    ("PATCH", "/api/accounts/{account_id}"): {"password": "taken"},
    ("POST", "/api/tasks/{id}/mark-bought"): {"orderNumber": "DS-TAKEN"},
    ("PATCH", "/api/tasks/{id}"): {"quantity": 2},
    ("POST", "/api/tasks/{id}/input"): {"type": "click", "x": 0.5, "y": 0.5},
    ("POST", "/api/tasks/{id}/finish"): {"orderNumber": "DS-TAKEN"},
    ("PATCH", "/api/watches/{id}"): {"name": "taken"},
}


async def owned_by_a(api: Api, tmp_path: Path) -> dict[str, str]:
    """A's task (completed, with a purchase and a screenshot), profile and account."""
    profile = (await api.http.post("/api/profiles", json=PROFILE)).json()
    account = (
        await api.http.post("/api/accounts", json={"store": "demo", "login": "ann", "password": "s3cret"})
    ).json()
    task = await api.create(profileId=profile["id"])
    await api.complete(task["id"])
    shots = tmp_path / "artifacts" / task["id"]
    shots.mkdir(parents=True)
    (shots / SHOT).write_bytes(b"\x89PNG")
    token = (await api.http.get("/api/tokens")).json()["data"][0]["id"]  # A's own API token
    hook = {"url": "http://127.0.0.1:9/hook", "events": ["task.failed"]}
    webhook = (await api.http.post("/api/webhooks", json=hook)).json()["id"]
    listings = [{"store": "demo", "product": "sneaker-drop", "maxPrice": 150}]
    watch = (await api.http.post("/api/watches", json={"name": "Mine", "listings": listings})).json()["id"]
    return {
        "watch": watch,
        "task": task["id"],
        "profile": profile["id"],
        "account": account["id"],
        "token": token,
        "webhook": webhook,
    }


async def task_of(api: Api, user: AuthUser) -> dict[str, Any]:
    body = {"name": f"of {user.email}", "store": "noop", "product": "x", "start": "later"}
    response = await api.http.post("/api/tasks", json=body, headers=user.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def fill(path: str, ids: dict[str, str]) -> str:
    """The route's path with A's ids in it; fails for a parameter this test does not know yet."""

    def value(match: re.Match[str]) -> str:
        param = match[1]
        if param == "id" and path.startswith("/api/tasks/"):
            return ids["task"]
        if param == "id" and path.startswith("/api/watches/"):
            return ids["watch"]
        if param == "token_id":
            return ids["token"]
        known = {
            "profile_id": ids["profile"],
            "account_id": ids["account"],
            "name": SHOT,
            "webhook_id": ids["webhook"],
        }
        if param not in known:
            pytest.fail(f"{path}: which of user A's ids goes into {{{param}}}? add it to this test")
        return known[param]

    return re.sub(r"\{([^}]+)\}", value, path)


async def test_every_route_with_an_id_answers_404_for_another_users_id(
    api: Api, tmp_path: Path, second_user: AuthUser
) -> None:
    ids = await owned_by_a(api, tmp_path)
    b = second_user
    schema = api.app.openapi()
    tried = []
    async with httpx.AsyncClient(
        transport=api.http._transport, base_url="http://taskdeck.test", headers=b.headers
    ) as as_b:
        for template, methods in schema["paths"].items():
            if "{" not in template or not template.startswith("/api/"):
                continue
            for method in methods:
                for action in ACTIONS if "{action}" in template else ("",):
                    path = fill(template.replace("{action}", action), ids)
                    body = BODIES.get((method.upper(), template))
                    response = await as_b.request(method.upper(), path, json=body)
                    assert response.status_code == 404, f"{method.upper()} {path} as B: {response.text}"
                    tried.append(f"{method.upper()} {path}")
        for route in ("execute",):
            status = await as_b.get(f"/api/tasks/{route}", params={"taskId": ids["task"]})
            assert status.status_code == 404
            run = await as_b.post(f"/api/tasks/{route}", json={"taskId": ids["task"]})
            assert run.status_code == 404
        bulk = (await as_b.post("/api/tasks/bulk", json={"action": "delete", "ids": [ids["task"]]})).json()
        assert (bulk["ok"], bulk["failed"]) == (0, 1)
        assert bulk["results"][0]["error"] == f"no task with id {ids['task']}"
    assert len(tried) >= 14, tried
    # A still gets them all: the 404s were the owner rule, not missing rows
    assert (await api.http.get(f"/api/tasks/{ids['task']}")).json()["status"] == "completed"
    assert (await api.http.get(f"/api/tasks/{ids['task']}/artifacts/{SHOT}")).status_code == 200
    assert (await api.http.get(f"/api/profiles/{ids['profile']}")).json()["name"] == "Mine"
    assert (await api.http.get("/api/accounts")).json()["count"] == 1
    assert (await api.http.get(f"/api/webhooks/{ids['webhook']}/deliveries")).json()["count"] == 0
    assert (await api.http.get(f"/api/watches/{ids['watch']}")).json()["status"] == "watching"


async def test_lists_stats_purchases_and_filters_leave_out_another_users(
    api: Api, tmp_path: Path, api_user: AuthUser, second_user: AuthUser
) -> None:
    ids = await owned_by_a(api, tmp_path)
    b = second_user
    mine = await task_of(api, b)
    get = lambda url, **params: api.http.get(url, params=params, headers=b.headers)  # noqa: E731
    tasks = (await get("/api/tasks")).json()
    assert [t["id"] for t in tasks["data"]] == [mine["id"]] and tasks["count"] == 1
    assert tasks["data"][0]["ownerId"] == str(b.id)
    assert (await get("/api/tasks", owner=str(api_user.id))).json()["count"] == 0
    stats = (await get("/api/stats")).json()
    assert stats["counts"]["completed"] == 0 and stats["counts"]["pending"] == 1
    assert sum(p["completed"] for p in stats["throughput"]) == 0
    assert (await get("/api/purchases")).json() == {"data": [], "count": 0}
    assert (await get("/api/profiles")).json()["count"] == 0
    assert (await get("/api/accounts")).json()["count"] == 0
    assert (await get("/api/watches")).json() == {"data": [], "count": 0}
    everything = (
        await api.http.post("/api/tasks/bulk", json={"action": "delete", "filter": {}}, headers=b.headers)
    ).json()
    assert [r["taskId"] for r in everything["results"]] == [mine["id"]]
    assert (await api.http.get(f"/api/tasks/{ids['task']}")).status_code == 200
    # and A's own view has A's: the throughput counts the task A finished
    a_stats = (await api.http.get("/api/stats")).json()
    assert sum(p["completed"] for p in a_stats["throughput"]) == 1


async def test_a_task_may_use_its_owners_profile_only(api: Api, second_user: AuthUser) -> None:
    a_profile = (await api.http.post("/api/profiles", json=PROFILE)).json()["id"]
    b = second_user
    body = {"name": "x", "store": "demo", "product": "sneaker-drop", "profileId": a_profile}
    refused = await api.http.post("/api/tasks", json=body, headers=b.headers)
    assert refused.status_code == 422
    assert refused.json()["detail"] == f"profileId: no profile with id {a_profile}"
    assert await api.rows() == 0
    assert (await api.http.post("/api/tasks", json=body)).status_code == 201  # A's own: fine


async def test_a_watch_may_use_its_owners_profile_only(api: Api, second_user: AuthUser) -> None:
    a_profile = (await api.http.post("/api/profiles", json=PROFILE)).json()["id"]
    listings = [{"store": "demo", "product": "sneaker-drop", "maxPrice": 150}]
    body = {"name": "x", "profileId": a_profile, "listings": listings}
    refused = await api.http.post("/api/watches", json=body, headers=second_user.headers)
    assert refused.status_code == 422
    assert refused.json()["detail"] == f"profileId: no profile with id {a_profile}"
    assert await api.rows() == 0
    assert (await api.http.post("/api/watches", json=body)).status_code == 201  # A's own: fine


async def test_an_admin_sees_everyones_with_the_owner(
    api: Api, tmp_path: Path, api_user: AuthUser, second_user: AuthUser, admin_user: AuthUser
) -> None:
    ids = await owned_by_a(api, tmp_path)
    b, admin = second_user, admin_user
    b_task = await task_of(api, b)
    get = lambda url, **params: api.http.get(url, params=params, headers=admin.headers)  # noqa: E731
    owners = {t["id"]: t["ownerId"] for t in (await get("/api/tasks")).json()["data"]}
    [listing] = (await get(f"/api/watches/{ids['watch']}")).json()["listings"]  # A's watch's task
    assert owners == {
        ids["task"]: str(api_user.id),
        b_task["id"]: str(b.id),
        listing["taskId"]: str(api_user.id),
    }
    only_b = (await get("/api/tasks", owner=str(b.id))).json()
    assert [t["id"] for t in only_b["data"]] == [b_task["id"]]
    purchases = (await get("/api/purchases")).json()
    assert [p["ownerId"] for p in purchases["data"]] == [str(api_user.id)]
    assert (await get("/api/purchases", owner=str(b.id))).json()["count"] == 0
    assert (await get(f"/api/tasks/{ids['task']}/artifacts/{SHOT}")).status_code == 200


# routes that take an id in the query or the body, and the test above that gives them A's id
IDS_OUTSIDE_THE_PATH = {
    ("POST", "/api/tasks"): "test_a_task_may_use_its_owners_profile_only",
    ("POST", "/api/tasks/execute"): "test_every_route_with_an_id_answers_404_for_another_users_id",
    ("GET", "/api/tasks/execute"): "test_every_route_with_an_id_answers_404_for_another_users_id",
    ("POST", "/api/tasks/bulk"): "test_every_route_with_an_id_answers_404_for_another_users_id",
    ("POST", "/api/watches"): "test_a_watch_may_use_its_owners_profile_only",
}


def test_every_id_outside_the_path_is_tried(api: Api) -> None:
    """A route that takes an id in its query or body must be in ``IDS_OUTSIDE_THE_PATH``."""
    schema = api.app.openapi()
    components = schema["components"]["schemas"]

    def fields(body: dict[str, Any] | None) -> set[str]:
        if body is None:
            return set()
        if "$ref" in body:
            body = components[body["$ref"].rsplit("/", 1)[-1]]
        if "items" in body:  # a list of objects
            return fields(body["items"])
        alternatives = body.get("oneOf", []) + body.get("anyOf", [])  # one object or a list of them
        return set(body.get("properties", {})).union(*(fields(b) for b in alternatives))

    found = set()
    for path, operations in schema["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            query = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
            names = query | fields(body.get("schema"))
            if any(n.lower().endswith("id") or n == "ids" for n in names if n != "owner"):
                found.add((method.upper(), path))
    assert found == set(IDS_OUTSIDE_THE_PATH), "give the new route another user's id in a test above"


async def test_workers_show_a_user_only_their_own_running_tasks(
    api: Api, api_user: AuthUser, second_user: AuthUser, admin_user: AuthUser
) -> None:
    from models.tables import Worker

    a_task = await api.create(start="later")
    async with api.db.begin() as session:
        session.add(Worker(id="w1", host="h", pid=1, version="t", running=[a_task["id"], "not-a-task"]))

    async def running(user: AuthUser) -> list[str]:
        stats = (await api.http.get("/api/stats", headers=user.headers)).json()
        [worker] = stats["workers"]
        return list(worker["running"])

    assert await running(api_user) == [a_task["id"]]
    assert await running(second_user) == []  # B sees the worker, not what A runs on it
    assert await running(admin_user) == [a_task["id"], "not-a-task"]
