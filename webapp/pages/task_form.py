"""The "New task" dialog: ``TaskCreate`` validates, then the API's own create path
(``webapp.commands.create_task``: store, product, URL, times, the owner's profile); every error
is shown next to its field. The task belongs to the page's viewer.

Times typed in are in the browser's zone (see ``theme.browser_zone``).

Product preview: ``product_preview.py`` (a lookup of the product as it is typed, shown below it).

Checkout profile: a select of the viewer's stored profiles (name and masked card, read when the
dialog opens); the built-in demo profile is the default and means ``profile_id = None``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, tzinfo
from typing import Any

from nicegui import ui
from pydantic import ValidationError

from models import queries
from models.access import Viewer
from models.schemas import TaskCreate
from models.settings import Settings
from models.tables import Task
from models.vault import mask_card
from webapp import commands
from webapp.errors import BadInput, Unavailable
from webapp.pages.product_preview import ProductPreview
from webapp.services import Services
from workers.bots import registry

log = logging.getLogger(__name__)

DEMO_PROFILE = ""  # the profile select's value for "no profile": the bot's built-in demo data
DEMO_PROFILE_LABEL = "Demo profile (built-in)"

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
    "profile_id": "Checkout profile",
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


def offered_stores(settings: Settings, names: list[str]) -> list[str]:
    """The stores a person picks from: the engine-test store ``noop`` only when it is turned on by
    itself (``TASKDECK_NOOP_STORE``), not merely alongside the demo store."""
    return [name for name in names if name != "noop" or settings.noop_store]


class NewTaskDialog:
    def __init__(
        self,
        services: Services,
        tz: tzinfo,
        *,
        viewer: Viewer,
        stores: list[str],
        on_created: Callable[[Task], Awaitable[None]],
    ) -> None:
        self.services = services
        self.tz = tz
        self.viewer = viewer
        self.on_created = on_created
        self.stores = stores
        bots = registry.load()  # loaded at start-up (off the loop): a dict here
        previewable = {s for s in stores if s in bots and bots[s].lookup is not None}
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
                }
                with ui.row().classes("col-span-2 w-full items-start gap-2 no-wrap"):
                    self.inputs["product"] = ui.input(
                        "Product", placeholder="slug or product page URL"
                    ).classes("grow")
                    self.preview = ProductPreview(
                        services,
                        previewable=previewable,
                        product=self.inputs["product"],
                        show_error=self._product_error,
                    )
                self.preview.card()
                self.inputs["quantity"] = ui.number("Quantity", value=1, step=1)
                self.inputs["max_price"] = ui.number("Max price (optional)", step=0.01)
                self.inputs["profile_id"] = ui.select(
                    {DEMO_PROFILE: DEMO_PROFILE_LABEL}, label="Checkout profile", value=DEMO_PROFILE
                ).classes("col-span-2")
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
        self.preview.follow(store=self.inputs["store"], max_price=self.inputs["max_price"])
        self.dialog.on_value_change(lambda e: None if e.value else self.preview.cancel())

    async def open(self) -> None:
        self._show_errors({}, [])
        await self._load_profiles()
        self.dialog.open()

    async def _load_profiles(self) -> None:
        """The select's options: the built-in demo profile, then the viewer's own (card masked)."""
        async with self.services.db.session() as session:
            rows = await queries.list_profiles(session, viewer=self.viewer)
        options = {DEMO_PROFILE: DEMO_PROFILE_LABEL} | {
            str(p.id): " · ".join(filter(None, (p.name, mask_card(p.card_last4)))) for p in rows
        }
        select_ = self.inputs["profile_id"]
        select_.set_options(options, value=select_.value if select_.value in options else DEMO_PROFILE)

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
            "profile_id": v["profile_id"] or None,
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
        self.submit.props("loading")
        try:
            task = await commands.create_task(self.services, data, viewer=self.viewer)
        except BadInput as exc:
            field = next((f for f in FIELD_LABELS if exc.field in (f, _camel(f))), None)
            if field == "profile_id":
                await self._load_profiles()  # it may be gone: the select falls back to the demo profile
            self._show_errors({field: str(exc)} if field else {}, [] if field else [str(exc)])
            return
        except Unavailable as exc:
            self._show_errors({}, [str(exc)])
            return
        finally:
            self.submit.props(remove="loading")
        ui.notify(f"Task “{task.name}” created ({task.status})", type="positive", position="bottom-right")
        self.dialog.close()
        for name in ("name", "product"):
            self.inputs[name].value = ""
        await self.on_created(task)

    # ---- errors -----------------------------------------------------------------------------

    def _show_errors(self, fields: dict[str, str], general: list[str]) -> None:
        self.preview.failed = False
        for name, element in self.inputs.items():
            if name in fields:
                element.props(f'error error-message="{_attr(fields[name])}"')
            else:
                element.props(remove="error error-message")
        self.general.set_text("; ".join(general))
        self.general.set_visibility(bool(general))

    def _clear_error(self, name: str) -> None:
        self.inputs[name].props(remove="error error-message")

    def _product_error(self, message: str | None) -> None:
        self._field_error("product", message)

    def _field_error(self, name: str, message: str | None) -> None:
        if message is None:
            self._clear_error(name)
        else:
            self.inputs[name].props.update({"error": True, "error-message": message})


def _attr(text: str) -> str:
    return text.replace('"', "'")
