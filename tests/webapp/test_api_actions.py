"""User actions over the JSON API: start, pause, resume, cancel, retry, delete, and bulk."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import update

from models.tables import Task
from tests.conftest import AuthUser
from tests.webapp.problems import conflict, not_found
from tests.webapp.test_api import TASK_KEYS, Api, api, api_app, soon

__all__ = ["api", "api_app"]  # the fixture, shared with test_api.py


async def act(api: Api, task_id: str, action: str, expected: int = 200) -> dict:
    response = await api.http.post(f"/api/tasks/{task_id}/{action}")
    assert response.status_code == expected, response.text
    return response.json()


async def test_start_a_pending_task(api: Api) -> None:
    task = await api.create(start="later")
    started = await act(api, task["id"], "start")
    assert set(started) == TASK_KEYS
    assert started["status"] == "queued"
    assert await api.status(task["id"]) == "queued"


async def test_pause_and_resume(api: Api) -> None:
    task = await api.create()
    assert (await act(api, task["id"], "pause"))["status"] == "paused"
    again = await act(api, task["id"], "pause", expected=409)
    assert again == conflict("cannot pause: task is paused", "paused")
    assert (await act(api, task["id"], "resume"))["status"] == "queued"
    assert await api.status(task["id"]) == "queued"


async def test_resume_a_task_whose_time_is_ahead_goes_back_to_scheduled(api: Api) -> None:
    task = await api.create(start="at", runAt=soon())
    assert (await act(api, task["id"], "pause"))["status"] == "paused"
    assert (await act(api, task["id"], "resume"))["status"] == "scheduled"


async def test_resume_a_start_later_task_goes_back_to_pending(api: Api) -> None:
    task = await api.create(start="later")
    assert (await act(api, task["id"], "pause"))["status"] == "paused"
    assert (await act(api, task["id"], "resume"))["status"] == "pending"
    assert await api.status(task["id"]) == "pending"


async def test_resume_a_monitor_after_its_window_fails_it(api: Api) -> None:
    task = await api.create(mode="monitor", checkEvery=60, until=soon(3600))
    assert (await act(api, task["id"], "pause"))["status"] == "paused"
    async with api.db.begin() as session:  # the window closes while it is paused
        await session.execute(
            update(Task).where(Task.id == uuid.UUID(task["id"])).values(until=datetime.now(UTC))
        )
    resumed = await act(api, task["id"], "resume")
    assert resumed["status"] == "failed" and "not available before" in resumed["error"]


async def test_cancel_a_waiting_task_at_once(api: Api) -> None:
    task = await api.create()
    cancelled = await act(api, task["id"], "cancel")
    assert (cancelled["status"], cancelled["cancelRequested"]) == ("cancelled", False)
    assert cancelled["finishedAt"] is not None


async def test_cancel_a_running_task_is_a_request(api: Api) -> None:
    task = await api.create()
    await api.run(task["id"])
    response = await api.http.post(f"/api/tasks/{task['id']}/cancel")
    assert response.status_code == 202, response.text
    body = response.json()
    assert (body["status"], body["cancelRequested"]) == ("running", True)


async def test_retry_continues_the_attempt_numbering(api: Api, tmp_path: Path) -> None:
    task = await api.create(maxAttempts=1)
    await api.fail(task["id"])  # attempt #1 of 1: no attempt left
    retried = await act(api, task["id"], "retry")
    assert (retried["status"], retried["attempts"], retried["maxAttempts"]) == ("queued", 1, 1)
    assert retried["error"] is None
    await api.fail(task["id"])  # the claim takes it again: attempt #2
    again = await act(api, task["id"], "retry")  # a fresh run of the same budget, numbered on
    assert (again["attempts"], again["maxAttempts"]) == (2, 1)
    await api.fail(task["id"])
    shots = tmp_path / "artifacts" / task["id"]
    shots.mkdir(parents=True)
    for n in (1, 2, 3):  # what each attempt's worker saved, named by its attempt
        (shots / f"a{n}-01-open-product.png").write_bytes(b"\x89PNG")
        (shots / f"a{n}-trace.zip").write_bytes(b"PK")
    detail = (await api.http.get(f"/api/tasks/{task['id']}")).json()
    assert [a["number"] for a in detail["attemptHistory"]] == [1, 2, 3]
    assert [a["outcome"] for a in detail["attemptHistory"]] == ["permanent"] * 3
    assert (detail["attempts"], detail["maxAttempts"], detail["status"]) == (3, 1, "failed")
    edited = await api.http.patch(f"/api/tasks/{task['id']}", json={"name": "renamed"})
    assert edited.status_code == 200, edited.text  # the budget it re-checks is still 1
    assert edited.json()["maxAttempts"] == 1
    listed = (await api.http.get(f"/api/tasks/{task['id']}/artifacts")).json()
    traces = sorted((a["attempt"], a["name"]) for a in listed if a["kind"] == "trace")
    assert traces == [(1, "a1-trace.zip"), (2, "a2-trace.zip"), (3, "a3-trace.zip")]
    for artifact in listed:
        assert (await api.http.get(artifact["url"])).status_code == 200


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ("pause", "cannot pause: task is completed"),
        ("resume", "cannot resume: task is completed"),
        ("cancel", "cannot cancel: task is completed"),
        ("retry", "cannot retry: task is completed"),
        ("start", "cannot start: task is completed"),
    ],
)
async def test_actions_on_a_completed_task_are_409(api: Api, action: str, message: str) -> None:
    task = await api.create()
    await api.complete(task["id"])
    assert await act(api, task["id"], action, expected=409) == conflict(message, "completed")


async def test_illegal_actions_name_the_state(api: Api) -> None:
    queued = await api.create()
    assert (await act(api, queued["id"], "resume", expected=409))["detail"] == "cannot resume: task is queued"
    assert (await act(api, queued["id"], "retry", expected=409))["detail"] == "cannot retry: task is queued"
    await api.run(queued["id"])
    body = await act(api, queued["id"], "pause", expected=409)
    assert body == conflict("cannot pause: task is running", "running")


async def test_action_404_and_422(api: Api) -> None:
    missing = uuid.uuid4()
    assert (await act(api, str(missing), "pause", expected=404)) == not_found(f"no task with id {missing}")
    bad_id = await act(api, "nope", "pause", expected=422)
    assert bad_id["detail"] == "id: not a valid id (expected a UUID)"
    task = await api.create()
    bad_action = await act(api, task["id"], "explode", expected=422)
    assert bad_action["detail"].startswith("action: Input should be 'start', 'pause'")


# ---- delete -------------------------------------------------------------------------------


async def test_delete_a_task_and_its_artifacts(api: Api, tmp_path: Path) -> None:
    task = await api.create()
    artifacts = tmp_path / "artifacts" / task["id"]
    artifacts.mkdir(parents=True)
    (artifacts / "a1-01-open-product.png").write_bytes(b"\x89PNG")
    response = await api.http.delete(f"/api/tasks/{task['id']}")
    assert response.status_code == 204
    assert response.content == b""
    assert (await api.http.get(f"/api/tasks/{task['id']}")).status_code == 404
    assert await api.rows() == 0
    assert not artifacts.exists()


async def test_delete_a_running_task_is_409(api: Api) -> None:
    task = await api.create()
    await api.run(task["id"])
    response = await api.http.delete(f"/api/tasks/{task['id']}")
    assert response.status_code == 409
    assert response.json() == conflict("cannot delete: task is running; cancel it first", "running")
    assert await api.rows() == 1


async def test_delete_unknown_is_404_and_bad_id_422(api: Api) -> None:
    assert (await api.http.delete(f"/api/tasks/{uuid.uuid4()}")).status_code == 404
    assert (await api.http.delete("/api/tasks/12")).status_code == 422


# ---- bulk ---------------------------------------------------------------------------------


async def test_bulk_by_ids_reports_each_task(api: Api) -> None:
    queued = await api.create()
    pending = await api.create(start="later")
    done = await api.create()
    await api.http.post(f"/api/tasks/{queued['id']}/pause")  # so the completed one is claimed next
    await api.complete(done["id"])
    await api.http.post(f"/api/tasks/{queued['id']}/resume")
    missing = str(uuid.uuid4())

    response = await api.http.post(
        "/api/tasks/bulk", json={"action": "pause", "ids": [queued["id"], pending["id"], done["id"], missing]}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["ok"], body["failed"], body["truncated"]) == (2, 2, False)
    assert body["results"] == [
        {"taskId": queued["id"], "ok": True, "status": "paused", "error": None},
        {"taskId": pending["id"], "ok": True, "status": "paused", "error": None},
        {
            "taskId": done["id"],
            "ok": False,
            "status": "completed",
            "error": "cannot pause: task is completed",
        },
        {"taskId": missing, "ok": False, "status": None, "error": f"no task with id {missing}"},
    ]
    assert await api.status(queued["id"]) == "paused"
    assert await api.status(done["id"]) == "completed"


async def test_bulk_by_filter(api: Api) -> None:
    first = await api.create(name="vinyl one", product="vinyl-box", start="later")
    second = await api.create(name="vinyl two", product="vinyl-box", start="later")
    other = await api.create(name="gpu", product="gpu-founders", start="later")
    noop = await api.create(name="vinyl noop", store="noop", product="vinyl", start="later")

    response = await api.http.post(
        "/api/tasks/bulk",
        json={"action": "start", "filter": {"status": "pending", "store": "demo", "q": "vinyl"}},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["ok"], body["failed"]) == (2, 0)
    assert {r["taskId"] for r in body["results"]} == {first["id"], second["id"]}
    assert all(r["status"] == "queued" for r in body["results"])
    assert await api.status(other["id"]) == "pending"
    assert await api.status(noop["id"]) == "pending"


async def test_bulk_delete_by_status_list(api: Api) -> None:
    cancelled = await api.create()
    await api.http.post(f"/api/tasks/{cancelled['id']}/cancel")
    pending = await api.create(start="later")
    kept = await api.create()
    body = (
        await api.http.post(
            "/api/tasks/bulk", json={"action": "delete", "filter": {"status": ["cancelled", "pending"]}}
        )
    ).json()
    assert (body["ok"], body["failed"]) == (2, 0)
    assert {r["taskId"] for r in body["results"]} == {cancelled["id"], pending["id"]}
    assert all(r["status"] is None for r in body["results"])
    assert await api.rows() == 1
    assert await api.status(kept["id"]) == "queued"


async def test_bulk_caps_a_filter_at_1000(api: Api, api_user: AuthUser) -> None:
    from models.schemas import TaskCreate
    from models.tasks import create_task

    async with api.db.begin() as session:
        for i in range(1001):
            data = TaskCreate(name=f"t{i}", store="noop", product="x", start="later")
            await create_task(session, data=data, settings=api.services.settings, owner_id=api_user.id)
    body = (
        await api.http.post("/api/tasks/bulk", json={"action": "pause", "filter": {"store": "noop"}})
    ).json()
    assert (body["ok"], body["failed"], body["truncated"]) == (1000, 0, True)
    rest = (
        await api.http.post("/api/tasks/bulk", json={"action": "pause", "filter": {"status": "pending"}})
    ).json()
    assert (rest["ok"], rest["truncated"]) == (1, False)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"action": "pause"}, 'give either "ids"'),
        ({"action": "pause", "ids": [], "filter": {}}, 'give either "ids"'),
        ({"action": "explode", "ids": []}, "action: Input should be"),
        ({"action": "pause", "ids": ["x"]}, "ids.0: not a valid id (expected a UUID)"),
        ({"action": "pause", "ids": [str(uuid.uuid4())] * 1001}, "ids: List should have at most 1000 items"),
        ({"action": "pause", "filter": {"status": "lost"}}, "filter.status: unknown status 'lost'"),
        ({"action": "pause", "filter": {"store": "nowhere"}}, "unknown store 'nowhere'"),
        ({"action": "pause", "filter": {"colour": "red"}}, "filter.colour: unknown field"),
    ],
)
async def test_bulk_bad_requests_are_422(api: Api, body: dict, message: str) -> None:
    task = await api.create()
    response = await api.http.post("/api/tasks/bulk", json=body)
    assert response.status_code == 422, response.text
    assert message in response.json()["detail"]
    assert await api.status(task["id"]) == "queued"
