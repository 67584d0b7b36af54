"""A client for the running stack (webapp API + demo store) used by the end-to-end tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class Stack:
    url: str  # webapp origin
    http: httpx.AsyncClient
    worker: Callable[..., Any] = lambda **_: None  # starts a worker process on the stack's settings
    env: dict[str, Any] = field(default_factory=dict)  # the settings webapp and workers share
    db: Any = None  # the test's Database

    @property
    def store(self) -> str:
        return f"{self.url}/demo-store"

    async def create(self, **fields: Any) -> dict[str, Any]:
        body = {
            "name": "e2e",
            "store": "demo",
            "product": "sneaker-drop",
            "quantity": 1,
            "start": "later",
            **fields,
        }
        r = await self.http.post(f"{self.url}/api/tasks", json=body)
        assert r.status_code == 201, r.text
        return r.json()  # type: ignore[no-any-return]

    async def execute(self, task_id: str) -> dict[str, Any]:
        r = await self.http.post(f"{self.url}/api/tasks/execute", json={"taskId": task_id})
        assert r.status_code == 202, r.text
        return r.json()  # type: ignore[no-any-return]

    async def status(self, task_id: str) -> dict[str, Any]:
        r = await self.http.get(f"{self.url}/api/tasks/execute", params={"taskId": task_id})
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    async def task(self, task_id: str) -> dict[str, Any]:
        r = await self.http.get(f"{self.url}/api/tasks/{task_id}")
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    async def action(self, task_id: str, action: str) -> httpx.Response:
        return await self.http.post(f"{self.url}/api/tasks/{task_id}/{action}")

    async def wait(self, task_id: str, *statuses: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        last: dict[str, Any] = {}
        while time.monotonic() < deadline:
            last = await self.task(task_id)
            if last["status"] in statuses:
                return last
            await asyncio.sleep(0.1)
        raise TimeoutError(f"task {task_id} not {statuses} after {timeout}s; last: {last}")

    async def product(self, slug: str, **changes: Any) -> dict[str, Any]:
        r = await self.http.put(f"{self.store}/api/products/{slug}", json=changes)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    async def orders(self, reference: str | None = None) -> list[dict[str, Any]]:
        params = {"reference": reference} if reference else None
        r = await self.http.get(f"{self.store}/api/orders", params=params)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    async def reset_store(self) -> None:
        r = await self.http.post(f"{self.store}/api/reset", json={})
        assert r.status_code in (200, 204), r.text

    async def stats(self) -> dict[str, Any]:
        r = await self.http.get(f"{self.store}/api/stats")
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]


@asynccontextmanager
async def running_stack(
    *,
    db: Any,
    pg_url: str,
    redis_url: str,
    queue: str,
    start_webapp: Callable[..., Any],
    start_worker: Callable[..., Any],
    headers: dict[str, str],
    **settings: Any,
) -> AsyncIterator[Stack]:
    """A webapp on Postgres and Redis (no worker inside it) with the demo store reset, a client
    signed in with ``headers``, and ``stack.worker(**more)`` to start worker processes on the
    same settings (the demo store at the webapp's address)."""
    env = {"DATABASE_URL": pg_url, "REDIS_URL": redis_url, "TASKDECK_QUEUE_NAME": queue, **settings}
    web = await start_webapp(**env)
    env["TASKDECK_DEMO_STORE_URL"] = f"{web.url}/demo-store"
    async with httpx.AsyncClient(timeout=15, headers=headers) as http:
        stack = Stack(web.url or "", http, lambda **extra: start_worker(**{**env, **extra}), env, db)
        await stack.reset_store()
        yield stack
