"""Tasks in doubt over the JSON API: the ``unknown`` state, its filter and count, and the two
decisions a person makes (``mark-bought`` with the order number, ``mark-not-bought``)."""

from __future__ import annotations

from typing import Any

import pytest

from models import outcomes
from models.states import TaskStatus as S
from tests.webapp.test_api import Api, api, api_app

__all__ = ["api", "api_app"]


async def unknown_task(api: Api, **fields: Any) -> dict[str, Any]:
    """A task that ended past its checkpoint without an answer from the store."""
    task = await api.create(**fields)
    claimed = await api.run(task["id"])
    async with api.db.begin() as session:
        await outcomes.record_outcome(
            session,
            task=claimed,
            worker_id="worker-1",
            to=S.UNKNOWN,
            outcome="unknown",
            error="order may have been placed — check the store",
        )
    return task


async def test_unknown_is_listed_filtered_and_counted(api: Api) -> None:
    doubt = await unknown_task(api)
    await api.create()
    listed = (await api.http.get("/api/tasks", params={"status": "unknown"})).json()
    assert [t["id"] for t in listed["data"]] == [doubt["id"]] and listed["count"] == 1
    assert listed["data"][0]["error"] == "order may have been placed — check the store"
    stats = (await api.http.get("/api/stats")).json()
    assert stats["counts"]["unknown"] == 1


async def test_mark_bought_completes_with_the_purchase(api: Api) -> None:
    task = await unknown_task(api)
    response = await api.http.post(f"/api/tasks/{task['id']}/mark-bought", json={"orderNumber": " DS-7 "})
    assert response.status_code == 200, response.text
    done = response.json()
    assert (done["status"], done["error"], done["result"]["orderNumber"]) == ("completed", None, "DS-7")
    purchases = (await api.http.get("/api/purchases")).json()
    assert [p["orderNumber"] for p in purchases["data"]] == ["DS-7"]
    again = await api.http.post(f"/api/tasks/{task['id']}/mark-bought", json={"orderNumber": "DS-8"})
    assert again.status_code == 409 and again.json()["taskStatus"] == "completed"


async def test_mark_not_bought_fails_it_and_allows_retry(api: Api) -> None:
    task = await unknown_task(api)
    response = await api.http.post(f"/api/tasks/{task['id']}/mark-not-bought")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "failed" and "not bought" in response.json()["error"]
    retried = await api.http.post(f"/api/tasks/{task['id']}/retry")
    assert retried.status_code == 200 and retried.json()["status"] == "queued"


async def test_unknown_is_never_retried_or_started_by_hand(api: Api) -> None:
    task = await unknown_task(api)
    for action in ("retry", "start", "cancel"):
        response = await api.http.post(f"/api/tasks/{task['id']}/{action}")
        assert response.status_code == 409, (action, response.text)
        assert response.json()["taskStatus"] == "unknown"


@pytest.mark.parametrize(
    "body", [{}, {"orderNumber": ""}, {"orderNumber": "   "}, {"orderNumber": "x" * 101}, {"order": "1"}, []]
)
async def test_mark_bought_needs_an_order_number(api: Api, body: Any) -> None:
    task = await unknown_task(api)
    response = await api.http.post(f"/api/tasks/{task['id']}/mark-bought", json=body)
    assert response.status_code == 422, response.text
    assert await api.status(task["id"]) == "unknown"


async def test_marks_refused_outside_unknown(api: Api) -> None:
    task = await api.create()
    response = await api.http.post(f"/api/tasks/{task['id']}/mark-bought", json={"orderNumber": "DS-1"})
    assert response.status_code == 409 and response.json()["taskStatus"] == "queued"
    response = await api.http.post(f"/api/tasks/{task['id']}/mark-not-bought")
    assert response.status_code == 409
    missing = await api.http.post(
        "/api/tasks/00000000-0000-0000-0000-000000000000/mark-bought", json={"orderNumber": "DS-1"}
    )
    assert missing.status_code == 404
