"""Parameters the routes share: a resource's id in the path, and a page of a list."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Path, Query

MAX_OFFSET = 1_000_000_000

TaskId = Annotated[uuid.UUID, Path(alias="id", description="the task's id (a UUID)")]
WatchId = Annotated[uuid.UUID, Path(alias="id", description="the watch's id (a UUID)")]
Limit = Annotated[int, Query(ge=1, le=500)]  # each list gives its own default
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
