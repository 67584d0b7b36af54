"""``/purchases``: every order placed, newest first, paged on the server, with the total spent.

Live: a task reaching ``completed`` (from ``hub.changes``) or a resync asks for one throttled
re-read (at most two a second).
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from nicegui import events, ui

from models.states import TaskStatus
from models.tables import Purchase
from webapp.pages import queries, theme
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


def purchase_row(p: Purchase, task_name: str | None, tz: tzinfo) -> dict[str, Any]:
    return {
        "id": p.id,
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
    def __init__(self, services: Services, tz: tzinfo) -> None:
        self.services = services
        self.tz = tz
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
            self.table = (
                ui.table(rows=[], columns=COLUMNS, row_key="id", pagination=self.pagination)
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
        self.services.hub.changes.subscribe(self.on_changes)
        self.services.hub.resync.subscribe(self.refresher.trigger)

    def on_changes(self, batch: list[dict[str, Any]]) -> None:
        for p in batch:
            if p.get("kind") == "deleted" or (
                p.get("kind") == "state" and p.get("status") == TaskStatus.COMPLETED
            ):
                self.refresher.trigger()
                return

    async def _request(self, e: events.GenericEventArguments) -> None:
        self.pagination.update({k: e.args.get(k) for k in ("page", "rowsPerPage")})
        await self.refresh()

    async def refresh(self) -> None:
        size = int(self.pagination.get("rowsPerPage") or 25)
        page = int(self.pagination.get("page") or 1)
        async with self.services.db.session() as session:
            rows, count = await queries.list_purchases(session, limit=size, offset=(page - 1) * size)
            totals = await queries.spent(session)
        self.pagination["rowsNumber"] = count
        self.table.pagination = dict(self.pagination)
        self.table.rows = [purchase_row(p, name, self.tz) for p, name in rows]
        self.table.update()
        self.count.set_text(str(count))
        self.spent.set_text(
            " + ".join(theme.fmt_money(v, c) for c, v in sorted(totals.items())) or theme.fmt_money(0)
        )


async def render(services: Services, watch: HubWatch, tz: tzinfo) -> None:
    with theme.frame("Purchases", watch):
        view = PurchasesView(services, tz)
        view.build()
        await view.refresh()
