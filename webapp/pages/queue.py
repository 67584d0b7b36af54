"""``/queue``: how many tasks are in each state, what finished per minute, and the workers.

Live: a state change (from ``hub.changes``) asks for one throttled re-read of the counts and the
chart (at most one a second: an hour-wide chart gains nothing from more); ``hub.resync`` too.
The workers card is the exception: worker rows change by heart-beat, which writes no event, so a
single ``ui.timer`` re-reads that card every 5 seconds (and only that card).

Counts and the chart are the viewer's tasks (an admin's: everyone's), read through
``models.queries`` like ``/api/stats``: both count tasks finished per minute.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any

from nicegui import ui

from models import queries
from models.access import Viewer
from models.states import TaskStatus
from models.tables import Worker
from webapp.pages import theme
from webapp.pages.updates import HubWatch, Throttle
from webapp.services import Services

S = TaskStatus
WORKERS_EVERY = 5.0  # seconds; worker liveness has no events
WORKER_COLUMNS: list[dict[str, Any]] = [
    {"name": "id", "label": "Worker", "field": "id", "align": "left"},
    {"name": "host", "label": "Host", "field": "host", "align": "left"},
    {"name": "pid", "label": "PID", "field": "pid", "align": "right"},
    {"name": "status", "label": "Status", "field": "status", "align": "left"},
    {"name": "running", "label": "Running", "field": "running", "align": "left"},
    {"name": "processed", "label": "Processed", "field": "processed", "align": "right"},
    {"name": "started", "label": "Started", "field": "started", "align": "left"},
    {"name": "last_seen", "label": "Last seen", "field": "last_seen", "align": "left"},
]
WORKER_STATUS_SLOT = """
<q-td :props="props">
  <q-badge :color="{up: 'green-7', stopping: 'orange-8', gone: 'grey-6'}[props.value] || 'grey'"
    :label="props.value" /></q-td>
"""


def ago(when: datetime | None) -> str:
    if when is None:
        return "—"
    seconds = max(0.0, (datetime.now(UTC) - when).total_seconds())
    if seconds < 90:
        return f"{seconds:.0f} s ago"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"


def worker_row(w: Worker, tz: tzinfo) -> dict[str, Any]:
    running = list(w.running or [])
    return {
        "id": w.id,
        "host": w.host,
        "pid": w.pid,
        "status": w.status,
        "running": f"{len(running)} / {w.concurrency}"
        + (f" · {', '.join(r[:8] for r in running[:4])}" if running else ""),
        "processed": w.processed,
        "started": theme.fmt_time(w.started_at, tz),
        "last_seen": ago(w.last_seen),
    }


class QueueView:
    def __init__(self, services: Services, tz: tzinfo, *, viewer: Viewer) -> None:
        self.services = services
        self.tz = tz
        self.viewer = viewer
        self.counts: dict[str, ui.label] = {}
        self.refresher = Throttle(self.refresh, interval=1.0)

    def build(self) -> None:
        ui.label("Queue").classes("text-2xl font-semibold text-grey-10")
        with ui.grid().classes("w-full gap-3 grid-cols-3 md:grid-cols-5 xl:grid-cols-9"):
            for status in S:
                color = theme.STATUS_COLORS[status]
                with (
                    ui.link(target=f"/tasks?status={status}").classes("no-underline"),
                    theme.card().classes(remove="p-4 gap-3", add="p-0 gap-0 overflow-hidden hover:shadow-md"),
                ):
                    ui.element("div").classes(f"w-full h-1 bg-{color}")
                    with ui.column().classes("p-3 gap-1"):
                        with ui.row().classes("items-center gap-1 no-wrap"):
                            ui.icon(theme.STATUS_ICONS[status], size="18px", color=color)
                            ui.label(status).classes("text-xs uppercase tracking-wide text-grey-7")
                        self.counts[status] = (
                            ui.label("0")
                            .classes("text-2xl font-semibold text-grey-10")
                            .props(f'data-testid="count-{status}"')
                        )
        with theme.card("Throughput — finished per minute, last hour", icon="show_chart"):
            self.chart = (
                ui.echart(
                    {
                        "tooltip": {"trigger": "axis"},
                        "legend": {"data": ["completed", "failed"], "top": 0, "right": 0},
                        "grid": {"left": 40, "right": 16, "top": 32, "bottom": 28},
                        "xAxis": {"type": "category", "data": [], "axisTick": {"alignWithLabel": True}},
                        "yAxis": {"type": "value", "minInterval": 1},
                        "series": [
                            {
                                "name": "completed",
                                "type": "bar",
                                "stack": "done",
                                "data": [],
                                "itemStyle": {"color": "#2f9e44"},
                            },
                            {
                                "name": "failed",
                                "type": "bar",
                                "stack": "done",
                                "data": [],
                                "itemStyle": {"color": "#e03131"},
                            },
                        ],
                    }
                )
                .classes("w-full h-64")
                .props('data-testid="throughput"')
            )
        with theme.card("Workers", icon="dns"):
            self.workers = (
                ui.table(rows=[], columns=WORKER_COLUMNS, row_key="id")
                .props('flat dense no-data-label="No workers have reported yet" data-testid="workers"')
                .classes("w-full")
            )
            self.workers.add_slot("body-cell-status", WORKER_STATUS_SLOT)
            self.workers_note = ui.label("").classes("text-xs text-grey-6")
        # worker rows change by heart-beat, which writes no event: this card alone is re-read on a timer
        ui.timer(WORKERS_EVERY, self.refresh_workers)
        self.services.hub.subscribe(self.viewer, self.on_changes)
        self.services.hub.resync.subscribe(self.refresher.trigger)

    def on_changes(self, batch: list[dict[str, Any]]) -> None:
        if any(p.get("kind") in ("state", "deleted") for p in batch):
            self.refresher.trigger()

    async def refresh(self) -> None:
        async with self.services.db.session() as session:
            counts = await queries.status_counts(session, viewer=self.viewer)
            points = await queries.throughput(session, viewer=self.viewer)
        for status, label in self.counts.items():
            label.set_text(str(counts.get(status, 0)))
        options = self.chart.options
        options["xAxis"]["data"] = [p["minute"].astimezone(self.tz).strftime("%H:%M") for p in points]
        options["series"][0]["data"] = [p[S.COMPLETED] for p in points]
        options["series"][1]["data"] = [p[S.FAILED] for p in points]
        self.chart.update()

    async def refresh_workers(self) -> None:
        async with self.services.db.session() as session:
            workers = await queries.list_workers(session, viewer=self.viewer)
        self.workers.rows = [worker_row(w, self.tz) for w in workers]
        self.workers.update()
        up = sum(w.status == "up" for w in workers)
        embedded = " (this process runs an embedded worker)" if self.services.runtime is not None else ""
        self.workers_note.set_text(
            f"{up} up of {len(workers)} known{embedded} · refreshed every {WORKERS_EVERY:g} s"
        )


async def render(services: Services, watch: HubWatch, tz: tzinfo, *, viewer: Viewer) -> None:
    with theme.frame("Queue", watch):
        view = QueueView(services, tz, viewer=viewer)
        view.build()
        await view.refresh()
        await view.refresh_workers()
