"""``/purchases``: the viewer's orders, newest first, paged on the server, with the total spent.
An admin sees everyone's, with an Owner column and an owner filter.

Live: a task reaching ``completed`` (from ``hub.changes``) or a resync asks for one throttled
re-read (at most two a second).
"""

from __future__ import annotations

import uuid
from datetime import tzinfo
from typing import Any

from nicegui import events, ui

from models import queries
from models.access import Viewer
from models.states import TaskStatus
from models.tables import Purchase
from webapp.pages import theme
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
        "time": theme.fmt_time(p.created_at, tz),
    }


class PurchasesView:
    def __init__(self, services: Services, tz: tzinfo, *, viewer: Viewer) -> None:
        self.services = services
        self.tz = tz
        self.viewer = viewer
        self.owner: uuid.UUID | None = None  # an admin's owner filter
        self.owners: dict[uuid.UUID, str] = {}
        self.pagination: dict[str, Any] = {"page": 1, "rowsPerPage": 25, "rowsNumber": 0}
        self.refresher = Throttle(self.refresh, interval=0.5)

    def build(self) -> None:
        ui.label("Purchases").classes("text-2xl font-semibold text-grey-10")
        with ui.row().classes("gap-4"):
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
        with theme.card().classes(remove="p-4 gap-3", add="p-0 gap-0"):
            if self.viewer.is_admin:
                self.owner_select = (
                    ui.select({EVERYONE: "Everyone"}, value=EVERYONE, label="Owner", on_change=self._owner)
                    .props('dense outlined data-testid="owner-filter"')
                    .classes("w-56 mx-4 mt-3")
                )
            columns = [*COLUMNS, OWNER_COLUMN] if self.viewer.is_admin else COLUMNS
            self.table = (
                ui.table(rows=[], columns=columns, row_key="id", pagination=self.pagination)
                .props(
                    'flat square :rows-per-page-options="[10, 25, 50, 100]" '
                    'no-data-label="Nothing bought yet" '
                    'data-testid="purchases"'
                )
                .classes("w-full")
            )
        self.table.add_slot("body-cell-order", SLOT_ORDER)
        self.table.add_slot("body-cell-product", SLOT_PRODUCT)
        self.table.add_slot("body-cell-task", SLOT_TASK)
        self.table.on("request", self._request, js_handler="(p) => emit(p.pagination)")
        self.services.hub.subscribe(self.viewer, self.on_changes)
        self.services.hub.resync.subscribe(self.refresher.trigger)

    def on_changes(self, batch: list[dict[str, Any]]) -> None:
        for p in batch:
            if p.get("kind") == "deleted" or (
                p.get("kind") == "state" and p.get("status") == TaskStatus.COMPLETED
            ):
                self.refresher.trigger()
                return

    def _owner(self, e: events.ValueChangeEventArguments) -> None:
        self.owner = uuid.UUID(e.value) if e.value else None
        self.pagination["page"] = 1
        self.refresher.trigger()

    async def _request(self, e: events.GenericEventArguments) -> None:
        self.pagination.update({k: e.args.get(k) for k in ("page", "rowsPerPage")})
        await self.refresh()

    async def refresh(self) -> None:
        size = int(self.pagination.get("rowsPerPage") or 25)
        page = int(self.pagination.get("page") or 1)
        async with self.services.db.session() as session:
            viewer, owner = self.viewer, self.owner
            rows, count = await queries.list_purchases(
                session, viewer=viewer, owner=owner, limit=size, offset=(page - 1) * size
            )
            totals = await queries.spent(session, viewer=viewer, owner=owner)
            if self.viewer.is_admin:
                self.owners = await queries.owner_emails(session, viewer=self.viewer)
        self.pagination["rowsNumber"] = count
        self.table.pagination = dict(self.pagination)
        self.table.rows = [purchase_row(p, name, self.tz, self.owners) for p, name in rows]
        if self.viewer.is_admin:
            options = {EVERYONE: "Everyone"} | {str(i): email for i, email in self.owners.items()}
            self.owner_select.set_options(options, value=self.owner_select.value)
        self.table.update()
        self.count.set_text(str(count))
        self.spent.set_text(
            " + ".join(theme.fmt_money(v, c) for c, v in sorted(totals.items())) or theme.fmt_money(0)
        )


async def render(services: Services, watch: HubWatch, tz: tzinfo, *, viewer: Viewer) -> None:
    with theme.frame("Purchases", watch):
        view = PurchasesView(services, tz, viewer=viewer)
        view.build()
        await view.refresh()
