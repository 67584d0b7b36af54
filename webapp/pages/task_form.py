"""The "New task" dialog: ``TaskCreate`` validates, its errors are shown next to their fields.

Times typed in are in the browser's zone (see ``theme.browser_zone``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import datetime, tzinfo
from typing import Any

from nicegui import ui
from pydantic import ValidationError

from models import tasks as task_ops
from models.schemas import TaskCreate
from models.states import TaskStatus
from models.tables import Task
from webapp.services import Services

FIELD_LABELS = {
    "name": "Name",
    "store": "Store",
    "product": "Product",
    "quantity": "Quantity",
    "max_price": "Max price",
    "run_at": "Start at",
    "check_every": "Check every",
    "until": "Until",
    "priority": "Priority",
    "max_attempts": "Max attempts",
}
# which field a whole-model error (from TaskCreate's own checks) belongs to, by a word it contains
MODEL_ERROR_FIELDS = (
    ("runAt", "run_at"),
    ("checkEvery", "check_every"),
    ("until", "until"),
    ("name", "name"),
)


def readable(error: dict[str, Any]) -> str:
    """A pydantic error in words a person reads."""
    kind, ctx = error.get("type", ""), error.get("ctx") or {}
    if kind in ("missing", "string_too_short") or (
        kind.endswith("_type") and error.get("input") in (None, "")
    ):
        return "required"
    if kind in ("greater_than_equal", "greater_than"):
        return f"must be at least {ctx.get('ge', ctx.get('gt'))}"
    if kind in ("less_than_equal", "less_than"):
        return f"must be at most {ctx.get('le', ctx.get('lt'))}"
    if kind == "string_too_long":
        return f"at most {ctx.get('max_length')} characters"
    if kind == "decimal_max_places":
        return f"at most {ctx.get('decimal_places')} decimal places"
    if kind.startswith("int_"):
        return "must be a whole number"
    if kind.startswith(("float_", "decimal_")):
        return "must be a number"
    message = str(error.get("msg", "invalid"))
    return message.removeprefix("Value error, ")


def errors_by_field(exc: ValidationError) -> tuple[dict[str, str], list[str]]:
    """({field: message}, [messages that belong to no single field])."""
    fields: dict[str, str] = {}
    general: list[str] = []
    for error in exc.errors():
        loc = [str(part) for part in error.get("loc", ())]
        message = readable(dict(error))
        field = next((f for f in FIELD_LABELS if loc and loc[0] in (f, _camel(f))), None)
        if field is None:
            field = next((f for word, f in MODEL_ERROR_FIELDS if word in message), None)
        if field is None:
            general.append(message)
        else:
            fields.setdefault(field, message)
    return fields, general


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


class NewTaskDialog:
    def __init__(
        self,
        services: Services,
        tz: tzinfo,
        *,
        stores: list[str],
        on_created: Callable[[Task], Awaitable[None]],
    ) -> None:
        self.services = services
        self.tz = tz
        self.on_created = on_created
        self.stores = stores
        zone = getattr(tz, "key", "UTC")
        with ui.dialog() as self.dialog, ui.card().classes("w-[640px] max-w-full p-6 gap-4"):
            ui.label("New task").classes("text-xl font-semibold")
            self.general = ui.label("").classes("text-negative text-sm")
            self.general.set_visibility(False)
            with ui.grid(columns=2).classes("w-full gap-x-4 gap-y-1"):
                self.inputs: dict[str, Any] = {
                    "name": ui.input("Name", placeholder="Sneaker drop, size 42").props("autofocus"),
                    "store": ui.select(
                        stores, label="Store", value="demo" if "demo" in stores else next(iter(stores), None)
                    ),
                    "product": ui.input("Product", placeholder="slug or product page URL").classes(
                        "col-span-2"
                    ),
                    "quantity": ui.number("Quantity", value=1, step=1),
                    "max_price": ui.number("Max price (optional)", step=0.01),
                }
            with ui.row().classes("w-full items-start gap-4"):
                with ui.column().classes("gap-1"):
                    ui.label("Start").classes("text-xs text-grey-7")
                    self.start = ui.toggle({"now": "Now", "later": "Later", "at": "At…"}, value="now")
                with ui.column().classes("gap-1 grow"):
                    self.inputs["run_at"] = ui.input(f"Start at ({zone})").props(
                        "type=datetime-local stack-label"
                    )
                    self.inputs["run_at"].bind_visibility_from(self.start, "value", value="at")
            with ui.row().classes("w-full items-start gap-4"):
                with ui.column().classes("gap-1"):
                    ui.label("Mode").classes("text-xs text-grey-7")
                    self.mode = ui.toggle({"once": "Buy once", "monitor": "Watch for restock"}, value="once")
                with ui.row().classes("grow gap-4") as monitor_fields:
                    self.inputs["check_every"] = ui.number("Check every (s)", value=30).classes("w-32")
                    self.inputs["until"] = (
                        ui.input(f"Until ({zone}, optional)")
                        .props("type=datetime-local stack-label")
                        .classes("grow")
                    )
                monitor_fields.bind_visibility_from(self.mode, "value", value="monitor")
            with ui.grid(columns=2).classes("w-full gap-x-4 gap-y-1"):
                self.inputs["priority"] = ui.number("Priority (higher first)", value=0, step=1)
                self.inputs["max_attempts"] = ui.number(
                    "Max attempts", value=services.settings.max_attempts, step=1
                )
            with ui.row().classes("w-full justify-end gap-2 pt-2"):
                ui.button("Cancel", on_click=self.dialog.close).props("flat")
                self.submit = ui.button("Create task", icon="add", on_click=self.create).props(
                    'unelevated data-testid="create-task"'
                )
        for name, element in self.inputs.items():
            element.props(f'data-testid="field-{name}"')
            element.on_value_change(lambda _, n=name: self._clear_error(n))

    def open(self) -> None:
        self._show_errors({}, [])
        self.dialog.open()

    # ---- submit ---------------------------------------------------------------------------

    def data(self) -> dict[str, Any]:
        v = {name: element.value for name, element in self.inputs.items()}
        start, mode = self.start.value, self.mode.value
        return {
            "name": v["name"] or "",
            "store": v["store"] or "",
            "product": v["product"] or "",
            "quantity": v["quantity"],
            "max_price": v["max_price"],
            "start": start,
            "run_at": self._time(v["run_at"]) if start == "at" else None,
            "mode": mode,
            "check_every": v["check_every"] if mode == "monitor" else None,
            "until": self._time(v["until"]) if mode == "monitor" else None,
            "priority": 0 if v["priority"] is None else v["priority"],
            "max_attempts": v["max_attempts"],
        }

    def _time(self, text: str | None) -> datetime | str | None:
        if not text:
            return None
        try:
            return datetime.fromisoformat(text).replace(tzinfo=self.tz)
        except ValueError:
            return text  # TaskCreate says what is wrong with it

    async def create(self) -> None:
        raw = self.data()
        try:
            data = TaskCreate.model_validate(raw)
        except ValidationError as exc:
            self._show_errors(*errors_by_field(exc))
            return
        if data.store not in self.stores:
            self._show_errors({"store": f"unknown store; known: {', '.join(self.stores)}"}, [])
            return
        self.submit.props("loading")
        try:
            async with self.services.db.begin() as session:
                task = await task_ops.create_task(session, data=data, settings=self.services.settings)
            if task.status == TaskStatus.QUEUED:
                with suppress(TimeoutError):  # not started yet: the sweeper rings for it later
                    await self.services.wait_ready()
                await self.services.kick(task.id)
        finally:
            self.submit.props(remove="loading")
        ui.notify(f"Task “{task.name}” created ({task.status})", type="positive", position="bottom-right")
        self.dialog.close()
        for name in ("name", "product"):
            self.inputs[name].value = ""
        await self.on_created(task)

    # ---- errors -----------------------------------------------------------------------------

    def _show_errors(self, fields: dict[str, str], general: list[str]) -> None:
        for name, element in self.inputs.items():
            if name in fields:
                element.props(f'error error-message="{_attr(fields[name])}"')
            else:
                element.props(remove="error error-message")
        self.general.set_text("; ".join(general))
        self.general.set_visibility(bool(general))

    def _clear_error(self, name: str) -> None:
        self.inputs[name].props(remove="error error-message")


def _attr(text: str) -> str:
    return text.replace('"', "'")
