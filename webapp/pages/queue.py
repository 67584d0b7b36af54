"""``/queue``: how many tasks are in each state, whether processing is paused, charts over
1 h / 24 h / 7 d (``queue_charts``), and the workers with their browsers' memory.

Live: a state change (from ``hub.changes``) asks for one throttled re-read of the counts, the
charts and the workers together (at most one a second), so the state cards and the workers'
running tasks never disagree; ``hub.resync`` too. Worker heart-beats and queue holds write no
event, so a ``ui.timer`` also re-reads the workers card and the pause panel every 5 seconds.

Counts and charts are the viewer's tasks (an admin's: everyone's), read through the read layer
like ``/api/queue``; the pause buttons are an admin's (``queue_pause``).
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from nicegui import ui

from models import queries
from models.access import Viewer
from models.states import TaskStatus
from models.tables import Worker
from webapp.pages import empty, theme
from webapp.pages.queue_charts import QueueCharts
from webapp.pages.queue_pause import PausePanel
from webapp.pages.updates import HubWatch, Throttle, reread_on_state_changes
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
    {"name": "memory", "label": "Browser memory", "field": "memory", "align": "right"},
    {"name": "started", "label": "Started", "field": "started", "align": "left"},
    {"name": "last_seen", "label": "Heartbeat", "field": "last_seen", "align": "left"},
]
WORKER_STATUS_SLOT = """
<q-td :props="props">
  <q-badge :color="{up: 'green-7', stopping: 'orange-8', gone: 'grey-6'}[props.value] || 'grey'"
    :label="props.value" /></q-td>
"""


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
        "memory": f"{w.browser_memory_mb:.0f} MB · {w.browser_contexts} open"
        if w.browser_memory_mb is not None
        else "—",
        **theme.when("started", w.started_at, tz),
        **theme.when("last_seen", w.last_seen, tz),
    }


class QueueView:
    def __init__(self, services: Services, tz: tzinfo, *, viewer: Viewer) -> None:
        self.services = services
        self.tz = tz
        self.viewer = viewer
        self.counts: dict[str, ui.label] = {}
        self.pause = PausePanel(services, viewer=viewer)
        self.charts = QueueCharts(services, tz, viewer=viewer)
        self.refresher = Throttle(self.refresh, interval=1.0)

    def build(self) -> None:
        ui.label("Queue").classes("text-2xl font-semibold text-grey-10")
        self.pause.build()
        with ui.grid().classes("w-full gap-3 grid-cols-2 sm:grid-cols-3 md:grid-cols-5 xl:grid-cols-9"):
            for status in S:
                color = theme.STATUS_COLORS[status]
                with (
                    ui.link(target=f"/tasks?status={status}").classes("no-underline"),
                    theme.card().classes(remove="p-4 gap-3", add="p-0 gap-0 overflow-hidden hover:shadow-md"),
                ):
                    ui.element("div").classes(f"w-full h-1 bg-{color}")
                    with ui.column().classes("p-3 gap-1"):
                        with ui.row().classes("items-center gap-1 no-wrap min-w-0"):
                            ui.icon(theme.STATUS_ICONS[status], size="18px", color=color)
                            # may wrap after "_" (a zero-width space), never cut
                            ui.label(status.replace("_", "_\u200b")).classes(
                                "text-xs uppercase tracking-wide text-grey-7 [overflow-wrap:anywhere]"
                            )
                        self.counts[status] = (
                            ui.label("0")
                            .classes("text-2xl font-semibold text-grey-10")
                            .props(f'data-testid="count-{status}"')
                        )
        self.charts.build()
        with theme.card("Workers", icon="dns"):
            self.workers = (
                ui.table(rows=[], columns=WORKER_COLUMNS, row_key="id")
                .props('flat dense no-data-label="No workers have reported yet" data-testid="workers"')
                .classes("w-full")
            )
            self.workers.add_slot("body-cell-status", WORKER_STATUS_SLOT)
            for name in ("started", "last_seen"):
                self.workers.add_slot(f"body-cell-{name}", theme.when_slot(name))
            empty.on_table(
                self.workers,
                icon="dns",
                text="No workers have reported yet — start one: python -m workers run",
            )
            self.workers_note = ui.label("").classes("text-xs text-grey-6")
        # heart-beats and holds write no event: the workers card and the pause panel are also
        # re-read on a timer; a state change re-reads the counts, the charts and the workers together
        ui.timer(WORKERS_EVERY, self.refresh_workers)
        ui.timer(WORKERS_EVERY, self.pause.refresh)
        reread_on_state_changes(self.services.hub, self.viewer, self.refresher)

    async def refresh(self) -> None:
        """Counts, charts and the workers' running tasks from one moment: no card lags another."""
        async with self.services.db.session() as session:
            counts = await queries.status_counts(session, viewer=self.viewer)
        for status, label in self.counts.items():
            label.set_text(str(counts.get(status, 0)))
        await self.refresh_workers()
        await self.charts.refresh()

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
        await view.pause.refresh()
