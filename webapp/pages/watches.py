"""``/watches``: the viewer's watches — state, the best price in stock now, the last change — and
the New-watch dialog (``watch_form.py``).

Live: any change to one of the viewer's tasks (a listing's check, state or observation event),
or a resync, asks for one throttled re-read (at most two a second): a watch's state changes in
the same transaction as one of its listing tasks' events.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from nicegui import ui

from models import watch_queries
from models.access import Viewer
from models.watch_tables import Watch, WatchStatus
from webapp.pages import empty, theme
from webapp.pages.updates import HubWatch, Throttle
from webapp.pages.watch_form import WatchDialog
from webapp.services import Services

WATCH_COLORS: dict[str, str] = {
    WatchStatus.WATCHING: "indigo-5",
    WatchStatus.BUYING: "cyan-8",
    WatchStatus.BOUGHT: "green-7",
    WatchStatus.UNKNOWN: "purple-8",
    WatchStatus.EXPIRED: "grey-6",
    WatchStatus.CANCELLED: "brown-5",
}
COLUMNS: list[dict[str, Any]] = [
    {"name": "name", "label": "Watch", "field": "name", "align": "left"},
    {"name": "status", "label": "State", "field": "status", "align": "left"},
    {"name": "best", "label": "Best price in stock", "field": "best", "align": "right"},
    {"name": "change", "label": "Last change", "field": "change", "align": "left"},
    {"name": "every", "label": "Checks every", "field": "every", "align": "right"},
    {"name": "created", "label": "Created", "field": "created", "align": "left"},
]
SLOT_NAME = """
<q-td :props="props"><a :href="'/watches/' + props.row.id" class="text-primary no-underline font-medium"
  :data-testid="'watch-link-' + props.row.id">{{ props.value }}</a></q-td>
"""
SLOT_STATUS = """
<q-td :props="props"><q-badge :color="props.row.color" :label="props.value"
  :data-testid="'watch-status-' + props.row.id" /></q-td>
"""


def status_badge(status: str) -> ui.badge:
    return ui.badge(status, color=WATCH_COLORS.get(status, "grey")).props('data-testid="watch-status"')


def set_status_badge(badge: ui.badge, status: str) -> None:
    badge.set_text(status)
    badge.props(f"color={WATCH_COLORS.get(status, 'grey')}")


def watch_row(row: watch_queries.WatchRow, tz: tzinfo) -> dict[str, Any]:
    watch = row.watch
    return {
        "id": str(watch.id),
        "name": watch.name,
        "status": watch.status,
        "color": WATCH_COLORS.get(watch.status, "grey"),
        "best": theme.fmt_money(row.best_price) if row.best_price is not None else "—",
        **theme.when("change", row.last_change, tz),
        "every": theme.fmt_seconds(watch.check_every),
        **theme.when("created", watch.created_at, tz),
    }


class WatchesView:
    def __init__(self, services: Services, tz: tzinfo, *, viewer: Viewer) -> None:
        self.services, self.tz, self.viewer = services, tz, viewer
        self.refresher = Throttle(self.refresh, interval=0.5)

    def build(self) -> None:
        with ui.row().classes("w-full items-center"):
            ui.label("Watches").classes("text-2xl font-semibold text-grey-10")
            ui.space()
            self.dialog = WatchDialog(self.services, self.tz, viewer=self.viewer, on_saved=self.saved)
            ui.button("New watch", icon="add", on_click=self.dialog.open_new).props(
                'unelevated data-testid="new-watch"'
            )
        ui.label(
            "One product at several stores: the first listing in stock at or under its max price "
            "buys it, once."
        ).classes("text-sm text-grey-7")
        with theme.card().classes(remove="p-4 gap-3", add="p-0 gap-0"):
            self.table = (
                ui.table(rows=[], columns=COLUMNS, row_key="id")
                .props('flat square no-data-label="No watches yet" data-testid="watches"')
                .classes("w-full")
            )
        self.table.add_slot("body-cell-name", SLOT_NAME)
        self.table.add_slot("body-cell-status", SLOT_STATUS)
        for name in ("change", "created"):
            self.table.add_slot(f"body-cell-{name}", theme.when_slot(name))
        empty.on_table(
            self.table, icon="visibility", text="No watches yet", action="New watch", click="new-watch"
        )
        self.services.hub.subscribe(self.viewer, lambda _batch: self.refresher.trigger())
        self.services.hub.resync.subscribe(self.refresher.trigger)

    async def saved(self, watch: Watch) -> None:
        ui.navigate.to(f"/watches/{watch.id}")

    async def refresh(self) -> None:
        async with self.services.db.session() as session:
            rows, _ = await watch_queries.list_watches(session, viewer=self.viewer)
        self.table.rows = [watch_row(row, self.tz) for row in rows]
        self.table.update()


async def render(services: Services, watch: HubWatch, tz: tzinfo, *, viewer: Viewer) -> None:
    with theme.frame("Watches", watch):
        view = WatchesView(services, tz, viewer=viewer)
        view.build()
        await view.refresh()
