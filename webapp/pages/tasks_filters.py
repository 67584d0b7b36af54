"""What ``/tasks`` shows, kept in its URL: filters, search, sort, page and page size.

``TasksQuery`` reads the query string (``?status=failed&store=demo&mode=monitor&worker=…&from=
2026-11-01&to=2026-11-30&q=…&sort=-created&page=2&size=50``), leniently: a value it does not know
is dropped, never an error. It writes the same back (``url()``) on every change, so a reload or a
shared link opens the same view, and turns into the read layer's ``queries.TaskFilter`` — the
filter the API's bulk actions take, so "all matching" is the same set on the page and the API.
Dates are whole days in the browser's zone; ``to`` includes its day.

``FilterBar`` draws the controls (search, store, mode, worker, created from/to, an admin's owner).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any
from urllib.parse import urlencode

from nicegui import events, ui

from models import queries
from models.states import TaskStatus

PAGE_SIZES = [10, 25, 50, 100]
SORTS = ("name", "status", "priority", "created")
MODES = {"once": "Buy once", "monitor": "Watch for restock"}
ANY = ""  # a select's "no filter" value


def _date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _int(text: str | None, default: int, allowed: Callable[[int], bool]) -> int:
    try:
        value = int(text or "")
    except ValueError:
        return default
    return value if allowed(value) else default


@dataclass(frozen=True)
class TasksQuery:
    status: str | None = None
    store: str | None = None
    mode: str | None = None
    worker: str | None = None
    created_from: date | None = None
    created_to: date | None = None  # inclusive
    q: str = ""
    owner: uuid.UUID | None = None  # an admin's owner filter
    sort: str = "created"
    descending: bool = True
    page: int = 1
    size: int = 25
    extra: dict[str, str] = field(default_factory=dict, compare=False)  # kept, not understood here

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> TasksQuery:
        sort = params.get("sort", "-created")
        field_name = sort.lstrip("-")
        owner = None
        try:
            owner = uuid.UUID(params["owner"]) if params.get("owner") else None
        except ValueError:
            owner = None
        status = params.get("status")
        return cls(
            status=status if status in {s.value for s in TaskStatus} else None,
            store=params.get("store") or None,
            mode=params.get("mode") if params.get("mode") in MODES else None,
            worker=params.get("worker") or None,
            created_from=_date(params.get("from")),
            created_to=_date(params.get("to")),
            q=(params.get("q") or "").strip(),
            owner=owner,
            sort=field_name if field_name in SORTS else "created",
            descending=sort.startswith("-") if field_name in SORTS else True,
            page=_int(params.get("page"), 1, lambda n: n >= 1),
            size=_int(params.get("size"), 25, lambda n: n in PAGE_SIZES),
        )

    def url(self) -> str:
        """``/tasks`` with this view's non-default parts as its query string."""
        parts: dict[str, Any] = {
            "status": self.status,
            "store": self.store,
            "mode": self.mode,
            "worker": self.worker,
            "from": self.created_from.isoformat() if self.created_from else None,
            "to": self.created_to.isoformat() if self.created_to else None,
            "q": self.q,
            "owner": str(self.owner) if self.owner else None,
            "sort": self.order if self.order != "-created" else None,
            "page": self.page if self.page != 1 else None,
            "size": self.size if self.size != 25 else None,
        }
        query = {k: v for k, v in parts.items() if v}
        return "/tasks" + (f"?{urlencode(query)}" if query else "")

    @property
    def order(self) -> str:
        return f"-{self.sort}" if self.descending else self.sort

    def where(self, tz: tzinfo) -> queries.TaskFilter:
        """The read layer's filter; dates are whole days in ``tz``."""

        def start_of(day: date) -> datetime:
            return datetime.combine(day, time(), tzinfo=tz)

        return queries.TaskFilter(
            statuses=(self.status,) if self.status else (),
            store=self.store,
            mode=self.mode,
            worker=self.worker,
            created_from=start_of(self.created_from) if self.created_from else None,
            created_to=start_of(self.created_to + timedelta(days=1)) if self.created_to else None,
            search=self.q or None,
            owner=self.owner,
        )

    def changed(self, **fields: Any) -> TasksQuery:
        """This view with ``fields`` changed; a filter change goes back to page 1."""
        if not set(fields) <= {"page", "size", "sort", "descending"}:
            fields = {"page": 1, **fields}
        return replace(self, **fields)


class FilterBar:
    """Search and the filter controls; ``on_change(TasksQuery)`` after each edit."""

    def __init__(
        self,
        query: TasksQuery,
        on_change: Callable[[TasksQuery], Any],
        *,
        admin: bool,
    ) -> None:
        self.query = query
        self.on_change = on_change
        with ui.row().classes("w-full items-center gap-2 td-filters"):
            self.search = ui.input(
                placeholder="Search name, product, order number or id", value=query.q, on_change=self._search
            )
            self.search.props('dense outlined clearable debounce=250 data-testid="search"').classes(
                "w-80 max-w-full td-search"
            )
            with self.search.add_slot("prepend"):
                ui.icon("search", size="20px")
            self.store = self._select("Store", "store", {ANY: "Any store"}, query.store)
            self.mode = self._select("Mode", "mode", {ANY: "Any mode", **MODES}, query.mode)
            self.worker = self._select("Worker", "worker", {ANY: "Any worker"}, query.worker)
            self.created_from = self._day("Created from", "from", "created_from", query.created_from)
            self.created_to = self._day("Created to", "to", "created_to", query.created_to)
            self.owner: ui.select | None = None
            if admin:
                self.owner = self._select("Owner", "owner", {ANY: "Everyone"}, query.owner)
            self.clear = ui.button("Clear filters", icon="filter_alt_off", on_click=self._clear).props(
                'flat dense no-caps size=sm data-testid="clear-filters"'
            )

    def _select(self, label: str, key: str, options: dict[str, str], value: Any) -> ui.select:
        current = str(value) if value else ANY
        select = ui.select(
            {**options, **({current: current} if current not in options else {})}, value=current
        )
        select.props(f'dense outlined options-dense label="{label}" data-testid="filter-{key}"')
        select.classes("w-40")
        select.on_value_change(lambda e, k=key: self._picked(k, e.value))
        return select

    def _day(self, label: str, testid: str, name: str, value: date | None) -> ui.input:
        box = ui.input(label, value=value.isoformat() if value else "")
        box.props(f'dense outlined stack-label type=date data-testid="filter-{testid}"').classes("w-40")
        box.on_value_change(lambda e, n=name: self._set(**{n: _date(e.value)}))
        return box

    def set_choices(self, *, stores: list[str], workers: list[str], owners: dict[str, str]) -> None:
        """Offer these values (and keep the current one even when it is not among them)."""
        for select, anything, values in (
            (self.store, "Any store", {s: s for s in stores}),
            (self.worker, "Any worker", {w: w for w in workers}),
            (self.owner, "Everyone", owners),
        ):
            if select is None:
                continue
            current = select.value or ANY
            options = {ANY: anything, **values}
            if current not in options:
                options[current] = current
            if options != select.options:
                select.set_options(options, value=current)

    def _picked(self, key: str, value: str | None) -> None:
        value = value or None
        if key == "owner":
            self._set(owner=uuid.UUID(value) if value else None)
        else:
            self._set(**{key: value})

    def _search(self, e: events.ValueChangeEventArguments) -> None:
        self._set(q=(e.value or "").strip())

    def _set(self, **fields: Any) -> None:
        if all(getattr(self.query, k) == v for k, v in fields.items()):
            return
        self.query = self.query.changed(**fields)
        self.on_change(self.query)

    def _clear(self) -> None:
        for element in (self.store, self.mode, self.worker, self.owner):
            if element is not None:
                element.set_value(ANY)
        for box in (self.created_from, self.created_to, self.search):
            box.set_value("")
        self._set(store=None, mode=None, worker=None, created_from=None, created_to=None, q="", owner=None)
