"""API shapes (camelCase on the wire): Create → table → Public, lists as ``{data, count}``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    AliasChoices,
    AnyHttpUrl,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    UrlConstraints,
    computed_field,
    model_validator,
)
from pydantic.alias_generators import to_camel

Money = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]


def _in_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("out of range: in UTC it must fall within the years 1 to 9999") from None


# A time with a zone, held in UTC (a time that has no UTC equivalent is refused)
UtcTime = Annotated[AwareDatetime, AfterValidator(_in_utc)]


class Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class CamelOut(BaseModel):
    """An answer's shape: camelCase on the wire, read from rows."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)


class PurchaseFields(CamelOut):
    """A purchase as the API shows it (``/api/purchases`` adds its owner; a watch's ``purchase``)."""

    task_id: uuid.UUID | None
    store: str
    product: str
    product_name: str | None
    quantity: int
    unit_price: Money
    total: Money
    currency: str
    order_number: str
    created_at: datetime


class TaskCreate(Camel):
    name: str = Field(min_length=1, max_length=200)
    store: str = Field(min_length=1, max_length=64)
    product: str = Field(min_length=1, max_length=500, description="product slug or product URL")
    quantity: int = Field(1, ge=1, le=1000)
    max_price: Money | None = Field(None, ge=0, le=Decimal("9999999999"), decimal_places=2)
    start: Literal["now", "later", "at"] = "now"
    run_at: UtcTime | None = None
    mode: Literal["once", "monitor"] = "once"
    check_every: float | None = Field(None, ge=0.5, le=86_400, description="seconds between checks")
    until: UtcTime | None = None
    priority: int = Field(0, ge=-1000, le=1000)
    max_attempts: int | None = Field(None, ge=1, le=20)
    backoff_seconds: float | None = Field(None, ge=0, le=3600)
    backoff_cap: float | None = Field(None, ge=0, le=86_400)
    profile_id: uuid.UUID | None = None
    trace: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        self.name = self.name.strip()
        self.product = self.product.strip()
        if not self.name:
            raise ValueError("name must not be blank")
        if self.start == "at" and self.run_at is None:
            raise ValueError('start "at" needs runAt (an ISO-8601 time with a zone)')
        if self.start != "at" and self.run_at is not None:
            raise ValueError('runAt is only allowed with start "at"')
        if self.mode == "monitor" and self.check_every is None:
            raise ValueError('mode "monitor" needs checkEvery (seconds)')
        if self.mode == "once" and (self.check_every is not None or self.until is not None):
            raise ValueError('checkEvery and until are only allowed with mode "monitor"')
        return self


class TaskUpdate(Camel):
    """``PATCH /api/tasks/{id}``: the fields to change (at least one); the rest stay. Checked
    as on create once merged with the task. ``runAt`` reschedules (``scheduled``); ``mode``
    ``once`` drops ``checkEvery`` and ``until``; ``maxPrice: null`` removes the limit."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"quantity": 2, "maxPrice": 650, "priority": 5}]}
    )

    name: str | None = Field(None, min_length=1, max_length=200)
    quantity: int | None = Field(None, ge=1, le=1000)
    max_price: Money | None = Field(None, ge=0, le=Decimal("9999999999"), decimal_places=2)
    priority: int | None = Field(None, ge=-1000, le=1000)
    run_at: UtcTime | None = None
    mode: Literal["once", "monitor"] | None = None
    check_every: float | None = Field(None, ge=0.5, le=86_400, description="seconds between checks")
    until: UtcTime | None = None

    @model_validator(mode="after")
    def _something(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("give at least one field to change")
        for name in ("name", "quantity", "priority", "run_at", "mode"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{to_camel(name)} cannot be null")
        return self


class AttemptPublic(Camel):
    number: int
    worker_id: str | None
    started_at: datetime
    finished_at: datetime | None
    outcome: str | None
    error: str | None


class EventPublic(Camel):
    id: int
    at: datetime
    kind: str
    status: str | None
    step: str | None
    progress: int | None
    message: str | None
    data: dict[str, Any] | None = None


class TaskPublic(Camel):
    id: uuid.UUID
    name: str
    store: str
    product: str
    quantity: int
    max_price: Money | None
    status: str
    priority: int
    mode: str
    check_every: float | None
    until: datetime | None
    run_at: datetime | None
    max_attempts: int = Field(validation_alias=AliasChoices("budget", "max_attempts"))  # per run
    backoff_seconds: float | None = Field(validation_alias="backoff_base")
    backoff_cap: float | None
    attempts: int = Field(validation_alias="attempt")
    checks: int
    last_check: str | None
    last_check_at: datetime | None
    progress: int
    step: str | None
    error: str | None
    result: dict[str, Any] | None
    cancel_requested: bool
    trace: bool
    profile_id: uuid.UUID | None
    owner_id: uuid.UUID | None = None
    worker_id: str | None
    heartbeat_at: datetime | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def next_check_at(self) -> datetime | None:
        """When a monitor checks next (its ``runAt`` while it waits); None for other tasks."""
        if self.mode == "monitor" and self.status in ("scheduled", "queued", "retrying"):
            return self.run_at
        return None


class TaskDetail(TaskPublic):
    attempt_history: list[AttemptPublic] = []
    events: list[EventPublic] = []


class TaskList(Camel):
    data: list[TaskPublic]
    count: int


# ---- checkout profiles and store accounts (secrets write-only) ----------------------------------

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
CardNumber = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9 ]{12,23}$")]
Expiry = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^(0[1-9]|1[0-2])/[0-9]{2}$")]
Cvc = Annotated[str, StringConstraints(pattern=r"^[0-9]{3,4}$")]
Email = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Address = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class ProfileCreate(Camel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Home",
                    "fullName": "Ada Lovelace",
                    "email": "ada@example.com",
                    "address": "12 Analytical Way, London",
                    "cardNumber": "4242 4242 4242 4242",
                    "cardExpiry": "12/29",
                    "cardCvc": "123",
                }
            ]
        }
    )

    name: Text
    full_name: Text
    email: Email
    address: Address
    card_number: CardNumber
    card_expiry: Expiry
    card_cvc: Cvc


class ProfileUpdate(Camel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"address": "1 New Street, London"}]})

    name: Text | None = None
    full_name: Text | None = None
    email: Email | None = None
    address: Address | None = None
    card_number: CardNumber | None = None
    card_expiry: Expiry | None = None
    card_cvc: Cvc | None = None


class AccountCreate(Camel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"store": "demo", "login": "ada@example.com", "password": "s3cret-example"}]
        }
    )

    store: Annotated[str, Field(min_length=1, max_length=64)]
    login: Text
    password: Annotated[str, Field(min_length=1, max_length=200)]


class AccountUpdate(Camel):
    """A new login and/or password (at least one); what is left out stays."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"password": "n3w-s3cret-example"}, {"login": "ada@work.example"}]}
    )

    login: Text | None = None
    password: Annotated[str | None, Field(min_length=1, max_length=200)] = None

    @model_validator(mode="after")
    def _something(self) -> Self:
        if self.login is None and self.password is None:
            raise ValueError('give "login", "password" or both')
        return self


WebhookEvent = Literal[
    "task.completed", "task.failed", "purchase.created", "monitor.in_stock", "worker.lost", "watch.bought"
]


class WebhookCreate(Camel):
    """A new webhook (``worker.lost`` is for admins only; the command path checks)."""

    url: Annotated[AnyHttpUrl, UrlConstraints(max_length=2000, allowed_schemes=["http", "https"])]
    events: Annotated[list[WebhookEvent], Field(min_length=1, max_length=6)]
    format: Literal["json", "discord", "slack"] = "json"
    enabled: bool = True
