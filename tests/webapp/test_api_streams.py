"""Server-Sent Events from ``python -m webapp`` on Postgres: ``/api/events/stream`` and
``/api/tasks/{id}/events/stream``, live through the hub and resumed with ``Last-Event-ID``.

Tasks are created "start later" and changed by the API (edit, pause, cancel), so no worker is
involved and each change is exactly one event."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from itertools import pairwise
from typing import Any

import httpx
import pytest

from models.db import Database
from models.settings import Settings
from tests.conftest import AuthUser, Proc, Procs, launch_webapp

LATER = {"name": "Later", "store": "demo", "product": "sneaker-drop", "start": "later"}
WAIT = 30.0  # seconds: a loaded machine; the hub itself delivers in milliseconds
HEARTBEAT = 0.5  # TASKDECK_SSE_HEARTBEAT for these tests (15 s by default)


class Stream:
    """Reads ``id:``/``data:`` events off an open response; comments (heartbeats) are skipped."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.lines = response.aiter_lines()

    async def next(self) -> tuple[int | None, dict[str, Any]]:
        async def read() -> tuple[int | None, dict[str, Any]]:
            event_id: int | None = None
            data: list[str] = []
            async for line in self.lines:
                if line.startswith("id:"):
                    event_id = int(line[3:].strip())
                elif line.startswith("data:"):
                    data.append(line[5:].strip())
                elif not line and data:
                    return event_id, json.loads("\n".join(data))
            raise AssertionError("the stream ended")

        return await asyncio.wait_for(read(), timeout=WAIT)


@pytest.fixture(scope="module")
async def webapp(pg_url: str, module_procs: Procs) -> Proc:
    """One webapp for the module's tests (nothing of it outlives a test but the hub's LISTEN)."""
    return await launch_webapp(
        module_procs, module_procs.tmp, DATABASE_URL=pg_url, TASKDECK_SSE_HEARTBEAT=HEARTBEAT
    )


@pytest.fixture
def served(db: Database, webapp: Proc) -> Proc:
    return webapp


@asynccontextmanager
async def stream(
    served: Proc, user: AuthUser, path: str = "/api/events/stream", last: int | None = None
) -> AsyncIterator[Stream]:
    headers = user.headers | ({"Last-Event-ID": str(last)} if last is not None else {})
    async with (
        httpx.AsyncClient(base_url=served.url, timeout=httpx.Timeout(10, read=WAIT + 5)) as http,
        http.stream("GET", path, headers=headers) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        yield Stream(response)


async def call(served: Proc, user: AuthUser, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=served.url, timeout=30, headers=user.headers) as http:
        response = await http.request(method, path, **kwargs)
    assert response.status_code < 300, response.text
    body: dict[str, Any] = response.json() if response.content else {}
    return body


async def test_a_change_arrives_live_and_a_resume_replays_exactly_what_was_missed(
    served: Proc, api_user: AuthUser
) -> None:
    async with stream(served, api_user) as events:
        task = await call(served, api_user, "POST", "/api/tasks", json=LATER)
        first_id, first = await events.next()
        assert first == {
            "id": first_id, "taskId": task["id"], "type": "state", "status": "pending", "step": None,
            "progress": None,
        }  # fmt: skip
    assert first_id is not None
    # while no stream is open: three changes
    await call(served, api_user, "PATCH", f"/api/tasks/{task['id']}", json={"quantity": 2})
    await call(served, api_user, "POST", f"/api/tasks/{task['id']}/pause")
    await call(served, api_user, "POST", f"/api/tasks/{task['id']}/cancel")
    async with stream(served, api_user, last=first_id) as events:
        missed = [await events.next() for _ in range(3)]
        assert [(d["type"], d["status"]) for _, d in missed] == [
            ("edit", "pending"),
            ("state", "paused"),
            ("state", "cancelled"),
        ]
        ids = [i for i, _ in missed]
        assert all(i is not None for i in ids) and ids == sorted(ids) and ids[0] > first_id
        # then live, with nothing repeated in between
        await call(served, api_user, "DELETE", f"/api/tasks/{task['id']}")
        _, deleted = await events.next()
        assert (deleted["taskId"], deleted["type"]) == (task["id"], "deleted")


async def test_one_tasks_stream_carries_that_task_only(served: Proc, api_user: AuthUser) -> None:
    mine = await call(served, api_user, "POST", "/api/tasks", json=LATER)
    other = await call(served, api_user, "POST", "/api/tasks", json=LATER)
    async with stream(served, api_user, f"/api/tasks/{mine['id']}/events/stream", last=0) as events:
        event_id, created = await events.next()  # resumed from 0: the task's whole history
        assert (created["taskId"], created["status"]) == (mine["id"], "pending") and event_id
        await call(served, api_user, "POST", f"/api/tasks/{other['id']}/pause")
        await call(served, api_user, "POST", f"/api/tasks/{mine['id']}/pause")
        _, paused = await events.next()
        assert (paused["taskId"], paused["status"]) == (mine["id"], "paused")


async def test_another_users_task_and_changes_stay_hidden(
    served: Proc, api_user: AuthUser, second_user: AuthUser
) -> None:
    theirs = await call(served, api_user, "POST", "/api/tasks", json=LATER)
    async with httpx.AsyncClient(base_url=served.url, timeout=10, headers=second_user.headers) as http:
        refused = await http.get(f"/api/tasks/{theirs['id']}/events/stream")
        assert refused.status_code == 404
        assert refused.headers["content-type"] == "application/problem+json"
        anonymous = await http.get("/api/events/stream", headers={"Authorization": ""})
        assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Bearer"
    async with stream(served, second_user, last=0) as events:
        await call(served, api_user, "POST", f"/api/tasks/{theirs['id']}/pause")
        own = await call(served, second_user, "POST", "/api/tasks", json=LATER)
        _, first = await events.next()  # nothing of the first user's, replayed or live
        assert first["taskId"] == own["id"]


async def test_a_quiet_stream_gets_a_heartbeat_comment_every_interval(
    served: Proc, api_user: AuthUser
) -> None:
    """With nothing happening the stream still speaks: a ``: ping - <server time>`` comment every
    ``TASKDECK_SSE_HEARTBEAT`` seconds (0.5 here; 15 by default), never more often."""
    assert Settings().sse_heartbeat == 15.0
    sent: list[datetime] = []
    async with stream(served, api_user) as events:

        async def pings() -> None:
            async for line in events.lines:
                assert not line.startswith(("data:", "id:")), f"an event on a quiet stream: {line}"
                if line.startswith(": ping - "):
                    sent.append(datetime.fromisoformat(line.removeprefix(": ping - ")))
                    if len(sent) == 4:
                        return

        await asyncio.wait_for(pings(), timeout=WAIT)
    gaps = [(b - a).total_seconds() for a, b in pairwise(sent)]
    assert all(gap >= HEARTBEAT * 0.9 for gap in gaps), gaps  # the interval is the setting's
