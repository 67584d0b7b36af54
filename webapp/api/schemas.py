"""Shapes of the JSON API beyond ``models.schemas`` (camelCase on the wire)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from models.schemas import Camel, CamelOut, PurchaseFields, TaskCreate, UtcTime

MAX_BULK = 1000
MAX_CREATE = 1000  # tasks in one POST /api/tasks


def _one_or_many(value: Any) -> str:
    return "tasks" if isinstance(value, list) else "task"


# POST /api/tasks: one object, or a list of them (the tags never show in an error's field)
CreateBody = Annotated[
    Annotated[TaskCreate, Tag("task")]
    | Annotated[list[TaskCreate], Tag("tasks"), Field(min_length=1, max_length=MAX_CREATE)],
    Discriminator(_one_or_many),
]
CREATE_EXAMPLES: dict[str, Any] = {
    "one": {
        "summary": "One task, queued now",
        "value": {"name": "GPU drop", "store": "demo", "product": "gpu-founders", "maxPrice": 700},
    },
    "monitor": {
        "summary": "Buy when back in stock, checking every minute",
        "value": {
            "name": "Figure restock",
            "store": "demo",
            "product": "collector-figure",
            "mode": "monitor",
            "checkEvery": 60,
        },
    },
    "many": {
        "summary": "A list: all are created, or none",
        "value": [
            {"name": "Sneakers", "store": "demo", "product": "sneaker-drop"},
            {"name": "Vinyl", "store": "demo", "product": "vinyl-box", "start": "later"},
        ],
    },
}
Action = Literal["start", "pause", "resume", "cancel", "retry", "mark-not-bought"]
BulkAction = Literal["start", "pause", "resume", "cancel", "retry", "delete"]


class Health(CamelOut):
    ok: bool
    database: Literal["postgresql", "sqlite"]
    queue: Literal["redis", "in-process"]
    live: bool


class ExecuteRequest(Camel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"taskId": "3f2c8a9e-5b1d-4c3e-9a7f-0d2e4b6c8a10"}]}
    )

    task_id: uuid.UUID


class MarkBought(Camel):
    """``POST /api/tasks/{id}/mark-bought``: the order number a person found at the store."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"orderNumber": "DS-10042"}]})

    order_number: str = Field(min_length=1, max_length=100, pattern=r"\S")


class ExecuteAccepted(CamelOut):
    task_id: uuid.UUID
    status: str


class TaskStatusPublic(CamelOut):
    """What ``GET /api/tasks/execute?taskId=`` answers: the task's progress in brief."""

    task_id: uuid.UUID = Field(validation_alias="id")
    status: str
    attempts: int = Field(validation_alias="attempt")
    progress: int
    step: str | None = None
    error: str | None
    result: dict[str, Any] | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class BulkFilter(Camel):
    """Which tasks: the same filter as ``GET /api/tasks`` and the dashboard's ("all matching")."""

    status: list[str] | str | None = None
    store: str | None = Field(None, max_length=64)
    mode: Literal["once", "monitor"] | None = None
    worker: str | None = Field(None, max_length=100, description="a worker id that ran the task")
    created_from: UtcTime | None = Field(None, description="created at or after")
    created_to: UtcTime | None = Field(None, description="created before")
    q: str | None = Field(None, max_length=200, description="name, product, order number or id")
    failure: str | None = Field(
        None, max_length=400, description="a signature from GET /api/failures: that group's tasks"
    )


class BulkRequest(Camel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"action": "pause", "ids": ["3f2c8a9e-5b1d-4c3e-9a7f-0d2e4b6c8a10"]},
                {"action": "retry", "filter": {"status": "failed", "store": "demo"}},
                {"action": "retry", "filter": {"failure": "place order: the store refused the order"}},
            ]
        }
    )

    action: BulkAction
    ids: list[uuid.UUID] | None = Field(None, max_length=MAX_BULK)
    filter: BulkFilter | None = None

    @model_validator(mode="after")
    def _one_selection(self) -> Self:
        if (self.ids is None) == (self.filter is None):
            raise ValueError(
                'give either "ids" (a list of task ids) or "filter" '
                "(status, store, mode, worker, createdFrom, createdTo, q, failure)"
            )
        return self


class BulkItem(CamelOut):
    task_id: uuid.UUID
    ok: bool
    status: str | None
    error: str | None


class BulkResult(CamelOut):
    results: list[BulkItem]
    ok: int
    failed: int
    truncated: bool = False  # a filter matched more than MAX_BULK tasks: call again for the rest


class ThroughputPoint(CamelOut):
    minute: datetime
    completed: int
    failed: int


class WorkerPublic(CamelOut):
    id: str
    host: str
    pid: int
    status: str
    running: list[str]
    processed: int
    last_seen: datetime
    started_at: datetime
    concurrency: int
    version: str


class Stats(CamelOut):
    counts: dict[str, int]
    throughput: list[ThroughputPoint]
    workers: list[WorkerPublic]


class ArtifactPublic(CamelOut):
    name: str
    kind: Literal["screenshot", "trace"]
    step: str | None
    url: str
    attempt: int | None = None
    created_at: datetime | None = None


class PurchasePublic(PurchaseFields):
    owner_id: uuid.UUID | None = None


class PurchaseList(CamelOut):
    data: list[PurchasePublic]
    count: int


class StorePublic(CamelOut):
    name: str
    title: str
    needs_browser: bool
    url: str  # the base URL its bot is given (TASKDECK_STORES; "" when none is configured)
    settings: dict[str, Any] = Field(
        default_factory=dict
    )  # what its bot gets as ctx.settings; secret-looking values masked


# ---- the hand-off (``webapp/api/handoff.py``) -------------------------------------------------


class ClickInput(BaseModel):
    """A click at a point of the live frame, as fractions of its width and height."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["click"]
    x: float = Field(ge=0, le=1)
    y: float = Field(ge=0, le=1)


class ScrollInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["scroll"]
    dy: float = Field(ge=-10_000, le=10_000)


class KeyInput(BaseModel):
    """A key by its Playwright name (``Enter``, ``Tab``, ``ArrowDown``, ``a``, ``Shift+Tab``)."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["key"]
    key: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9+]+$|^.$")


class TextInput(BaseModel):
    """Text typed into the focused field: relayed once, never stored or logged."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["text"]
    text: str = Field(min_length=1, max_length=1000)

    def __repr__(self) -> str:  # never in a log line or an error
        return "TextInput(text=…)"


InputEvent = Annotated[ClickInput | ScrollInput | KeyInput | TextInput, Field(discriminator="type")]


class ControlLease(CamelOut):
    """``POST /api/tasks/{id}/takeover`` and ``/input``: the caller holds the control lease."""

    task_id: uuid.UUID
    controller: uuid.UUID
    expires_in: int  # seconds; renew by calling takeover again


class FinishByHand(Camel):
    """``POST /api/tasks/{id}/finish``: the order number of a purchase a person made by hand."""

    order_number: str = Field(min_length=1, max_length=100, pattern=r"\S")
