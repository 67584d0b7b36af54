"""The task page's record of what happened (``task_detail.py`` places and feeds them): the attempts
table, the screenshots and traces of every attempt, and the event log (newest first, the last
``LOG_ROWS`` kept)."""

from __future__ import annotations

import uuid
from datetime import tzinfo
from typing import Any

from nicegui import ui

from models.tables import TaskAttempt, TaskEvent
from webapp.pages import theme
from workers.artifacts import Artifact

LOG_ROWS = 500  # events kept on the page; older ones drop off the end
KIND_COLORS = {
    "state": "primary",
    "progress": "cyan-8",
    "log": "grey-7",
    "checkpoint": "amber-9",
    "artifact": "purple-5",
}
ATTEMPT_COLUMNS: list[dict[str, Any]] = [
    {"name": "number", "label": "#", "field": "number", "align": "left"},
    {"name": "worker", "label": "Worker", "field": "worker", "align": "left"},
    {"name": "started", "label": "Started", "field": "started", "align": "left"},
    {"name": "duration", "label": "Took", "field": "duration", "align": "right"},
    {"name": "outcome", "label": "Outcome", "field": "outcome", "align": "left"},
    {"name": "error", "label": "Error", "field": "error", "align": "left", "classes": "whitespace-normal"},
]
SLOT_OUTCOME = """
<q-td :props="props"><q-badge v-if="props.value" outline
  :color="{completed: 'green-7', failed: 'red-7', retrying: 'orange-8',
           cancelled: 'brown-5', unknown: 'purple-8',
           recovered: 'green-7'}[props.value] || 'grey-7'"
  :label="props.value" /></q-td>"""


def artifact_url(task_id: uuid.UUID, name: str) -> str:
    return f"/api/tasks/{task_id}/artifacts/{name}"


class Attempts:
    """The attempts table, newest first."""

    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz
        self.table = (
            ui.table(rows=[], columns=ATTEMPT_COLUMNS, row_key="number")
            .props('flat dense no-data-label="Not run yet" data-testid="attempts"')
            .classes("w-full")
        )
        self.table.add_slot("body-cell-outcome", SLOT_OUTCOME)

    def show(self, attempts: list[TaskAttempt]) -> None:
        rows = []
        for a in reversed(attempts):
            took = (a.finished_at - a.started_at).total_seconds() if a.finished_at else None
            rows.append(
                {
                    "number": a.number,
                    "worker": a.worker_id or "—",
                    "started": theme.fmt_time(a.started_at, self.tz),
                    "duration": f"{took:.1f} s" if took is not None else "running…",
                    "outcome": a.outcome or "",
                    "error": a.error or "",
                }
            )
        if rows != self.table.rows:
            self.table.rows = rows
            self.table.update()


class Gallery:
    """Every attempt's screenshots (a click zooms) and its trace downloads."""

    def __init__(self, task_id: uuid.UUID) -> None:
        self.task_id = task_id
        self.shots = ui.row().classes("w-full gap-3").props('data-testid="gallery"')
        self.traces = ui.row().classes("w-full gap-3 items-center")

    def show(self, found: list[Artifact]) -> None:
        self.shots.clear()
        self.traces.clear()
        shots = [a for a in found if a.kind == "screenshot"]
        traces = [a for a in found if a.kind == "trace"]
        with self.shots:
            if not shots:
                ui.label("No screenshots yet.").classes("text-sm text-grey-6")
            for a in shots:
                url = artifact_url(self.task_id, a.name)
                with (
                    ui.column()
                    .classes("gap-1 items-center cursor-pointer")
                    .on("click", lambda u=url: self._zoom(u))
                ):
                    ui.image(url).classes("w-44 h-28 rounded border object-cover").props("fit=cover")
                    ui.label(f"#{a.attempt} · {(a.step or '').replace('-', ' ')}").classes(
                        "text-xs text-grey-7"
                    )
        with self.traces:
            for a in traces:
                ui.icon("download", size="18px").classes("text-grey-7")
                ui.link(f"Trace of attempt {a.attempt}", artifact_url(self.task_id, a.name)).props(
                    f'download="{a.name}" data-testid="trace"'
                ).classes("text-sm")
            if traces:
                ui.label("open with `playwright show-trace <file>`").classes("text-xs text-grey-6 td-mono")

    def _zoom(self, url: str) -> None:
        with ui.dialog() as dialog, ui.card().classes("p-2 max-w-[95vw]"):
            ui.image(url).classes("w-[90vw] max-w-[1200px]")
        dialog.on("hide", dialog.delete)
        dialog.open()


class EventLog:
    """The task's events, newest first, the last ``LOG_ROWS`` kept."""

    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz
        with ui.scroll_area().classes("w-full h-96 border border-gray-200 rounded"):
            self.rows = ui.column().classes("w-full gap-0").props('data-testid="events"')

    def add(self, ev: TaskEvent) -> None:
        with self.rows:
            row = ui.row().classes(
                "w-full items-center gap-2 px-2 py-1 border-b border-gray-200 text-sm no-wrap"
            )
            with row:
                ui.label(theme.fmt_time(ev.at, self.tz)).classes("td-mono text-xs text-grey-6 shrink-0")
                ui.badge(ev.kind, color=KIND_COLORS.get(ev.kind, "grey")).props("outline").classes("shrink-0")
                if ev.kind == "state" and ev.status:
                    theme.status_badge(ev.status).classes("shrink-0")
                if ev.step and ev.kind != "state":
                    ui.label(ev.step).classes("text-grey-8 shrink-0")
                ui.label(ev.message or "").classes("text-grey-9 ellipsis").tooltip(ev.message or "")
        row.move(target_index=0)  # newest first
        for old in list(self.rows)[LOG_ROWS:]:
            self.rows.remove(old)
