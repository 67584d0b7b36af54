"""The JSON API as ``python -m webapp`` serves it, inside NiceGUI: errors stay JSON, tasks run."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from models.db import Database
from tests.conftest import REDIS_URL, StartWebapp, wait_for
from tests.webapp.problems import conflict


async def test_api_in_the_real_webapp_with_its_embedded_worker(
    start_webapp: StartWebapp, db: Database, pg_url: str, auth_headers: dict[str, str]
) -> None:
    webapp = await start_webapp(DATABASE_URL=pg_url)
    async with httpx.AsyncClient(base_url=webapp.url, timeout=10, headers=auth_headers) as http:
        health = (await http.get("/api/health")).json()
        assert health["ok"] is True
        assert (health["database"], health["queue"]) == ("postgresql", "in-process")

        missing = await http.get(f"/api/tasks/{uuid.uuid4()}")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        bad = await http.post("/api/tasks", json={"name": "x", "store": "demo", "product": "unicorn"})
        assert bad.status_code == 422
        assert bad.json()["detail"].startswith("unknown product 'unicorn' in store demo; known: ")

        created = await http.post("/api/tasks", json={"name": "engine", "store": "noop", "product": "x"})
        assert created.status_code == 201, created.text
        task_id = created.json()["id"]

        async def finished() -> dict[str, Any] | None:
            body = (await http.get("/api/tasks/execute", params={"taskId": task_id})).json()
            return body if body["status"] in ("completed", "failed") else None

        status = await wait_for(finished, timeout=30, what="the noop task to finish")
        assert status["status"] == "completed", status
        assert status["result"]["orderNumber"] == f"NOOP-{task_id[:8]}"
        again = await http.post("/api/tasks/execute", json={"taskId": task_id})
        assert again.status_code == 409
        assert again.json() == conflict("cannot execute: task is completed", "completed")


async def test_api_on_redis_says_so(
    start_webapp: StartWebapp, db: Database, pg_url: str, redis_queue: str, auth_headers: dict[str, str]
) -> None:
    webapp = await start_webapp(DATABASE_URL=pg_url, REDIS_URL=REDIS_URL, TASKDECK_QUEUE_NAME=redis_queue)
    async with httpx.AsyncClient(base_url=webapp.url, timeout=10, headers=auth_headers) as http:
        health = (await http.get("/api/health")).json()
        assert (health["database"], health["queue"]) == ("postgresql", "redis")
        created = await http.post("/api/tasks", json={"name": "later", "store": "noop", "product": "x"})
        assert (created.status_code, created.json()["status"]) == (201, "queued")
