"""``/purchases``: the viewer's orders, newest first, paged on the server, with the total spent
and totals per store and currency. Filters: store and a range of days (in the browser's time
zone); an admin sees everyone's, with an Owner column and an owner filter. "Download CSV" is
``/api/purchases.csv`` with the same filter (``webapp.purchases_csv``).

Live: a task reaching ``completed`` (from ``hub.changes``) or a resync asks for one throttled
re-read (at most two a second).
"""

from __future__ import annotations

import uuid
from datetime import date, tzinfo
from typing import Any
from urllib.parse import urlencode

from nicegui import events, ui

from models import queries
from models.access import Viewer
from models.states import TaskStatus
from models.tables import Purchase
from webapp.pages import empty, theme
from webapp.pages.server_paging import server_paged
from webapp.pages.updates import HubWatch, Throttle
from webapp.services import Services

COLUMNS: list[dict[str, Any]] = [
    {"name": "order", "label": "Order", "field": "order", "align": "left"},
    {"name": "product", "label": "Product", "field": "product", "align": "left"},
    {"name": "quantity", "label": "Qty", "field": "quantity", "align": "right"},
    {"name": "unit_price", "label": "Unit price", "field": "unit_price", "align": "right"},
    {"name": "total", "label": "Total", "field": "total", "align": "right"},
    {"name": "task", "label": "Task", "field": "task", "align": "left"},
    {"name": "time", "label": "Time", "field": "time", "align": "left"},
]
OWNER_COLUMN: dict[str, Any] = {"name": "owner", "label": "Owner", "field": "owner", "align": "left"}
EVERYONE = ""  # the owner filter's value for "all users"
ALL_STORES = ""  # the store filter's value for every store
TOTALS_COLUMNS: list[dict[str, Any]] = [
    {"name": "store", "label": "Store", "field": "store", "align": "left"},
    {"name": "currency", "label": "Currency", "field": "currency", "align": "left"},
    {"name": "orders", "label": "Orders", "field": "orders", "align": "right"},
    {"name": "total", "label": "Spent", "field": "total", "align": "right"},
]
SLOT_ORDER = '<q-td :props="props"><span class="td-mono font-medium">{{ props.value }}</span></q-td>'
SLOT_PRODUCT = """
<q-td :props="props">{{ props.row.product_name || props.value }}
  <div v-if="props.row.product_name" class="td-mono text-xs text-grey-6">
    {{ props.row.store }} · {{ props.value }}</div>
</q-td>
"""
SLOT_TASK = """
<q-td :props="props">
  <a v-if="props.row.task_id" :href="'/tasks/' + props.row.task_id" class="text-primary no-underline"
    >{{ props.value }}</a>
  <span v-else class="text-grey-6">deleted</span>
</q-td>
"""


def purchase_row(
    p: Purchase, task_name: str | None, tz: tzinfo, owners: dict[uuid.UUID, str] | None = None
) -> dict[str, Any]:
    return {
        "id": p.id,
        "owner": (owners or {}).get(p.owner_id, "—") if p.owner_id else "—",
        "order": p.order_number,
        "product": p.product,
        "product_name": p.product_name or "",
        "store": p.store,
        "quantity": p.quantity,
        "unit_price": theme.fmt_money(p.unit_price, p.currency),
        "total": theme.fmt_money(p.total, p.currency),
        "task": task_name or "",
        "task_id": str(p.task_id) if p.task_id and task_name is not None else "",
        **theme.when("time", p.created_at, tz),
    }


class PurchasesView:
    def __init__(self, services: Services, tz: tzinfo, *, viewer: Viewer) -> None:
        self.services = services
        self.tz = tz
        self.viewer = viewer
        self.owner: uuid.UUID | None = None  # an admin's owner filter
        self.store: str | None = None
        self.first: date | None = None
        self.last: date | None = None
        self.owners: dict[uuid.UUID, str] = {}
        self.pagination: dict[str, Any] = {"page": 1, "rowsPerPage": 25, "rowsNumber": 0}
        self.refresher = Throttle(self.refresh, interval=0.5)

    def build(self) -> None:
        with ui.row().classes("w-full items-center justify-between gap-3"):
            ui.label("Purchases").classes("text-2xl font-semibold text-grey-10")
            self.csv = ui.button("Download CSV", icon="download").props(
                f'outline no-caps href="{self.csv_url()}" download data-testid="download-csv"'
            )
        with ui.row().classes("w-full items-end gap-3").props('data-testid="purchase-filters"'):
            self.store_select = (
                ui.select({ALL_STORES: "All stores"}, value=ALL_STORES, label="Store", on_change=self._store)
                .props('dense outlined data-testid="store-filter"')
                .classes("w-48")
            )
            self.first_input = (
                ui.input("From", on_change=self._days)
                .props('type=date dense outlined stack-label clearable data-testid="from-filter"')
                .classes("w-44")
            )
            self.last_input = (
                ui.input("To", on_change=self._days)
                .props('type=date dense outlined stack-label clearable data-testid="to-filter"')
                .classes("w-44")
            )
            if self.viewer.is_admin:
                self.owner_select = (
                    ui.select({EVERYONE: "Everyone"}, value=EVERYONE, label="Owner", on_change=self._owner)
                    .props('dense outlined data-testid="owner-filter"')
                    .classes("w-56")
                )
            self.clear = ui.button("Clear filters", icon="filter_alt_off", on_click=self.clear_filters).props(
                'flat no-caps data-testid="clear-filters"'
            )
        with ui.row().classes("w-full gap-4 items-stretch"):
            with theme.card().classes(remove="w-full", add="w-64"):
                ui.label("Total spent").classes("text-xs uppercase tracking-wide text-grey-7")
                self.spent = (
                    ui.label("—").classes("text-2xl font-semibold").props('data-testid="total-spent"')
                )
            with theme.card().classes(remove="w-full", add="w-64"):
                ui.label("Orders").classes("text-xs uppercase tracking-wide text-grey-7")
                self.count = (
                    ui.label("0").classes("text-2xl font-semibold").props('data-testid="order-count"')
                )
            with theme.card("Per store", icon="storefront").classes(
                remove="w-full", add="flex-1 min-w-[280px]"
            ):
                self.totals = (
                    ui.table(rows=[], columns=TOTALS_COLUMNS, row_key="key")
                    .props('flat dense hide-bottom no-data-label="—" data-testid="store-totals"')
                    .classes("w-full")
                )
        with theme.card().classes(remove="p-4 gap-3", add="p-0 gap-0 overflow-x-auto"):
            columns = [*COLUMNS, OWNER_COLUMN] if self.viewer.is_admin else COLUMNS
            self.table = server_paged(
                ui.table(rows=[], columns=columns, row_key="id", pagination=self.pagination)
                .props('flat square :rows-per-page-options="[10, 25, 50, 100]" data-testid="purchases"')
                .classes("w-full")
            )
        self.table.add_slot("body-cell-order", SLOT_ORDER)
        self.table.add_slot("body-cell-product", SLOT_PRODUCT)
        self.table.add_slot("body-cell-task", SLOT_TASK)
        self.table.add_slot("body-cell-time", theme.when_slot("time"))
        self.table.on("request", self._request, js_handler="(p) => emit(p.pagination)")
        self.services.hub.subscribe(self.viewer, self.on_changes)
        self.services.hub.resync.subscribe(self.refresher.trigger)

    def where(self) -> queries.PurchaseFilter:
        return queries.PurchaseFilter.days(
            first=self.first, last=self.last, tz=self.tz, store=self.store, owner=self.owner
        )

    def filtered(self) -> bool:
        return any(v is not None for v in (self.store, self.first, self.last, self.owner))

    def csv_url(self) -> str:
        params = {
            "store": self.store,
            "from": self.first.isoformat() if self.first else None,
            "to": self.last.isoformat() if self.last else None,
            "tz": getattr(self.tz, "key", None),
            "owner": str(self.owner) if self.owner else None,
        }
        query = urlencode({k: v for k, v in params.items() if v})
        return "/api/purchases.csv" + (f"?{query}" if query else "")

    def _store(self, e: events.ValueChangeEventArguments) -> None:
        self.store = e.value or None
        self._filters_changed()

    def _days(self, _: events.ValueChangeEventArguments) -> None:
        self.first = _day(self.first_input.value)
        self.last = _day(self.last_input.value)
        self._filters_changed()

    def clear_filters(self) -> None:
        self.store_select.set_value(ALL_STORES)
        self.first_input.set_value("")
        self.last_input.set_value("")
        if self.viewer.is_admin:
            self.owner_select.set_value(EVERYONE)

    def _filters_changed(self) -> None:
        self.pagination["page"] = 1
        self.refresher.trigger()

    def on_changes(self, batch: list[dict[str, Any]]) -> None:
        for p in batch:
            if p.get("kind") == "deleted" or (
                p.get("kind") == "state" and p.get("status") == TaskStatus.COMPLETED
            ):
                self.refresher.trigger()
                return

    def _owner(self, e: events.ValueChangeEventArguments) -> None:
        self.owner = uuid.UUID(e.value) if e.value else None
        self._filters_changed()

    async def _request(self, e: events.GenericEventArguments) -> None:
        self.pagination.update({k: e.args.get(k) for k in ("page", "rowsPerPage")})
        await self.refresh()

    async def refresh(self) -> None:
        size = int(self.pagination.get("rowsPerPage") or 25)
        page = int(self.pagination.get("page") or 1)
        where = self.where()
        async with self.services.db.session() as session:
            viewer = self.viewer
            rows, count = await queries.list_purchases(
                session, viewer=viewer, where=where, limit=size, offset=(page - 1) * size
            )
            per_store = await queries.store_totals(session, viewer=viewer, where=where)
            stores = await queries.purchase_stores(session, viewer=viewer, owner=self.owner)
            if self.viewer.is_admin:
                self.owners = await queries.owner_emails(session, viewer=self.viewer)
        self.pagination["rowsNumber"] = count
        self.table.pagination = dict(self.pagination)
        self.table.rows = [purchase_row(p, name, self.tz, self.owners) for p, name in rows]
        if self.viewer.is_admin:
            options = {EVERYONE: "Everyone"} | {str(i): email for i, email in self.owners.items()}
            self.owner_select.set_options(options, value=self.owner_select.value)
        current = self.store_select.value
        store_options = {ALL_STORES: "All stores"} | {
            s: s for s in sorted({*stores, *([current] if current else [])})
        }
        self.store_select.set_options(store_options, value=current)
        self.table.update()
        self.count.set_text(str(count))
        spent: dict[str, Any] = {}
        for t in per_store:
            spent[t.currency] = spent.get(t.currency, 0) + t.total
        self.spent.set_text(
            " + ".join(theme.fmt_money(v, c) for c, v in sorted(spent.items())) or theme.fmt_money(0)
        )
        self.totals.rows = [
            {
                "key": f"{t.store}/{t.currency}",
                "store": t.store,
                "currency": t.currency,
                "orders": t.orders,
                "total": theme.fmt_money(t.total, t.currency),
            }
            for t in per_store
        ]
        self.totals.update()
        self.csv.props(f'href="{self.csv_url()}"')
        self.clear.set_visibility(self.filtered())
        if self.filtered():
            empty.on_table(self.table, icon="filter_alt_off", text="No purchases match these filters")
        else:
            empty.on_table(self.table, icon="receipt_long", text="No purchases yet", **empty.NEW_TASK)


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


async def render(services: Services, watch: HubWatch, tz: tzinfo, *, viewer: Viewer) -> None:
    with theme.frame("Purchases", watch):
        view = PurchasesView(services, tz, viewer=viewer)
        view.build()
        await view.refresh()
