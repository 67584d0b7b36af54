"""Batches of ``noop`` tasks through the API, for the Redis outage tests (Sentinel, Cluster):
create them, wait until all completed, and check in Postgres that each ran once and bought once."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import httpx
from sqlalchemy import func, select

from models.db import Database
from models.tables import Purchase, TaskAttempt
from tests.conftest import wait_for


@dataclass
class NoopBatch:
    http: httpx.AsyncClient  # the webapp's API, signed in
    prefix: str = "n"
    ids: list[str] = field(default_factory=list)

    async def create(self, n: int) -> None:
        for i in range(n):
            made = await self.http.post(
                "/api/tasks",
                json={"name": f"{self.prefix}{len(self.ids)}-{i}", "store": "noop", "product": "x"},
            )
            assert made.status_code == 201, made.text
            self.ids.append(made.json()["id"])

    async def all_done(self) -> bool:
        answers = await asyncio.gather(*(self.http.get(f"/api/tasks/{i}") for i in self.ids))
        return all(a.json()["status"] == "completed" for a in answers)

    async def wait_all_done(self, what: str, timeout: float = 120) -> None:
        await wait_for(self.all_done, timeout=timeout, interval=1, what=what)

    async def assert_each_ran_and_bought_once(self, db: Database) -> None:
        async with db.session() as session:
            attempts = dict(
                (
                    await session.execute(
                        select(TaskAttempt.task_id, func.count()).group_by(TaskAttempt.task_id)
                    )
                ).all()
            )
            purchases = dict(
                (
                    await session.execute(select(Purchase.task_id, func.count()).group_by(Purchase.task_id))
                ).all()
            )
        assert len(attempts) == len(self.ids) and set(attempts.values()) == {1}  # none ran twice
        assert len(purchases) == len(self.ids) and set(purchases.values()) == {1}  # none bought twice
