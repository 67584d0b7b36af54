"""``/api/tasks``: create (one or a list, ``Idempotency-Key``), list, read, edit, execute, user
actions, delete, bulk.

Reads go through ``models.queries`` and writes through ``webapp.commands`` (the same paths as
the dashboard), both given the caller's ``viewer``: a user sees and acts on their own tasks
only, and another user's task id answers 404 like an unknown one. Admins see everyone's and may
narrow a list to one ``owner``.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Header, Query, Request, Response
from fastapi.responses import JSONResponse

from models import idempotency, queries
from models.schemas import (
    AttemptPublic,
    EventPublic,
    TaskDetail,
    TaskList,
    TaskPublic,
    TaskUpdate,
    UtcTime,
)
from models.states import HELD, TaskStatus
from models.tables import Task
from webapp import commands
from webapp.api import examples
from webapp.api.errors import ERROR_RESPONSES, BadInput, api_router
from webapp.api.params import Limit, Offset, TaskId
from webapp.api.schemas import (
    CREATE_EXAMPLES,
    MAX_BULK,
    Action,
    BulkFilter,
    BulkItem,
    BulkRequest,
    BulkResult,
    CreateBody,
    ExecuteAccepted,
    ExecuteRequest,
    MarkBought,
    TaskStatusPublic,
)
from webapp.auth import ViewerDep
from webapp.services import Services
from webapp.validation import check_store, check_text

EVENTS_IN_DETAIL = 500  # the newest events a task's detail carries
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
OwnerQuery = Annotated[uuid.UUID | None, Query(description="admins: only this user's (a user id)")]


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


def task_filter(
    selection: BulkFilter, *, where: str, prefix: str, owner: uuid.UUID | None = None
) -> queries.TaskFilter:
    """The API's filter (query or body) as the read layer's, each field checked (422 naming it)."""
    statuses = parse_statuses(selection.status, where=where, field=f"{prefix}status")
    for name in ("store", "worker", "q", "failure"):
        check_text(getattr(selection, name), f"{prefix}{name}", where=where)
    if selection.store is not None and where == "body":  # a list by an unknown store is just empty
        check_store(selection.store, field=f"{prefix}store")
    return queries.TaskFilter(
        statuses=tuple(statuses),
        store=selection.store,
        mode=selection.mode,
        worker=selection.worker,
        created_from=selection.created_from,
        created_to=selection.created_to,
        search=selection.q,
        owner=owner,
        failure=selection.failure,
    )


def create_tasks_router(services: Services) -> APIRouter:
    router = api_router(prefix="/tasks", tags=["tasks"], responses=ERROR_RESPONSES)
    db = services.db

    @router.post(
        "",
        status_code=201,
        response_model=TaskPublic | list[TaskPublic],
        summary="Create a task, or a list of up to 1,000 (all or nothing)",
        responses={
            **examples.answer(201, examples.TASK),
            200: {
                "model": TaskPublic | list[TaskPublic],
                "description": "The same Idempotency-Key and body again (within 24 h): the first answer",
                "content": {"application/json": {"example": examples.TASK}},
            },
        },
    )
    async def create_task(
        body: Annotated[CreateBody, Body(openapi_examples=CREATE_EXAMPLES)],
        request: Request,
        viewer: ViewerDep,
        idempotency_key: Annotated[
            str | None,
            Header(
                alias="Idempotency-Key",
                min_length=1,
                max_length=255,
                pattern=r"^[\x21-\x7e]+$",
                description="retry safely: the same key and body within 24 h return the same task(s)",
            ),
        ] = None,
    ) -> JSONResponse:
        """Validate everything first (store, product, times, your own profile); then one insert
        per task in ONE transaction. A list answers a list; a refused item is named by its index
        (``errors[].field`` like ``3.quantity``) and nothing is created."""
        many = isinstance(body, list)
        items = body if isinstance(body, list) else [body]
        key = None
        if idempotency_key is not None:
            key = commands.Idempotency(idempotency_key, idempotency.body_hash(await request.json()))

        def answer(tasks: list[Task]) -> Any:
            out = [TaskPublic.model_validate(t).model_dump(mode="json", by_alias=True) for t in tasks]
            return out if many else out[0]

        created = await commands.create_tasks(
            services, items, viewer=viewer, indexed=many, answer=answer, idempotency=key
        )
        headers = {"Idempotent-Replayed": "true"} if created.status_code == 200 else {}
        if isinstance(created.answer, dict):
            headers["Location"] = f"/api/tasks/{created.answer['id']}"
        return JSONResponse(created.answer, status_code=created.status_code, headers=headers)

    @router.patch(
        "/{id}",
        response_model=TaskPublic,
        summary="Edit a task that no worker has (owner only)",
        responses=examples.answer(200, examples.TASK),
    )
    async def edit_task(task_id: TaskId, body: TaskUpdate, viewer: ViewerDep) -> TaskPublic:
        """Name, quantity, maxPrice, priority, runAt (reschedule), mode (with checkEvery, until);
        409 while running (or once completed or unknown), 403 for an admin on another's task."""
        task = await commands.edit_task(services, task_id, body, viewer=viewer)
        return TaskPublic.model_validate(task)

    @router.get(
        "",
        response_model=TaskList,
        summary="List tasks, newest first",
        responses=examples.answer(200, examples.TASK_LIST),
    )
    async def list_tasks(
        viewer: ViewerDep,
        status: Annotated[list[str] | None, Query(description="repeat or comma-separate")] = None,
        store: Annotated[str | None, Query(max_length=64)] = None,
        mode: Annotated[Literal["once", "monitor"] | None, Query()] = None,
        worker: Annotated[str | None, Query(max_length=100, description="a worker id that ran it")] = None,
        created_from: Annotated[UtcTime | None, Query(alias="createdFrom")] = None,
        created_to: Annotated[UtcTime | None, Query(alias="createdTo")] = None,
        q: Annotated[
            str | None, Query(max_length=200, description="search in name, product, order number and id")
        ] = None,
        owner: OwnerQuery = None,
        limit: Limit = 50,
        offset: Offset = 0,
        order: Order = "-created",
    ) -> TaskList:
        selection = BulkFilter(
            status=status,
            store=store,
            mode=mode,
            worker=worker,
            created_from=created_from,
            created_to=created_to,
            q=q,
            failure=None,
        )
        where = task_filter(selection, where="query", prefix="", owner=owner)
        async with db.session() as session:
            rows, count = await queries.list_tasks(
                session, viewer=viewer, where=where, limit=limit, offset=offset, order=order
            )
        return TaskList(data=[TaskPublic.model_validate(t) for t in rows], count=count)

    @router.post(
        "/execute",
        status_code=202,
        response_model=ExecuteAccepted,
        summary="Queue a task to run now",
        responses=examples.answer(202, examples.EXECUTE_ACCEPTED),
    )
    async def execute(body: ExecuteRequest, viewer: ViewerDep) -> ExecuteAccepted:
        """Queue a pending, scheduled, paused, retrying, failed or cancelled task (409 otherwise)."""
        task = await commands.apply(services, body.task_id, "execute", viewer=viewer)
        assert task is not None
        return ExecuteAccepted(task_id=task.id, status=task.status)

    @router.get(
        "/execute",
        response_model=TaskStatusPublic,
        summary="A task's status in brief",
        responses=examples.answer(200, examples.TASK_STATUS),
    )
    async def execution_status(
        task_id: Annotated[uuid.UUID, Query(alias="taskId")], viewer: ViewerDep
    ) -> TaskStatusPublic:
        async with db.session() as session:
            task = await queries.get_task(session, task_id, viewer=viewer)
        return TaskStatusPublic.model_validate(task)

    @router.post(
        "/bulk",
        response_model=BulkResult,
        summary="One action on many tasks",
        responses=examples.answer(200, examples.BULK_RESULT),
    )
    async def bulk(body: BulkRequest, viewer: ViewerDep) -> BulkResult:
        """Each task in its own transaction; at most 1000 tasks per call (``truncated`` says more
        matched). A filter selects among your own tasks only (an admin's: everyone's)."""
        if body.ids is not None:
            done = await commands.apply_many(services, body.ids, body.action, viewer=viewer)
            truncated = False
        else:
            assert body.filter is not None  # BulkRequest wants one of the two
            where = task_filter(body.filter, where="body", prefix="filter.")
            done, truncated = await commands.apply_matching(
                services, where, body.action, viewer=viewer, limit=MAX_BULK
            )
        results = [BulkItem(task_id=d.task_id, ok=d.ok, status=d.status, error=d.error) for d in done]
        ok = sum(1 for r in results if r.ok)
        return BulkResult(results=results, ok=ok, failed=len(results) - ok, truncated=truncated)

    @router.get(
        "/{id}",
        response_model=TaskDetail,
        summary="A task with its attempts and events",
        responses=examples.answer(200, examples.TASK_DETAIL),
    )
    async def get_task(task_id: TaskId, viewer: ViewerDep) -> TaskDetail:
        async with db.session() as session:
            task = await queries.get_task(session, task_id, viewer=viewer)
            attempts = await queries.task_attempts(session, task_id, viewer=viewer)
            events = await queries.recent_events(session, task_id, viewer=viewer, limit=EVENTS_IN_DETAIL)
        detail = TaskDetail.model_validate(task)
        detail.attempt_history = [AttemptPublic.model_validate(a, from_attributes=True) for a in attempts]
        detail.events = [EventPublic.model_validate(e, from_attributes=True) for e in events]
        return detail

    @router.delete("/{id}", status_code=204, response_class=Response, summary="Delete a task (not running)")
    async def delete_task(task_id: TaskId, viewer: ViewerDep) -> Response:
        await commands.apply(services, task_id, "delete", viewer=viewer)
        return Response(status_code=204)

    @router.post(
        "/{id}/mark-bought",
        response_model=TaskPublic,
        summary="An unknown task: the order exists",
        responses=examples.answer(200, {**examples.TASK, "status": "completed"}),
    )
    async def mark_bought(task_id: TaskId, body: MarkBought, viewer: ViewerDep) -> TaskPublic:
        """A person found the order at the store: ``unknown`` → ``completed``, purchase recorded."""
        task = await commands.apply(
            services, task_id, "mark-bought", viewer=viewer, order_number=body.order_number
        )
        assert task is not None
        return TaskPublic.model_validate(task)

    @router.post(
        "/{id}/{action}",
        response_model=TaskPublic,
        summary="start | pause | resume (paused; or action_needed: back to its bot) | cancel | retry | "
        "mark-not-bought",
        responses={
            **examples.answer(200, {**examples.TASK, "status": "paused"}),
            **examples.answer(
                202,
                {**examples.TASK, "status": "running", "cancelRequested": True},
                "cancel of a running task: the worker stops it (cancelRequested)",
            ),
        },
    )
    async def act(task_id: TaskId, action: Action, response: Response, viewer: ViewerDep) -> TaskPublic:
        """One action on one task; which moves are allowed from which state is ``models/states.py``'s
        ``ACTIONS`` (another state → 409 with the task's status).

        - ``start``: queued now (from ``pending``, ``scheduled``, ``retrying``, ``paused``, or
          again after ``failed``/``cancelled``).
        - ``pause``: a waiting task (``pending``, ``scheduled``, ``queued``, ``retrying``) is held.
        - ``resume`` has two meanings, by the task's state: a **paused** task goes back to waiting
          (``queued``, or ``scheduled`` when its time is still ahead); a task in
          **``action_needed``** (its bot asked for a person) is handed back to that bot, which goes
          on where it stopped (``running``; the same run, no new attempt).
        - ``cancel``: stopped; a running task answers 202 with ``cancelRequested`` and its worker
          stops it within a heartbeat.
        - ``retry``: a ``failed`` or ``cancelled`` task is queued again; attempt numbers go on.
        - ``mark-not-bought``: an ``unknown`` task whose order a person found missing → ``failed``.
        """
        task = await commands.apply(services, task_id, action, viewer=viewer)
        assert task is not None  # only delete returns None
        if action == "cancel" and task.status in HELD:
            response.status_code = 202
        return TaskPublic.model_validate(task)

    return router
