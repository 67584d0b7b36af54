"""``/api/failures``: your failing tasks grouped by cause (``models.failures``), largest first.

Act on a group with ``POST /api/tasks/bulk`` and ``{"filter": {"failure": "<signature>"}}``:
``retry`` queues its failed tasks again, ``cancel`` stops its retrying ones (a failed task has
already stopped: failed → cancelled is not a move, so those answer 409 in the results), ``delete``
removes them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import Field
from sqlmodel import col

from models import failures, queries
from models.tables import Task
from webapp.api import examples
from webapp.api.errors import api_router
from webapp.api.schemas import CamelOut
from webapp.auth import ViewerDep
from webapp.services import Services
from webapp.validation import check_text


class FailureGroupPublic(CamelOut):
    signature: str = Field(description='"<step>: <error with numbers, ids, URLs, times taken out>"')
    step: str | None
    count: int
    failed: int = Field(description="of count: failed for good")
    retrying: int = Field(description="of count: still retrying")
    stores: list[str]
    first_seen: datetime
    last_seen: datetime
    sample_task_id: uuid.UUID = Field(description="the most recent task of the group")


class FailureList(CamelOut):
    data: list[FailureGroupPublic]


def create_failures_router(services: Services) -> APIRouter:
    router = api_router(tags=["failures"])

    @router.get(
        "/failures",
        response_model=FailureList,
        summary="Failing tasks grouped by cause",
        responses=examples.answer(200, examples.FAILURES),
    )
    async def list_failures(
        viewer: ViewerDep, store: Annotated[str | None, Query(max_length=64)] = None
    ) -> FailureList:
        """Your failed and retrying tasks (an admin's: everyone's) by signature and step."""
        check_text(store, "store", where="query")
        filters = queries.owned(viewer, col(Task.owner_id))
        if store:
            filters.append(col(Task.store) == store)
        async with services.db.session() as session:
            groups = await failures.failure_groups(session, filters=filters)
        return FailureList(data=[FailureGroupPublic.model_validate(g) for g in groups])

    return router
