"""``/api/queue`` and ``/api/workers``, and pausing processing: the claim respects a hold."""

from __future__ import annotations

from typing import Any

from models import claims, outcomes, worker_rows
from models.tables import Worker
from models.types import utcnow
from tests.conftest import AuthUser
from tests.webapp.test_api import Api, api, api_app

__all__ = ["api", "api_app"]


async def claim(api: Api) -> str | None:
    async with api.db.begin() as session:
        task = await claims.claim_next(session, worker_id="worker-1")
    return str(task.id) if task is not None else None


async def queue(api: Api, user: AuthUser | None = None) -> dict[str, Any]:
    response = await api.http.get("/api/queue", headers=user.headers if user else None)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_pause_is_for_admins_only(api: Api) -> None:
    for path in ("/api/queue/pause", "/api/queue/resume"):
        refused = await api.http.post(path, json={})
        assert refused.status_code == 403, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["detail"] == "only an admin may pause or resume processing"
    assert (await queue(api))["paused"] is False


async def test_a_paused_queue_claims_nothing_until_resumed(api: Api, admin_user: AuthUser) -> None:
    task = await api.create()
    paused = await api.http.post("/api/queue/pause", headers=admin_user.headers)  # no body: everything
    assert paused.status_code == 200, paused.text
    assert paused.json()["paused"] is True
    assert paused.json()["holds"][0]["store"] == "*"
    assert paused.json()["holds"][0]["pausedBy"] == str(admin_user.id)
    assert await claim(api) is None  # the doorbell may ring: nothing is claimed
    assert await api.status(task["id"]) == "queued"
    assert (await queue(api))["paused"] is True  # a plain user sees the hold too
    again = await api.http.post("/api/queue/pause", json={}, headers=admin_user.headers)
    assert again.status_code == 200 and len(again.json()["holds"]) == 1
    resumed = await api.http.post("/api/queue/resume", json={}, headers=admin_user.headers)
    assert resumed.status_code == 200 and resumed.json()["paused"] is False
    assert await claim(api) == task["id"]


async def test_a_store_hold_skips_that_store_only(api: Api, admin_user: AuthUser) -> None:
    demo = await api.create(priority=10)  # the best task, but its store is held
    other = await api.create(store="noop", product="x", priority=0)
    held = await api.http.post("/api/queue/pause", json={"store": "demo"}, headers=admin_user.headers)
    assert held.status_code == 200, held.text
    assert (held.json()["paused"], held.json()["pausedStores"]) == (False, ["demo"])
    assert await claim(api) == other["id"]
    assert await claim(api) is None
    await api.http.post("/api/queue/resume", json={"store": "demo"}, headers=admin_user.headers)
    assert (await queue(api))["pausedStores"] == []
    assert await claim(api) == demo["id"]


async def test_a_running_task_finishes_while_paused(api: Api, admin_user: AuthUser) -> None:
    task = await api.create()
    running = await api.run(task["id"])
    await api.http.post("/api/queue/pause", json={}, headers=admin_user.headers)
    async with api.db.begin() as session:
        await outcomes.record_outcome(
            session, task=running, worker_id="worker-1", to=claims.S.COMPLETED, outcome="completed"
        )
    assert await api.status(task["id"]) == "completed"


async def test_pause_refuses_an_unknown_store(api: Api, admin_user: AuthUser) -> None:
    refused = await api.http.post("/api/queue/pause", json={"store": "nope"}, headers=admin_user.headers)
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"].startswith("unknown store 'nope'")
    assert (await queue(api, admin_user))["holds"] == []


async def test_queue_counts_are_the_callers(api: Api, admin_user: AuthUser, second_user: AuthUser) -> None:
    await api.create()
    await api.create(start="later")
    mine = await queue(api)
    assert (mine["counts"]["queued"], mine["counts"]["pending"]) == (1, 1)
    assert set(mine) == {"streamLength", "pending", "counts", "paused", "pausedStores", "holds"}
    assert mine["streamLength"] is None  # these tests run without Redis
    assert (await queue(api, second_user))["counts"]["queued"] == 0
    assert (await queue(api, admin_user))["counts"]["queued"] == 1


async def test_workers_report_heartbeat_age_memory_and_own_running_ids(
    api: Api, second_user: AuthUser, admin_user: AuthUser
) -> None:
    task = await api.create()
    await api.run(task["id"])
    async with api.db.begin() as session:
        worker = Worker(
            id="host-1:42", host="host-1", pid=42, version="0.1.0", concurrency=2, started_at=utcnow()
        )
        browser = {"contexts_open": 1, "pss_mb": 412.5}
        await worker_rows.worker_seen(
            session, worker=worker, running=[task["id"]], processed=3, status="up", browser=browser
        )
    response = await api.http.get("/api/workers")
    assert response.status_code == 200, response.text
    [row] = response.json()["data"]
    assert (row["id"], row["host"], row["status"], row["running"]) == (
        "host-1:42",
        "host-1",
        "up",
        [task["id"]],
    )
    assert (row["browserContexts"], row["browserMemoryMb"], row["processed"]) == (1, 412.5, 3)
    assert 0 <= row["heartbeatAge"] < 30
    assert row["started"] and row["lastSeen"]
    [theirs] = (await api.http.get("/api/workers", headers=second_user.headers)).json()["data"]
    assert theirs["running"] == []  # another user's task id is not shown
    [admins] = (await api.http.get("/api/workers", headers=admin_user.headers)).json()["data"]
    assert admins["running"] == [task["id"]]
