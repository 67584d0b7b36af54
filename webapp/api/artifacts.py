"""``/api/tasks/{id}/artifacts``: a task's screenshots and traces, listed and served.

Served only to the task's owner (and admins): another user's task answers 404 like an unknown
one. Files are found through ``ArtifactStore.path_for``, which refuses any name that is not a plain
file inside the task's own directory (no ``..``, no slashes, no symlinks out).
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import PurePath
from urllib.parse import quote

from fastapi import APIRouter
from fastapi.responses import FileResponse

from models import queries
from models.access import Viewer
from webapp.api import examples
from webapp.api.errors import ERROR_RESPONSES, NotFound, api_router
from webapp.api.params import TaskId
from webapp.api.schemas import ArtifactPublic
from webapp.auth import ViewerDep
from webapp.services import Services

MEDIA_TYPES = {  # screenshots (JPEG; PNG from older versions) and traces only
    ".jpg": "image/jpeg",
    ".png": "image/png",
    ".zip": "application/zip",
}


def create_artifacts_router(services: Services) -> APIRouter:
    router = api_router(prefix="/tasks/{id}/artifacts", tags=["artifacts"], responses=ERROR_RESPONSES)

    async def known(task_id: uuid.UUID, viewer: Viewer) -> None:
        async with services.db.session() as session:
            await queries.get_task(session, task_id, viewer=viewer)

    @router.get(
        "",
        response_model=list[ArtifactPublic],
        summary="A task's screenshots and traces",
        responses=examples.answer(200, examples.ARTIFACTS),
    )
    async def list_artifacts(task_id: TaskId, viewer: ViewerDep) -> list[ArtifactPublic]:
        await known(task_id, viewer)
        found = await asyncio.to_thread(services.artifacts.list, str(task_id))
        return [
            ArtifactPublic(
                name=a.name,
                kind=a.kind,
                step=a.step,
                url=f"/api/tasks/{task_id}/artifacts/{quote(a.name)}",
                attempt=a.attempt,
                created_at=a.created_at,
            )
            for a in found
        ]

    @router.get("/{name}", response_class=FileResponse, summary="One artifact file")
    async def get_artifact(task_id: TaskId, name: str, viewer: ViewerDep) -> FileResponse:
        await known(task_id, viewer)
        media_type = MEDIA_TYPES.get(PurePath(name).suffix)
        path = (
            await asyncio.to_thread(services.artifacts.path_for, str(task_id), name) if media_type else None
        )
        if path is None:
            raise NotFound(f"task {task_id} has no artifact {name!r}")
        if media_type == "application/zip":  # a Playwright trace: `playwright show-trace <file>`
            return FileResponse(path, media_type=media_type, filename=path.name)
        return FileResponse(path, media_type=media_type, content_disposition_type="inline")

    return router
