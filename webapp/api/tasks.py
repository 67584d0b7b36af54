"""``/api/tasks``: create, list, read, execute, user actions, delete, bulk.

Writes run in one transaction each (``services.db.begin()``, committed on exit); a task that
became ``queued`` gets its doorbell rung after the commit, so a worker never looks for a row
that is not there yet. A failed kick leaves the row queued for the sweeper.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response
from sqlalchemy.exc import IntegrityError

from models import queries_api
from models import tasks as task_ops
from models.errors import InvalidTransition, TaskNotFound
from models.schemas import AttemptPublic, EventPublic, TaskCreate, TaskDetail, TaskList, TaskPublic
from models.states import TaskStatus
from models.tables import Task
from webapp.api.catalogue import DemoCatalogue
from webapp.api.errors import ERROR_RESPONSES, BadInput, api_router
from webapp.api.schemas import (
    MAX_BULK,
    Action,
    BulkFilter,
    BulkItem,
    BulkRequest,
    BulkResult,
    ExecuteAccepted,
    ExecuteRequest,
    MarkBought,
    TaskStatusPublic,
)
from webapp.api.validation import check_create, check_profile, check_store, check_text
from webapp.services import Services

log = logging.getLogger(__name__)

EVENTS_IN_DETAIL = 500  # the newest events a task's detail carries
MAX_OFFSET = 1_000_000_000
Order = Literal[
    "-created",
    "created",
    "-updated",
    "updated",
    "-priority",
    "priority",
    "name",
    "-name",
    "status",
    "-status",
]
TaskId = Annotated[uuid.UUID, Path(alias="id", description="the task's id (a UUID)")]
QUEUED = TaskStatus.QUEUED.value
RUNNING = TaskStatus.RUNNING.value


def parse_statuses(values: list[str] | str | None, *, where: str, field: str = "status") -> list[str]:
    """``["queued", "failed,cancelled"]`` → ``["queued", "failed", "cancelled"]``; unknown → 422."""
    if values is None:
        return []
    raw = [values] if isinstance(values, str) else values
    statuses = [s.strip() for value in raw for s in value.split(",") if s.strip()]
    known = [s.value for s in TaskStatus]
    unknown = [s for s in statuses if s not in known]
    if unknown:
        raise BadInput(
            f"{field}: unknown status {', '.join(map(repr, unknown))}; known: {', '.join(known)}",
            field=field,
            where=where,
        )
    return list(dict.fromkeys(statuses))


def create_tasks_router(services: Services, catalogue: DemoCatalogue) -> APIRouter:
    router = api_router(prefix="/tasks", tags=["tasks"], responses=ERROR_RESPONSES)
    db = services.db

    async def kick_if_queued(task: Task) -> None:
        if task.status == QUEUED:
            await services.kick(task.id)

    @router.post("", status_code=201, response_model=TaskPublic, summary="Create a task")
    async def create_task(data: TaskCreate, response: Response) -> TaskPublic:
        """Validate everything first (store, product, times, profile); then one insert."""
        await check_create(data, catalogue=catalogue)
        try:
            async with db.begin() as session:
                await check_profile(data, session=session)
                task = await task_ops.create_task(session, data=data, settings=services.settings)
        except IntegrityError as exc:  # e.g. the profile was deleted meanwhile
            log.info("task not created: %s", exc.orig)
            raise BadInput("the task conflicts with the stored data (was its profile deleted?)") from None
        await kick_if_queued(task)
        response.headers["Location"] = f"/api/tasks/{task.id}"
        return TaskPublic.model_validate(task)

    @router.get("", response_model=TaskList, summary="List tasks, newest first")
    async def list_tasks(
        status: Annotated[list[str] | None, Query(description="repeat or comma-separate")] = None,
        store: Annotated[str | None, Query(max_length=64)] = None,
        q: Annotated[str | None, Query(max_length=200, description="search in name and product")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
        order: Order = "-created",
    ) -> TaskList:
        statuses = parse_statuses(status, where="query")
        check_text(store, "store", where="query")
        check_text(q, "q", where="query")
        async with db.session() as session:
            rows, count = await task_ops.list_tasks(
                session, statuses=statuses, store=store, search=q, limit=limit, offset=offset, order=order
            )
        return TaskList(data=[TaskPublic.model_validate(t) for t in rows], count=count)

    @router.post(
        "/execute", status_code=202, response_model=ExecuteAccepted, summary="Queue a task to run now"
    )
    async def execute(body: ExecuteRequest) -> ExecuteAccepted:
        """Queue a pending, scheduled, paused, retrying, failed or cancelled task (409 otherwise)."""
        async with db.begin() as session:
            task = await task_ops.start_task(session, task_id=body.task_id, action="execute")
        await kick_if_queued(task)
        return ExecuteAccepted(task_id=task.id, status=task.status)

    @router.get("/execute", response_model=TaskStatusPublic, summary="A task's status in brief")
    async def execution_status(task_id: Annotated[uuid.UUID, Query(alias="taskId")]) -> TaskStatusPublic:
        async with db.session() as session:
            task = await task_ops.get_task(session, task_id)
        return TaskStatusPublic.model_validate(task)

    @router.post("/bulk", response_model=BulkResult, summary="One action on many tasks")
    async def bulk(body: BulkRequest) -> BulkResult:
        """Each task in its own transaction; at most 1000 tasks per call (``truncated`` says more matched)."""
        truncated = False
        if body.ids is not None:
            ids = list(dict.fromkeys(body.ids))
        else:
            assert body.filter is not None  # BulkRequest wants one of the two
            ids, truncated = await _select(body.filter)
        results = [await _apply(task_id, body.action) for task_id in ids]
        ok = sum(1 for r in results if r.ok)
        return BulkResult(results=results, ok=ok, failed=len(results) - ok, truncated=truncated)

    async def _select(selection: BulkFilter) -> tuple[list[uuid.UUID], bool]:
        statuses = parse_statuses(selection.status, where="body", field="filter.status")
        if selection.store is not None:
            check_text(selection.store, "filter.store")
            check_store(selection.store, field="filter.store")
        check_text(selection.q, "filter.q")
        async with db.session() as session:
            ids = await queries_api.matching_task_ids(
                session, statuses=statuses, store=selection.store, search=selection.q, limit=MAX_BULK + 1
            )
        return ids[:MAX_BULK], len(ids) > MAX_BULK

    async def _apply(task_id: uuid.UUID, action: str) -> BulkItem:
        try:
            async with db.begin() as session:
                task = await task_ops.apply_action(session, task_id=task_id, action=action)
        except InvalidTransition as exc:
            return BulkItem(task_id=task_id, ok=False, status=exc.status, error=str(exc))
        except TaskNotFound as exc:
            return BulkItem(task_id=task_id, ok=False, status=None, error=str(exc))
        if task is None:  # deleted
            await asyncio.to_thread(services.artifacts.delete, str(task_id))
            return BulkItem(task_id=task_id, ok=True, status=None, error=None)
        await kick_if_queued(task)
        return BulkItem(task_id=task_id, ok=True, status=task.status, error=None)

    @router.get("/{id}", response_model=TaskDetail, summary="A task with its attempts and events")
    async def get_task(task_id: TaskId) -> TaskDetail:
        async with db.session() as session:
            task = await task_ops.get_task(session, task_id)
            attempts = await task_ops.task_attempts(session, task_id)
            events = await queries_api.recent_task_events(session, task_id=task_id, limit=EVENTS_IN_DETAIL)
        detail = TaskDetail.model_validate(task)
        detail.attempt_history = [AttemptPublic.model_validate(a, from_attributes=True) for a in attempts]
        detail.events = [EventPublic.model_validate(e, from_attributes=True) for e in events]
        return detail

    @router.delete("/{id}", status_code=204, response_class=Response, summary="Delete a task (not running)")
    async def delete_task(task_id: TaskId) -> Response:
        async with db.begin() as session:
            await task_ops.delete_task(session, task_id=task_id)
        await asyncio.to_thread(services.artifacts.delete, str(task_id))
        return Response(status_code=204)

    @router.post("/{id}/mark-bought", response_model=TaskPublic, summary="An unknown task: the order exists")
    async def mark_bought(task_id: TaskId, body: MarkBought) -> TaskPublic:
        """A person found the order at the store: ``unknown`` → ``completed``, purchase recorded."""
        async with db.begin() as session:
            task = await task_ops.apply_action(
                session, task_id=task_id, action="mark-bought", order_number=body.order_number
            )
        assert task is not None
        return TaskPublic.model_validate(task)

    @router.post(
        "/{id}/{action}",
        response_model=TaskPublic,
        summary="start | pause | resume | cancel | retry | mark-not-bought",
        responses={202: {"description": "cancel of a running task: the worker stops it (cancelRequested)"}},
    )
    async def act(task_id: TaskId, action: Action, response: Response) -> TaskPublic:
        async with db.begin() as session:
            task = await task_ops.apply_action(session, task_id=task_id, action=action)
        assert task is not None  # only delete returns None
        await kick_if_queued(task)
        if action == "cancel" and task.status == RUNNING:
            response.status_code = 202
        return TaskPublic.model_validate(task)

    return router
