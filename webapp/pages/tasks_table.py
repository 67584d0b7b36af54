"""The tasks table of ``/tasks``: its columns, cell templates and rows, and how it lays out.

Every column but Name has a fixed width (``table-layout: fixed``), so a 200-character name or a
long product URL is cut with an ellipsis (the whole text on hover: a ``title``, which costs
nothing to draw, where a tooltip component per cell made big re-renders slow) instead of pushing Status,
Progress and the row actions off screen, and the columns keep their widths while rows change.
Narrower screens drop the least needed columns first (priority and attempts, then store, last
error and owner, then product and created). Below 600 px the rows become cards (CSS only,
``CSS`` below): name; status, progress and actions; product and created. Nothing scrolls
sideways at phone width.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, tzinfo
from typing import Any

from nicegui import ui

from models.tables import Task
from webapp.pages import offered, theme
from webapp.pages.monitor_cells import monitor_cells
from webapp.pages.server_paging import server_paged


def _column(name: str, label: str, width: str | None, **extra: Any) -> dict[str, Any]:
    style = f"width: {width}" if width else ""
    return {
        "name": name,
        "label": label,
        "field": name,
        "align": "left",
        "headerStyle": style,
        "style": style,
        "classes": f"td-col-{name}",
        "headerClasses": f"td-col-{name}",
        **extra,
    }


COLUMNS: list[dict[str, Any]] = [
    _column("name", "Name", None, sortable=True),  # takes what the others leave
    _column("store", "Store", "80px"),
    _column("product", "Product", "150px"),
    _column("status", "Status", "116px", sortable=True),
    _column("progress", "Progress", "130px"),
    _column("attempts", "Attempts", "88px", align="center"),
    _column("priority", "Priority", "72px", align="right", sortable=True),
    _column("error", "Last error", "140px"),
    _column("created", "Created", "96px", sortable=True),
    _column("actions", "", "104px", align="right"),
]
OWNER_COLUMN = _column("owner", "Owner", "140px")


def columns(*, admin: bool) -> list[dict[str, Any]]:
    return [*COLUMNS[:-1], OWNER_COLUMN, COLUMNS[-1]] if admin else COLUMNS


SLOT_NAME = """
<q-td :props="props">
  <a :href="'/tasks/' + props.row.id" :title="props.value" data-testid="task-name-cell"
    class="td-cut block text-primary font-medium no-underline" @click.stop>{{ props.value }}</a>
</q-td>
"""
SLOT_PRODUCT = """
<q-td :props="props">
  <div class="td-cut" :title="props.value"><span class="td-mono text-xs">{{ props.value }}</span>
    <span v-if="props.row.quantity > 1" class="text-grey-7"> × {{ props.row.quantity }}</span></div>
</q-td>
"""
SLOT_STATUS = f"""
<q-td :props="props">
  <q-badge :color="({theme.STATUS_COLORS_JS})[props.value] || 'grey'" :label="props.value"
    data-testid="status" />
</q-td>
"""
SLOT_PROGRESS = f"""
<q-td :props="props">
  <div class="text-xs text-grey-7 td-cut" data-testid="step">{{{{ props.row.step || '' }}}}</div>
  <q-linear-progress :value="props.value / 100" rounded size="7px" class="q-mt-xs"
    :color="({theme.STATUS_COLORS_JS})[props.row.status] || 'primary'" />
</q-td>
"""
SLOT_ERROR = """
<q-td :props="props">
  <div v-if="props.value" class="text-red-8 td-cut" :title="props.value">{{ props.value }}</div>
  <div v-else-if="props.row.check" class="text-grey-8 td-cut" data-testid="check" :title="props.row.check"
    >{{ props.row.check }}</div>
</q-td>
"""
SLOT_CREATED = """
<q-td :props="props">
  <span class="text-grey-8" data-testid="created" :title="props.row.created_exact">{{ props.value }}</span>
</q-td>
"""
SLOT_ACTIONS = f"""
<q-td :props="props" class="q-pr-md">
  <q-btn v-for="a in props.value.split(',').filter(x => x && x !== 'delete')" :key="a"
    flat dense round size="sm" color="grey-8" :icon="({theme.ACTION_ICONS_JS})[a]" :data-testid="'row-' + a"
    @click.stop="() => emitUp('row_action', {{id: props.row.id, name: props.row.name, action: a}})">
    <q-tooltip>{{{{ (props.row.tips || {{}})[a] || a }}}}</q-tooltip>
  </q-btn>
</q-td>
"""
SLOTS = {  # body cells, compiled once in the browser (``TasksTable``)
    "name": SLOT_NAME,
    "product": SLOT_PRODUCT,
    "status": SLOT_STATUS,
    "progress": SLOT_PROGRESS,
    "error": SLOT_ERROR,
    "created": SLOT_CREATED,
    "actions": SLOT_ACTIONS,
}

CSS = """
<style>
  .td-tasks table { table-layout: fixed; width: 100%; }
  .td-tasks th, .td-tasks td { overflow: hidden; }
  @media (max-width: 1279.98px) {
    .td-tasks .td-col-priority, .td-tasks .td-col-attempts { display: none; }
  }
  @media (max-width: 1023.98px) {
    .td-tasks .td-col-store, .td-tasks .td-col-error, .td-tasks .td-col-owner { display: none; }
  }
  @media (max-width: 799.98px) {
    .td-tasks .td-col-product, .td-tasks .td-col-created { display: none; }
  }
  .td-tasks .q-table th:first-child, .td-tasks .q-table td:first-child { width: 48px; }
  .td-cut { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; max-width: 100%; }
  @media (max-width: 599.98px) {
    .td-tasks .q-table__middle { overflow-x: hidden; }
    .td-tasks table, .td-tasks tbody { display: block; width: 100%; }
    .td-tasks thead { display: none; }
    .td-tasks tbody tr { display: flex; flex-wrap: wrap; align-items: center; height: auto;
                         padding: 8px 4px; border-bottom: 1px solid rgba(0,0,0,.12); }
    .td-tasks tbody td { display: block; height: auto !important; border: 0 !important;
                         padding: 2px 8px !important; width: auto !important; min-width: 0; }
    .td-tasks tbody td:first-child { width: 40px !important; padding: 0 !important; }
    .td-tasks tbody td.td-col-name { flex: 1 1 calc(100% - 48px); min-width: 0; }
    .td-tasks tbody td.td-col-status { order: 2; padding-left: 48px !important; }
    .td-tasks tbody td.td-col-progress { order: 3; flex: 1 1 0; }
    .td-tasks tbody td.td-col-actions { order: 4; }
    .td-tasks tbody td.td-col-product { display: block; order: 5; flex: 1 1 60%;
                                        padding-left: 48px !important; }
    .td-tasks tbody td.td-col-created { display: block; order: 6; }
    .td-tasks tbody td.td-col-store, .td-tasks tbody td.td-col-attempts,
    .td-tasks tbody td.td-col-priority, .td-tasks tbody td.td-col-error,
    .td-tasks tbody td.td-col-owner { display: none; }
    .td-tasks .q-table__bottom { flex-wrap: wrap; padding: 4px 8px; }
    .td-filters > .q-field { width: calc(50% - 4px) !important; }
    .td-filters > .q-field.td-search { width: 100% !important; }
  }
</style>
"""


class TasksTable(ui.table, component="tasks_table.js"):
    """``ui.table`` whose body cells (``SLOTS``) are compiled once in the browser: a slot added with
    ``add_slot`` is a new Vue component on every render, so any change on the page re-created every
    cell of every row. A cell emits to the table's listeners with ``emitUp(event, args)``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._props["cells"] = {f"body-cell-{name}": slot for name, slot in SLOTS.items()}
        server_paged(self)  # paged with ``request``: no echo of its pagination on mount


def legal_actions(status: str, *, was_started: bool = True) -> str:
    """The row's actions (``webapp.pages.offered``: one clear one per state)."""
    return ",".join(offered.offered(status, was_started=was_started))


def task_row(
    task: Task, tz: tzinfo, owners: dict[uuid.UUID, str] | None = None, *, now: datetime | None = None
) -> dict[str, Any]:
    return {
        "id": str(task.id),
        "owner": (owners or {}).get(task.owner_id, "—") if task.owner_id else "—",
        "name": task.name,
        "store": task.store,
        "product": task.product,
        "quantity": task.quantity,
        "status": task.status,
        "progress": task.progress,
        "step": task.step or "",
        "attempt": task.run_attempt,  # of the current run: a retry starts over at 1 of the budget
        "max_attempts": task.budget,
        "attempts": f"{task.run_attempt}/{task.budget}",
        "priority": task.priority,
        "error": " ".join((task.error or "").split()),
        "created": theme.fmt_ago(task.created_at, now or datetime.now(UTC)),
        "created_exact": theme.fmt_exact(task.created_at, tz),
        "actions": legal_actions(task.status, was_started=offered.started(task)),
        **monitor_cells(task, tz),  # a monitor's checks, last result, next check
        "tips": offered.tips(task.status, was_started=offered.started(task)),
        "was_started": offered.started(task),
    }
