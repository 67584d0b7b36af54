"""``/watches/{id}``: one watch — its state, listings (each with its monitor task), the price
history chart (``watch_chart.py``), lowest / typical / highest, and its purchase; Edit, Cancel and
Delete go through ``webapp.watch_commands``.

Live: a change to one of its listing tasks (a check ending, an observation, the purchase) or a
resync asks for one throttled re-read; the watch's own state changes in those transactions.
"""

from __future__ import annotations

import uuid
from datetime import tzinfo
from typing import Any

from nicegui import ui

from models import watch_queries
from models.access import Viewer
from models.errors import TaskdeckError
from models.types import utcnow
from models.watch_tables import ACTIVE_WATCH, Watch, WatchStatus
from webapp import watch_commands
from webapp.pages import appearance, theme, watch_chart
from webapp.pages.updates import HubWatch, Throttle
from webapp.pages.watch_form import WatchDialog
from webapp.pages.watches import set_status_badge, status_badge
from webapp.services import Services

LISTING_COLUMNS: list[dict[str, Any]] = [
    {"name": "listing", "label": "Listing", "field": "listing", "align": "left"},
    {"name": "max", "label": "Max price", "field": "max", "align": "right"},
    {"name": "price", "label": "Price now", "field": "price", "align": "right"},
    {"name": "stock", "label": "Stock", "field": "stock", "align": "left"},
    {"name": "changed", "label": "Last change", "field": "changed", "align": "left"},
    {"name": "task", "label": "Task", "field": "task", "align": "left"},
]
SLOT_TASK = """
<q-td :props="props">
  <a v-if="props.row.task_id" :href="'/tasks/' + props.row.task_id" class="no-underline"
    :data-testid="'listing-task-' + props.rowIndex">
    <q-badge outline color="primary" :label="props.value" /></a>
  <span v-else class="text-grey-6">deleted</span>
</q-td>
"""


def listing_row(row: watch_queries.ListingRow, tz: tzinfo) -> dict[str, Any]:
    listing = row.listing
    stock = {True: "in stock", False: "out of stock", None: "not checked yet"}[listing.in_stock]
    return {
        "id": str(listing.id),
        "listing": watch_chart.label(listing),
        "max": theme.fmt_money(listing.max_price),
        "price": theme.fmt_money(listing.last_price) if listing.last_price is not None else "—",
        "stock": stock,
        "changed": theme.fmt_time(listing.changed_at, tz) if listing.changed_at else "—",
        "task": row.task_status or "",
        "task_id": str(listing.task_id) if listing.task_id else "",
    }


class WatchView:
    def __init__(self, services: Services, tz: tzinfo, watch_id: uuid.UUID, *, viewer: Viewer) -> None:
        self.services, self.tz, self.id, self.viewer = services, tz, watch_id, viewer
        self.watch: Watch | None = None
        self.listings: list[watch_queries.ListingRow] = []
        self.task_ids: set[str] = set()
        self.refresher = Throttle(self.reread, interval=0.5)

    def build(self, row: watch_queries.WatchRow) -> None:
        watch = row.watch
        with ui.row().classes("w-full items-center gap-3"):
            ui.link("Watches", "/watches").classes("text-sm text-primary no-underline")
            ui.label("/").classes("text-grey-5")
            self.title = ui.label(watch.name).classes("text-2xl font-semibold text-grey-10")
            self.badge = status_badge(watch.status).classes("text-base px-3 py-1")
            ui.space()
            self.dialog = WatchDialog(self.services, self.tz, viewer=self.viewer, on_saved=self._saved)
            self.edit_button = ui.button("Edit", icon="edit", on_click=self._edit).props(
                'flat no-caps data-testid="edit-watch"'
            )
            self.cancel_button = ui.button("Cancel watch", icon="stop_circle", on_click=self._cancel).props(
                'flat no-caps color=negative data-testid="cancel-watch"'
            )
            self.delete_button = ui.button("Delete", icon="delete", on_click=self._delete).props(
                'flat no-caps color=negative data-testid="delete-watch"'
            )
        self.banner = ui.label("").classes("w-full p-3 rounded bg-purple-1 text-purple-10")
        self.banner.props('data-testid="watch-error"')
        with ui.row().classes("w-full gap-4"):
            self.facts: dict[str, ui.label] = {}
            for key, title in (
                ("quantity", "Quantity"),
                ("every", "Checks every"),
                ("until", "Until"),
                ("best", "Best price in stock"),
                ("lowest", "Lowest"),
                ("typical", "Typical"),
                ("highest", "Highest"),
            ):
                with theme.card().classes(remove="w-full", add="w-40"):
                    ui.label(title).classes("text-xs uppercase tracking-wide text-grey-7")
                    self.facts[key] = (
                        ui.label("—").classes("text-lg font-semibold").props(f'data-testid="fact-{key}"')
                    )
        with theme.card("Price and stock over time", icon="show_chart"):
            ui.label("A gap is a time out of stock; the dashed line is the listing's max price.").classes(
                "text-xs text-grey-7"
            )
            self.chart = (
                appearance.chart(watch_chart.options([], [], now=utcnow()))
                .classes("w-full h-72")
                .props('data-testid="watch-chart"')
            )
        with theme.card("Listings", icon="storefront"):
            self.table = (
                ui.table(rows=[], columns=LISTING_COLUMNS, row_key="id")
                .props('flat dense data-testid="watch-listings"')
                .classes("w-full")
            )
            self.table.add_slot("body-cell-task", SLOT_TASK)
        with theme.card("Purchase", icon="receipt_long"):
            self.purchase = ui.label("Nothing bought yet").props('data-testid="watch-purchase"')
        self.services.hub.subscribe(self.viewer, self.on_changes)
        self.services.hub.resync.subscribe(self.refresher.trigger)

    def on_changes(self, batch: list[dict[str, Any]]) -> None:
        if any(p.get("task") in self.task_ids for p in batch):
            self.refresher.trigger()

    async def reread(self) -> None:
        try:
            async with self.services.db.session() as session:
                row = await watch_queries.get_watch(session, self.id, viewer=self.viewer)
                listings = await watch_queries.watch_listings(session, self.id, viewer=self.viewer)
                history = await watch_queries.watch_history(session, self.id, viewer=self.viewer)
                purchase = await watch_queries.watch_purchase(session, self.id, viewer=self.viewer)
        except TaskdeckError:  # deleted meanwhile
            self.title.set_text("This watch was deleted")
            return
        watch = self.watch = row.watch
        self.listings = listings
        self.task_ids = {str(r.listing.task_id) for r in listings if r.listing.task_id}
        self.title.set_text(watch.name)
        set_status_badge(self.badge, watch.status)
        self.banner.set_text(watch.error or "")
        self.banner.set_visibility(bool(watch.error))
        active = watch.status in ACTIVE_WATCH
        self.edit_button.set_visibility(watch.status == WatchStatus.WATCHING)
        self.cancel_button.set_visibility(active)
        self.delete_button.set_visibility(not active)
        stats = watch_chart.stats(history)
        money = theme.fmt_money
        values = {
            "quantity": str(watch.quantity),
            "every": theme.fmt_seconds(watch.check_every),
            "until": theme.fmt_time(watch.until, self.tz) if watch.until else "—",
            "best": money(row.best_price) if row.best_price is not None else "—",
            "lowest": money(stats.lowest) if stats.lowest is not None else "—",
            "typical": money(stats.typical) if stats.typical is not None else "—",
            "highest": money(stats.highest) if stats.highest is not None else "—",
        }
        for key, text in values.items():
            self.facts[key].set_text(text)
        self.chart.options.clear()
        self.chart.options.update(watch_chart.options(listings, history, now=utcnow()))
        self.chart.update()
        self.table.rows = [listing_row(r, self.tz) for r in listings]
        self.table.update()
        if purchase is not None:
            self.purchase.set_text(
                f"Order {purchase.order_number} at {purchase.store}: {purchase.quantity} × "
                f"{purchase.product_name or purchase.product} for {money(purchase.total, purchase.currency)}"
            )
        else:
            self.purchase.set_text("Nothing bought yet")

    async def _saved(self, _: Watch) -> None:
        await self.reread()

    async def _edit(self) -> None:
        if self.watch is not None:
            await self.dialog.open_edit(self.watch, self.listings)

    async def _cancel(self) -> None:
        try:
            await watch_commands.cancel_watch(self.services, self.id, viewer=self.viewer)
        except TaskdeckError as exc:
            ui.notify(str(exc), type="warning")
        await self.reread()

    async def _delete(self) -> None:
        try:
            await watch_commands.delete_watch(self.services, self.id, viewer=self.viewer)
        except TaskdeckError as exc:
            ui.notify(str(exc), type="warning")
            return
        ui.navigate.to("/watches")


async def render(services: Services, watch: HubWatch, tz: tzinfo, watch_id: str, *, viewer: Viewer) -> None:
    try:
        parsed = uuid.UUID(watch_id)
        async with services.db.session() as session:
            row = await watch_queries.get_watch(session, parsed, viewer=viewer)
    except (ValueError, TaskdeckError):
        with (
            theme.frame("Watch not found", watch, section="Watches"),
            theme.card().classes("items-center py-16"),
        ):
            ui.label("No such watch").classes("text-xl font-semibold").props('data-testid="not-found"')
            ui.link("Back to the watches", "/watches")
        return
    with theme.frame(row.watch.name, watch, section="Watches"):
        view = WatchView(services, tz, parsed, viewer=viewer)
        view.build(row)
        await view.reread()
