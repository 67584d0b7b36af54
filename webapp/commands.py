"""Every write of a task, for the API and the dashboard alike: create, actions, bulk, delete.

Create: validate (``webapp.validation``: store, product, URL, times, the owner's profile) →
insert with the viewer as owner (one task or a list, one transaction; with an idempotency key
its answer stored alongside) → commit → ring the doorbell. A single task without a profile or
a key is one autocommitted statement on Postgres (``models.task_insert``). Edit: validate as on create → one
guarded UPDATE while the task is not running (``models.edits``). Actions and deletes first read the
task through ``models.queries`` in their transaction, so another user's task is ``TaskNotFound``
(404), the same as an unknown id; a deleted task loses its artifacts too. A task that became
``queued`` is kicked after the commit (a failed kick leaves it to the sweeper). The webapp
reaches workers only through the broker and this module.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from pydantic.alias_generators import to_camel
from sqlalchemy.exc import IntegrityError

from models import actions, edits, queries, task_start, watch_outcomes
from models import idempotency as idempotency_keys
from models import tasks as task_ops
from models.access import Viewer
from models.errors import InvalidTransition, TaskNotFound
from models.schemas import TaskCreate, TaskUpdate
from models.states import TaskStatus
from models.tables import Task
from models.task_insert import insert_task
from webapp.errors import BadInput, Forbidden, IdempotencyMismatch
from webapp.validation import check_create, check_profile

if TYPE_CHECKING:
    from webapp.services import Services

log = logging.getLogger(__name__)
ONE_STATEMENT_STARTS = frozenset({"execute", "start", "retry"})  # ``models.task_start``


@dataclass(frozen=True)
class Done:
    """What one action did to one task: ``task`` afterwards (None when deleted or refused)."""

    task_id: uuid.UUID
    ok: bool
    status: str | None
    error: str | None = None
    task: Task | None = None


@dataclass(frozen=True)
class Idempotency:
    """An ``Idempotency-Key`` and the hash of the body it came with (``models.idempotency``)."""

    key: str
    body_hash: str


@dataclass(frozen=True)
class Created:
    """What a create answered: the JSON ``answer`` and its status (201; 200 when it is the
    stored answer of an earlier request with the same key and body — then ``tasks`` is empty)."""

    tasks: list[Task]
    answer: Any
    status_code: int


async def create_task(services: Services, data: TaskCreate, *, viewer: Viewer) -> Task:
    """One task (the New-task dialog's and the API's single create)."""
    created = await create_tasks(services, [data], viewer=viewer)
    return created.tasks[0]


async def create_tasks(
    services: Services,
    items: Sequence[TaskCreate],
    *,
    viewer: Viewer,
    indexed: bool = False,
    answer: Callable[[list[Task]], Any] | None = None,
    idempotency: Idempotency | None = None,
) -> Created:
    """Validate every item first (``BadInput`` names the first problem, and with ``indexed`` the
    item's index), then insert them all owned by ``viewer`` in ONE transaction (all or nothing),
    commit, and ring for the queued ones. ``answer`` makes the JSON answer from the new rows; with
    ``idempotency`` it is stored with the key in the same transaction, and a key seen before is
    answered from its row (``IdempotencyMismatch`` when the body differs)."""
    if idempotency is not None and (earlier := await _earlier(services, viewer, idempotency)):
        return earlier
    for index, data in enumerate(items):
        try:
            await check_create(data, catalogue=services.catalogue)
        except BadInput as exc:
            raise exc.at(index) if indexed else exc from None
    if idempotency is None and len(items) == 1 and items[0].profile_id is None and not services.db.is_sqlite:
        # the common case in one round trip: row + event + NOTIFY as one autocommitted statement
        task = task_ops.build_task(items[0], settings=services.settings, owner_id=viewer.user_id)
        try:
            async with services.db.autocommit() as conn:
                await insert_task(conn, task)
        except IntegrityError as exc:  # its owner was deleted meanwhile
            log.info("task not created: %s", exc.orig)
            raise BadInput("the task conflicts with the stored data", field="name") from None
        await _kick_if_queued(services, task)
        return Created(tasks=[task], answer=answer([task]) if answer is not None else None, status_code=201)
    try:
        async with services.db.begin() as session:
            tasks = []
            for index, data in enumerate(items):
                try:
                    await check_profile(data, session=session, owner_id=viewer.user_id)
                except BadInput as exc:
                    raise exc.at(index) if indexed else exc from None
                tasks.append(
                    await task_ops.create_task(
                        session, data=data, settings=services.settings, owner_id=viewer.user_id
                    )
                )
            body = answer(tasks) if answer is not None else None
            if idempotency is not None:
                await idempotency_keys.prune(session)
                await idempotency_keys.record(
                    session,
                    owner_id=viewer.user_id,
                    key=idempotency.key,
                    body_hash=idempotency.body_hash,
                    status_code=201,
                    response=body,
                )
    except IntegrityError as exc:  # a twin request with the same key won, or a profile was deleted
        if idempotency is not None and (earlier := await _earlier(services, viewer, idempotency)):
            return earlier
        log.info("tasks not created: %s", exc.orig)
        raise BadInput(
            "the task conflicts with the stored data (was its profile deleted?)", field="profileId"
        ) from None
    for task in tasks:
        await _kick_if_queued(services, task)
    return Created(tasks=tasks, answer=body, status_code=201)


async def _earlier(services: Services, viewer: Viewer, idempotency: Idempotency) -> Created | None:
    async with services.db.session() as session:
        stored = await idempotency_keys.find(session, owner_id=viewer.user_id, key=idempotency.key)
    if stored is None:
        return None
    if stored.body_hash != idempotency.body_hash:
        raise IdempotencyMismatch()
    return Created(tasks=[], answer=stored.response, status_code=200)


async def edit_task(services: Services, task_id: uuid.UUID, update: TaskUpdate, *, viewer: Viewer) -> Task:
    """Change fields of one of the viewer's own tasks (an admin may see but not edit another's:
    ``Forbidden``), checked as on create once merged with the task; ``InvalidTransition`` while
    a worker has it (``models.edits``)."""
    async with services.db.session() as session:
        task = await queries.get_task(session, task_id, viewer=viewer)
    if task.owner_id != viewer.user_id:
        raise Forbidden("only its owner may edit a task")
    fields = update.model_fields_set
    merged = _merged(task, update)
    await check_create(merged, catalogue=services.catalogue)
    changes = {name: getattr(merged, name) for name in fields}
    if "mode" in fields and merged.mode == "once":
        changes |= {"check_every": None, "until": None}
    async with services.db.begin() as session:
        return await edits.edit_task(session, task_id=task_id, changes=changes)


def _merged(task: Task, update: TaskUpdate) -> TaskCreate:
    """The task as a ``TaskCreate`` with ``update`` applied: checked by the create rules."""
    current: dict[str, Any] = {
        "name": task.name,
        "store": task.store,
        "product": task.product,
        "quantity": task.quantity,
        "max_price": task.max_price,
        "priority": task.priority,
        "mode": task.mode,
        "check_every": task.check_every,
        "until": task.until,
        "max_attempts": task.budget,
        "backoff_seconds": task.backoff_base,
        "backoff_cap": task.backoff_cap,
        "profile_id": task.profile_id,
        "trace": task.trace,
    }
    if update.mode == "once":
        current |= {"check_every": None, "until": None}
    new = {name: getattr(update, name) for name in update.model_fields_set}
    start = {"start": "at"} if "run_at" in new else {"start": "now", "run_at": None}
    try:
        return TaskCreate.model_validate({**current, **new, **start})
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(to_camel(str(p)) for p in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        raise BadInput(f"{where}: {message}" if where else message, field=where or None) from None


async def apply(
    services: Services, task_id: uuid.UUID, action: str, *, viewer: Viewer, order_number: str | None = None
) -> Task | None:
    """Run a named action (``models.actions.apply_action``'s, or ``execute``) on one of the viewer's
    tasks; ``delete`` returns None. Raises ``TaskNotFound`` (not the viewer's, or no such task) or
    ``InvalidTransition``."""
    if action in ONE_STATEMENT_STARTS and not services.db.is_sqlite:
        async with services.db.autocommit() as conn:  # the common case in one round trip
            owner = None if viewer.is_admin else viewer.user_id
            started = await task_start.start_now(conn, task_id=task_id, action=action, owner_id=owner)
        if started is not None:
            await _kick_if_queued(services, started)
            return started
        # not this way (which: 404 or 409), or a watch's listing: the session path says and settles
    async with services.db.begin() as session:
        await queries.get_task(session, task_id, viewer=viewer)  # the owner rule; owners never change
        if action == "execute":
            task: Task | None = await task_ops.start_task(session, task_id=task_id, action="execute")
        else:
            task = await actions.apply_action(
                session, task_id=task_id, action=action, order_number=order_number
            )
        await watch_outcomes.settle(session, [task_id])  # a watch's listing: its watch follows
    if task is None:
        await asyncio.to_thread(services.artifacts.delete, str(task_id))
        return None
    await _kick_if_queued(services, task)
    return task


async def try_apply(
    services: Services, task_id: uuid.UUID, action: str, *, viewer: Viewer, order_number: str | None = None
) -> Done:
    """``apply`` that reports a refusal instead of raising it (for bulk actions and the pages)."""
    try:
        task = await apply(services, task_id, action, viewer=viewer, order_number=order_number)
    except ValueError as exc:  # mark-bought without a usable order number
        return Done(task_id, False, None, str(exc))
    except InvalidTransition as exc:
        return Done(task_id, False, exc.status, str(exc))
    except TaskNotFound as exc:
        return Done(task_id, False, None, str(exc))
    return Done(task_id, True, task.status if task is not None else None, None, task)


async def apply_many(
    services: Services, task_ids: Iterable[uuid.UUID], action: str, *, viewer: Viewer
) -> list[Done]:
    """The action on each task, one transaction each: each succeeds or fails on its own."""
    return [await try_apply(services, task_id, action, viewer=viewer) for task_id in dict.fromkeys(task_ids)]


async def apply_matching(
    services: Services, where: queries.TaskFilter, action: str, *, viewer: Viewer, limit: int
) -> tuple[list[Done], bool]:
    """The action on every task of the viewer's that ``where`` selects ("all matching": the API's
    filter-based bulk and the dashboard's select-all), at most ``limit`` of them, newest first, each
    in its own transaction; and whether more matched than ``limit`` (call again for the rest)."""
    async with services.db.session() as session:
        ids = await queries.matching_task_ids(session, viewer=viewer, where=where, limit=limit + 1)
    return await apply_many(services, ids[:limit], action, viewer=viewer), len(ids) > limit


async def _kick_if_queued(services: Services, task: Task) -> None:
    if task.status == TaskStatus.QUEUED:
        with suppress(TimeoutError):  # not started yet: the sweeper rings for it later
            await services.wait_ready()
        await services.kick(task.id)
