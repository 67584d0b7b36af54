"""``POST /api/tasks`` with a list (all or nothing), ``Idempotency-Key``, and ``PATCH /api/tasks/{id}``."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from models.tables import IdempotencyKey, Task, TaskEvent
from models.types import utcnow
from tests.conftest import AuthUser
from tests.webapp.problems import conflict, not_found
from tests.webapp.test_api import Api, api, api_app, soon

__all__ = ["api", "api_app"]  # the fixture, imported to be used here

ONE = {"name": "Sneakers", "store": "demo", "product": "sneaker-drop"}


# ---- lists ------------------------------------------------------------------------------------


async def test_a_list_creates_every_task_in_order(api: Api) -> None:
    body = [{**ONE, "name": f"Drop {i}"} for i in range(25)] + [{**ONE, "name": "Later", "start": "later"}]
    response = await api.http.post("/api/tasks", json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    assert [t["name"] for t in created] == [f"Drop {i}" for i in range(25)] + ["Later"]
    assert [t["status"] for t in created] == ["queued"] * 25 + ["pending"]
    assert await api.rows() == 26
    assert "location" not in response.headers


async def test_a_list_with_one_bad_item_creates_nothing_and_names_its_index(api: Api) -> None:
    body = [ONE, {**ONE, "quantity": 0}, ONE]
    response = await api.http.post("/api/tasks", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "/problems/validation" and problem["status"] == 422
    assert [(e["field"], e["loc"]) for e in problem["errors"]] == [("1.quantity", ["body", 1, "quantity"])]
    assert await api.rows() == 0


async def test_a_list_refused_by_the_checks_after_parsing_names_its_index(api: Api) -> None:
    body = [ONE, ONE, {**ONE, "product": "unicorn"}]
    response = await api.http.post("/api/tasks", json=body)
    assert response.status_code == 422
    problem = response.json()
    assert problem["detail"].startswith("item 2: unknown product 'unicorn'")
    assert [e["loc"] for e in problem["errors"]] == [["body", 2, "product"]]
    assert await api.rows(Task) == 0 and await api.rows(TaskEvent) == 0


async def test_a_list_of_another_users_profile_creates_nothing(api: Api) -> None:
    body = [ONE, {**ONE, "profileId": str(uuid.uuid4())}]
    response = await api.http.post("/api/tasks", json=body)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "1.profileId"
    assert await api.rows() == 0


async def test_an_empty_list_and_one_over_1000_are_refused(api: Api) -> None:
    empty = await api.http.post("/api/tasks", json=[])
    assert empty.status_code == 422, empty.text
    too_many = await api.http.post("/api/tasks", json=[{"name": "x", "store": "demo", "product": "p"}] * 1001)
    assert too_many.status_code == 422
    assert "at most 1000" in too_many.json()["detail"]
    assert await api.rows() == 0


@pytest.mark.slow
async def test_a_list_of_1000_is_one_transaction(api: Api) -> None:
    response = await api.http.post("/api/tasks", json=[{**ONE, "start": "later"}] * 1000, timeout=120)
    assert response.status_code == 201, response.text[:500]
    assert len(response.json()) == 1000 and await api.rows() == 1000


# ---- Idempotency-Key --------------------------------------------------------------------------


async def test_the_same_key_and_body_return_the_same_task(api: Api) -> None:
    key = {"Idempotency-Key": f"order-{uuid.uuid4()}"}
    first = await api.http.post("/api/tasks", json=ONE, headers=key)
    assert first.status_code == 201
    again = await api.http.post("/api/tasks", json={"product": "sneaker-drop", **ONE}, headers=key)
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert await api.rows() == 1


async def test_the_same_key_with_another_body_is_422(api: Api) -> None:
    key = {"Idempotency-Key": "k-1"}
    assert (await api.http.post("/api/tasks", json=[ONE, ONE], headers=key)).status_code == 201
    other = await api.http.post("/api/tasks", json=[ONE], headers=key)
    assert other.status_code == 422
    assert other.json()["type"] == "/problems/idempotency-mismatch"
    assert await api.rows() == 2


async def test_keys_are_per_user(api: Api, second_user: AuthUser) -> None:
    key = {"Idempotency-Key": "shared-name"}
    assert (await api.http.post("/api/tasks", json=ONE, headers=key)).status_code == 201
    theirs = await api.http.post("/api/tasks", json=ONE, headers={**key, **second_user.headers})
    assert theirs.status_code == 201
    assert await api.rows() == 2


async def test_a_refused_request_stores_no_key(api: Api) -> None:
    key = {"Idempotency-Key": "fix-and-retry"}
    assert (await api.http.post("/api/tasks", json={**ONE, "quantity": 0}, headers=key)).status_code == 422
    assert (await api.http.post("/api/tasks", json=ONE, headers=key)).status_code == 201


async def test_a_key_expires_after_24_hours_and_old_keys_are_pruned(api: Api) -> None:
    key = {"Idempotency-Key": "daily"}
    assert (await api.http.post("/api/tasks", json=ONE, headers=key)).status_code == 201
    async with api.db.begin() as session:
        await session.execute(update(IdempotencyKey).values(created_at=utcnow() - timedelta(hours=25)))
    again = await api.http.post("/api/tasks", json=ONE, headers=key)
    assert again.status_code == 201  # a new task: the old key is gone
    assert await api.rows() == 2 and await api.rows(IdempotencyKey) == 1


async def test_concurrent_requests_with_one_key_create_once(api: Api) -> None:
    key = {"Idempotency-Key": "twins"}
    body = [{**ONE, "name": f"T{i}"} for i in range(20)]
    answers = await asyncio.gather(*(api.http.post("/api/tasks", json=body, headers=key) for _ in range(6)))
    assert sorted(a.status_code for a in answers) == [200] * 5 + [201], [a.text[:200] for a in answers]
    assert len({tuple(t["id"] for t in a.json()) for a in answers}) == 1
    assert await api.rows() == 20


async def test_a_bad_key_is_422(api: Api) -> None:
    response = await api.http.post("/api/tasks", json=ONE, headers={"Idempotency-Key": "x" * 256})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "Idempotency-Key"
    assert await api.rows() == 0


# ---- PATCH ------------------------------------------------------------------------------------


async def events(api: Api, task_id: str) -> list[tuple[str, str | None, Any]]:
    async with api.db.session() as session:
        rows = await session.execute(
            select(TaskEvent.kind, TaskEvent.message, TaskEvent.data)
            .where(TaskEvent.task_id == uuid.UUID(task_id))
            .order_by(TaskEvent.id)
        )
        return [tuple(r) for r in rows]


async def test_patch_edits_fields_and_records_an_event(api: Api) -> None:
    task = await api.create(start="later")
    response = await api.http.patch(
        f"/api/tasks/{task['id']}",
        json={"name": " New name ", "quantity": 3, "maxPrice": 99.5, "priority": 7},
    )
    assert response.status_code == 200, response.text
    edited = response.json()
    assert (edited["name"], edited["quantity"], edited["maxPrice"], edited["priority"]) == (
        "New name",
        3,
        99.5,
        7,
    )
    assert edited["status"] == "pending"
    assert (await events(api, task["id"]))[-1] == (
        "edit",
        "edited: max_price, name, priority, quantity",
        {"fields": ["max_price", "name", "priority", "quantity"]},
    )
    cleared = await api.http.patch(f"/api/tasks/{task['id']}", json={"maxPrice": None})
    assert cleared.json()["maxPrice"] is None


async def test_patch_reschedules_and_switches_mode(api: Api) -> None:
    task = await api.create(start="later")
    at = soon(3600)
    rescheduled = (await api.http.patch(f"/api/tasks/{task['id']}", json={"runAt": at})).json()
    assert rescheduled["status"] == "scheduled" and rescheduled["runAt"] is not None
    monitor = await api.http.patch(f"/api/tasks/{task['id']}", json={"mode": "monitor", "checkEvery": 30})
    assert (monitor.json()["mode"], monitor.json()["checkEvery"]) == ("monitor", 30)
    once = (await api.http.patch(f"/api/tasks/{task['id']}", json={"mode": "once"})).json()
    assert (once["mode"], once["checkEvery"], once["until"]) == ("once", None, None)
    queued = await api.create()
    refused = await api.http.patch(f"/api/tasks/{queued['id']}", json={"runAt": at})
    assert refused.status_code == 409 and refused.json()["taskStatus"] == "queued"


async def test_patch_validates_as_create(api: Api) -> None:
    task = await api.create(start="later")
    cases = [
        ({"quantity": 0}, "quantity"),
        ({}, "at least one field"),
        ({"name": None}, "name cannot be null"),
        ({"mode": "monitor"}, 'mode "monitor" needs checkEvery'),
        ({"runAt": "2030-01-01T00:00:00"}, "runAt"),
        ({"status": "completed"}, "status: unknown field"),
        ({"mode": "monitor", "checkEvery": 5, "until": soon(-60)}, "until: must be in the future"),
    ]
    for body, said in cases:
        response = await api.http.patch(f"/api/tasks/{task['id']}", json=body)
        assert response.status_code == 422, (body, response.text)
        assert said in response.json()["detail"], (body, response.json())
    async with api.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(TaskEvent)) == 1  # created only


async def test_patch_is_409_while_running_and_404_for_others(api: Api, second_user: AuthUser) -> None:
    task = await api.create()
    await api.run(task["id"])
    running = await api.http.patch(f"/api/tasks/{task['id']}", json={"quantity": 2})
    assert (running.status_code, running.json()) == (409, conflict("cannot edit: task is running", "running"))
    other = await api.create(start="later")
    theirs = await api.http.patch(
        f"/api/tasks/{other['id']}", json={"quantity": 2}, headers=second_user.headers
    )
    assert (theirs.status_code, theirs.json()) == (404, not_found(f"no task with id {other['id']}"))
    async with api.db.session() as session:
        assert await session.scalar(select(Task.quantity).where(Task.id == uuid.UUID(other["id"]))) == 1


async def test_an_admin_may_not_edit_another_users_task(api: Api, admin_user: AuthUser) -> None:
    task = await api.create(start="later")
    response = await api.http.patch(
        f"/api/tasks/{task['id']}", json={"quantity": 2}, headers=admin_user.headers
    )
    assert response.status_code == 403 and response.json()["type"] == "/problems/forbidden"
