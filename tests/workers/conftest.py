"""Fixtures for engine tests: in-process worker runtimes on the test database."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from models import tasks as ops
from models.db import Database
from models.schemas import TaskCreate
from models.settings import Settings
from models.tables import Purchase, Task, TaskAttempt
from tests.conftest import wait_for
from workers.runtime import WorkerRuntime


def settings_for(pg_url: str, **overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "database_url": pg_url,
        "redis_url": None,
        "heartbeat_interval": 0.2,
        "heartbeat_timeout": 2.0,
        "sweep_interval": 0.2,
        "backoff_base": 0.3,
        "backoff_cap": 5,
        "worker_concurrency": 1,
        "shutdown_grace": 1.0,
        "rekick_after": 2.0,
        "order_check_interval": 0.2,
    }
    return Settings(**{**base, **overrides})


Start = Callable[..., Any]


@pytest.fixture
async def runtimes(db: Database, tmp_path: Any) -> AsyncIterator[Start]:
    started: list[WorkerRuntime] = []

    async def start(**overrides: Any) -> WorkerRuntime:
        settings = settings_for(
            str(db.url.render_as_string(hide_password=False)),
            artifacts_dir=tmp_path / "artifacts",
            **overrides,
        )

        async def kick(task_id: uuid.UUID) -> None:
            for rt in started:
                asyncio.get_running_loop().create_task(rt.ring(str(task_id)))

        rt = await WorkerRuntime(settings=settings, db=Database(settings.database_url), kick=kick).start()
        started.append(rt)
        return rt

    yield start
    for rt in started:
        await rt.stop(grace=0)
        await rt.db.dispose()


async def create(db: Database, rt: WorkerRuntime | None = None, **fields: Any) -> Task:
    data = TaskCreate(**{"name": "t", "store": "engine-test", "product": "ok", **fields})
    async with db.begin() as session:
        task = await ops.create_task(session, data=data, settings=Settings(backoff_base=0.3))
    if rt is not None and task.status == "queued":
        await rt.kick(task.id)
    return task


async def get(db: Database, task_id: uuid.UUID) -> Task:
    async with db.session() as session:
        return await ops.get_task(session, task_id)


async def until_status(db: Database, task_id: uuid.UUID, *statuses: str, timeout: float = 15) -> Task:
    async def check() -> Task | None:
        task = await get(db, task_id)
        return task if task.status in statuses else None

    return await wait_for(check, timeout=timeout, what=f"task {task_id} to be {statuses}")


async def attempts(db: Database, task_id: uuid.UUID) -> list[TaskAttempt]:
    async with db.session() as session:
        rows = await session.scalars(
            select(TaskAttempt).where(col(TaskAttempt.task_id) == task_id).order_by(col(TaskAttempt.id))
        )
        return list(rows)


async def purchases(db: Database, task_id: uuid.UUID) -> int:
    async with db.session() as session:
        return (
            await session.scalar(
                select(func.count()).select_from(Purchase).where(Purchase.task_id == task_id)
            )
            or 0
        )
