"""``/tasks``: every task, filtered by state and text, paged on the server, live.

Live: each batch from ``hub.changes`` updates the rows it concerns in place (status, progress,
step, attempts); a state change anywhere (a task created, moved, deleted) also asks for one
throttled re-read of the current page and the counts (at most four per second), since it may
change which tasks belong on this page. ``hub.resync`` re-reads at once. No timers, no reloads.

The page shows its viewer's tasks (``models.queries``) and hears only their changes; an admin
sees everyone's, with an Owner column and an owner filter.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import tzinfo
from typing import Any
from urllib.parse import urlencode

from nicegui import events, ui
from sqlalchemy.ext.asyncio import AsyncSession

from models import queries
from models.access import Viewer
from models.states import TaskStatus
from models.tables import Task
from webapp.pages import actions, offered, theme
from webapp.pages.monitor_cells import monitor_cells
from webapp.pages.task_form import NewTaskDialog
from webapp.pages.updates import HubWatch, Throttle
from webapp.services import Services
from workers.bots import registry

S = TaskStatus
PAGE_SIZES = [10, 25, 50, 100]
BULK = ("start", "pause", "resume", "cancel", "retry", "delete")
SORTABLE = {"name": "name", "status": "status", "priority": "priority", "created": "created"}

COLUMNS: list[dict[str, Any]] = [
    {"name": "name", "label": "Name", "field": "name", "align": "left", "sortable": True},
    {"name": "store", "label": "Store", "field": "store", "align": "left"},
    {"name": "product", "label": "Product", "field": "product", "align": "left"},
    {"name": "status", "label": "Status", "field": "status", "align": "left", "sortable": True},
    {"name": "progress", "label": "Progress", "field": "progress", "align": "left"},
    {"name": "attempts", "label": "Attempts", "field": "attempts", "align": "center"},
    {"name": "priority", "label": "Priority", "field": "priority", "align": "right", "sortable": True},
    {"name": "error", "label": "Last error", "field": "error", "align": "left"},
    {"name": "created", "label": "Created", "field": "created", "align": "left", "sortable": True},
    {"name": "actions", "label": "", "field": "actions", "align": "right"},
]
OWNER_COLUMN: dict[str, Any] = {"name": "owner", "label": "Owner", "field": "owner", "align": "left"}
EVERYONE = ""  # the owner filter's value for "all users"

SLOT_NAME = """
<q-td :props="props">
  <a :href="'/tasks/' + props.row.id" class="text-primary font-medium no-underline" @click.stop
    >{{ props.value }}</a>
</q-td>
"""
SLOT_PRODUCT = """
<q-td :props="props"><span class="td-mono text-xs">{{ props.value }}</span>
  <span v-if="props.row.quantity > 1" class="text-grey-7"> × {{ props.row.quantity }}</span></q-td>
"""
SLOT_STATUS = f"""
<q-td :props="props">
  <q-badge :color="({theme.STATUS_COLORS_JS})[props.value] || 'grey'" :label="props.value"
    data-testid="status" />
</q-td>
"""
SLOT_PROGRESS = f"""
<q-td :props="props" style="min-width: 140px">
  <div class="text-xs text-grey-7 ellipsis" style="max-width: 140px" data-testid="step"
    >{{{{ props.row.step || '' }}}}</div>
  <q-linear-progress :value="props.value / 100" rounded size="7px" class="q-mt-xs"
    :color="({theme.STATUS_COLORS_JS})[props.row.status] || 'primary'" />
</q-td>
"""
SLOT_ERROR = """
<q-td :props="props" style="max-width: 220px">
  <div v-if="props.value" class="text-red-8 ellipsis">{{ props.row.error_short }}
    <q-tooltip max-width="480px" class="text-body2">{{ props.value }}</q-tooltip>
  </div>
  <div v-else-if="props.row.check" class="text-grey-8 ellipsis" data-testid="check"
    >{{ props.row.check }}</div>
</q-td>
"""
SLOT_ACTIONS = f"""
<q-td :props="props" auto-width class="q-pr-md">
  <q-btn v-for="a in props.value.split(',').filter(x => x && x !== 'delete')" :key="a"
    flat dense round size="sm" color="grey-8" :icon="({theme.ACTION_ICONS_JS})[a]" :data-testid="'row-' + a"
    @click.stop="() => $parent.$emit('row_action', {{id: props.row.id, name: props.row.name, action: a}})">
    <q-tooltip>{{{{ (props.row.tips || {{}})[a] || a }}}}</q-tooltip>
  </q-btn>
</q-td>
"""


def legal_actions(status: str, *, was_started: bool = True) -> str:
    """The row's actions (``webapp.pages.offered``: one clear one per state)."""
    return ",".join(offered.offered(status, was_started=was_started))


def task_row(task: Task, tz: tzinfo, owners: dict[uuid.UUID, str] | None = None) -> dict[str, Any]:
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
        "attempt": task.attempt,
        "max_attempts": task.max_attempts,
        "attempts": f"{task.attempt}/{task.max_attempts}",
        "priority": task.priority,
        "error": task.error or "",
        "error_short": theme.truncate(task.error, 40),
        "created": theme.fmt_time(task.created_at, tz),
        "actions": legal_actions(task.status, was_started=offered.started(task)),
        "tips": offered.tips(task.status, was_started=offered.started(task)),
        "was_started": offered.started(task),
        **monitor_cells(task, tz),  # checks, last result, next check
    }


class TasksView:
    def __init__(
        self, services: Services, tz: tzinfo, *, viewer: Viewer, status: str | None, search: str
    ) -> None:
        self.services = services
        self.tz = tz
        self.viewer = viewer
        self.owner: uuid.UUID | None = None  # an admin's owner filter
        self.owners: dict[uuid.UUID, str] = {}
        self.status = status if status in {s.value for s in S} else None
        self.search = search.strip()
        self.pagination: dict[str, Any] = {
            "page": 1,
            "rowsPerPage": 25,
            "sortBy": "created",
            "descending": True,
            "rowsNumber": 0,
        }
        self.chips: dict[str | None, ui.chip] = {}
        self.counts: dict[str, int] = {}
        self.refresher = Throttle(self.refresh, interval=0.25)

    # ---- layout ---------------------------------------------------------------------------

    def build(self, stores: list[str]) -> None:
        self.dialog = NewTaskDialog(
            self.services, self.tz, viewer=self.viewer, stores=stores, on_created=self._created
        )
        with ui.row().classes("w-full items-end justify-between"):
            with ui.column().classes("gap-0"):
                ui.label("Tasks").classes("text-2xl font-semibold text-grey-10")
                self.summary = ui.label("").classes("text-sm text-grey-7")
            ui.button("New task", icon="add", on_click=self.dialog.open).props(
                'unelevated data-testid="new-task"'
            )
        self.doubt = (
            ui.row()
            .classes("w-full items-center gap-3 p-3 rounded bg-purple-1 text-purple-10 cursor-pointer")
            .props('data-testid="unknown-alert"')
            .on("click", self._show_unknown)
        )
        with self.doubt:
            ui.icon("help", size="28px").classes("text-purple-8")
            self.doubt_label = ui.label("").classes("text-base font-semibold")
            ui.label(f"{theme.DOUBT_TEXT}; open each to mark it bought or not bought.").classes("text-sm")
        self.doubt.set_visibility(False)
        with ui.row().classes("w-full gap-1 items-center"):
            for status in (None, *S):
                chip = ui.chip("", on_click=lambda s=status: self.set_status(s)).props(
                    f'clickable data-testid="chip-{status or "all"}"'
                )
                self.chips[status] = chip
            self._style_chips()
        with theme.card().classes(remove="p-4 gap-3", add="p-0 gap-0"):
            with ui.row().classes("w-full items-center gap-3 px-4 py-3"):
                search = ui.input(
                    placeholder="Search name or product", value=self.search, on_change=self._search
                )
                search.props('dense outlined clearable debounce=250 data-testid="search"').classes("w-72")
                with search.add_slot("prepend"):
                    ui.icon("search", size="20px")
                if self.viewer.is_admin:
                    self.owner_select = (
                        ui.select(
                            {EVERYONE: "Everyone"}, value=EVERYONE, label="Owner", on_change=self._owner
                        )
                        .props('dense outlined data-testid="owner-filter"')
                        .classes("w-56")
                    )
                ui.space()
                self.selected_label = ui.label("").classes("text-sm text-grey-7")
                self.bulk: list[ui.button] = []
                with ui.row().classes("gap-1"):
                    for action in BULK:
                        button = (
                            ui.button(
                                action.capitalize(),
                                icon=theme.ACTION_ICONS[action],
                                on_click=lambda a=action: self.bulk_action(a),
                            )
                            .props(
                                f'flat no-caps dense size=sm data-testid="bulk-{action}"'
                                + (" color=negative" if action in ("cancel", "delete") else "")
                            )
                            .classes("px-2")
                        )
                        button.disable()
                        self.bulk.append(button)
            self.table = (
                ui.table(
                    rows=[],
                    columns=[*COLUMNS[:-1], OWNER_COLUMN, COLUMNS[-1]] if self.viewer.is_admin else COLUMNS,
                    row_key="id",
                    selection="multiple",
                    pagination=self.pagination,
                )
                .classes("w-full td-table")
                .props(
                    f'flat square :rows-per-page-options="{PAGE_SIZES}" no-data-label="No tasks here yet" '
                    'data-testid="tasks-table"'
                )
            )
        for name, slot in (
            ("name", SLOT_NAME),
            ("product", SLOT_PRODUCT),
            ("status", SLOT_STATUS),
            ("progress", SLOT_PROGRESS),
            ("error", SLOT_ERROR),
            ("actions", SLOT_ACTIONS),
        ):
            self.table.add_slot(f"body-cell-{name}", slot)
        self.table.on("request", self._request, js_handler="(p) => emit(p.pagination)")
        self.table.on("row_action", self._row_action)
        self.table.on_select(self._selection)
        self.table.on(
            "rowClick",
            js_handler="(evt, row) => { if (!evt.target.closest('.q-checkbox, .q-btn, a')) "
            "window.location.href = '/tasks/' + row.id }",
        )
        self.services.hub.subscribe(self.viewer, self.on_changes)
        self.services.hub.resync.subscribe(self.refresher.trigger)

    def _style_chips(self) -> None:
        counts = self.counts
        total = sum(counts.values())
        for status, chip in self.chips.items():
            n = total if status is None else counts.get(status, 0)
            chip.set_text(f"{status or 'all'}  {n}")
            color = "primary" if status is None else theme.STATUS_COLORS[status]
            if status == self.status:
                chip.props(f"color={color} text-color=white", remove="outline")
            else:
                chip.props(f"outline color={color} text-color={color}")

    # ---- reading --------------------------------------------------------------------------

    async def refresh(self) -> None:
        p = self.pagination
        size = int(p.get("rowsPerPage") or 25)
        sort = SORTABLE.get(p.get("sortBy") or "created", "created")
        order = f"-{sort}" if p.get("descending") else sort
        async with self.services.db.session() as session:
            counts = await queries.status_counts(session, viewer=self.viewer, owner=self.owner)
            rows, count = await self._page(session, size, int(p.get("page") or 1), order)
            last_page = max(1, -(-count // size))
            if int(p.get("page") or 1) > last_page:  # the page emptied (deletes, filter): go to the last one
                p["page"] = last_page
                rows, count = await self._page(session, size, last_page, order)
            if self.viewer.is_admin:
                self.owners = await queries.owner_emails(session, viewer=self.viewer)
        p["rowsNumber"] = count
        self.table.pagination = dict(p)
        self.table.rows = [task_row(t, self.tz, self.owners) for t in rows]
        if self.viewer.is_admin:
            options = {EVERYONE: "Everyone"} | {str(i): email for i, email in self.owners.items()}
            self.owner_select.set_options(options, value=self.owner_select.value)
        shown = {r["id"] for r in self.table.rows}
        self.table.selected = [r for r in self.table.selected if r["id"] in shown]
        self.table.update()
        self._selection()
        self.counts = counts
        self._style_chips()
        total = sum(counts.values())
        active = counts.get(S.RUNNING, 0) + counts.get(S.QUEUED, 0)
        doubt = counts.get(S.UNKNOWN, 0)
        self.summary.set_text(
            f"{total} tasks · {counts.get(S.RUNNING, 0)} running · {active} active"
            + (f" · {doubt} unknown" if doubt else "")
        )
        self.doubt_label.set_text(f"{doubt} task{'s' if doubt != 1 else ''} in doubt")
        self.doubt.set_visibility(doubt > 0)

    async def _page(self, session: AsyncSession, size: int, page: int, order: str) -> tuple[list[Task], int]:
        return await queries.list_tasks(
            session,
            viewer=self.viewer,
            owner=self.owner,
            statuses=[self.status] if self.status else (),
            search=self.search or None,
            limit=size,
            offset=(page - 1) * size,
            order=order,
        )

    # ---- live -----------------------------------------------------------------------------

    def on_changes(self, batch: list[dict[str, Any]]) -> None:
        rows = {row["id"]: row for row in self.table.rows}
        changed = False
        reread = False
        for payload in batch:
            kind = payload.get("kind")
            if kind in ("state", "deleted"):
                reread = True
            row = rows.get(payload.get("task", ""))
            if row is None or kind not in ("state", "progress"):
                continue
            status = payload.get("status")
            if status and status != row["status"]:
                if status == S.RUNNING:  # a claim always uses an attempt
                    row["attempt"] = min(row["attempt"] + 1, row["max_attempts"])
                    row["attempts"] = f"{row['attempt']}/{row['max_attempts']}"
                row["status"] = status
                row["was_started"] = row.get("was_started") or status not in (S.PENDING, S.PAUSED)
                row["actions"] = legal_actions(status, was_started=row["was_started"])
                row["tips"] = offered.tips(status, was_started=row["was_started"])
            if payload.get("progress") is not None:
                row["progress"] = payload["progress"]
            if kind == "progress" or status == S.RUNNING:
                row["step"] = payload.get("step") or ""
            changed = True
        if changed:
            self.table.update()
        if reread:
            self.refresher.trigger()

    # ---- user input -----------------------------------------------------------------------

    def _show_unknown(self) -> None:
        if self.status != S.UNKNOWN:
            self.set_status(S.UNKNOWN.value)

    def set_status(self, status: str | None) -> None:
        self.status = None if status == self.status else status
        self.pagination["page"] = 1
        self._push_url()
        self._style_chips()
        self.refresher.trigger()

    def _search(self, e: events.ValueChangeEventArguments) -> None:
        self.search = (e.value or "").strip()
        self.pagination["page"] = 1
        self._push_url()
        self.refresher.trigger()

    def _owner(self, e: events.ValueChangeEventArguments) -> None:
        self.owner = uuid.UUID(e.value) if e.value else None
        self.pagination["page"] = 1
        self.refresher.trigger()

    def _push_url(self) -> None:
        query = {k: v for k, v in (("status", self.status), ("q", self.search)) if v}
        ui.navigate.history.replace("/tasks" + (f"?{urlencode(query)}" if query else ""))

    async def _request(self, e: events.GenericEventArguments) -> None:
        self.pagination.update({k: e.args.get(k) for k in ("page", "rowsPerPage", "sortBy", "descending")})
        if not self.pagination.get("sortBy"):
            self.pagination.update(sortBy="created", descending=True)
        await self.refresh()

    def _selection(self, _: Any = None) -> None:
        n = len(self.table.selected)
        self.selected_label.set_text(f"{n} selected" if n else "")
        for button in self.bulk:
            button.set_enabled(bool(n))

    async def _row_action(self, e: events.GenericEventArguments) -> None:
        outcome = await actions.run_action(
            self.services,
            uuid.UUID(e.args["id"]),
            e.args["action"],
            viewer=self.viewer,
            name=e.args.get("name", ""),
        )
        actions.report([outcome], e.args["action"])
        self.refresher.trigger()

    async def bulk_action(self, action: str) -> None:
        targets = [(uuid.UUID(r["id"]), r["name"]) for r in self.table.selected]
        if not targets:
            return
        if action == "delete" and not await confirm(f"Delete {len(targets)} task(s)? This cannot be undone."):
            return
        outcomes = await actions.run_bulk(self.services, targets, action, viewer=self.viewer)
        actions.report(outcomes, action)
        self.table.selected = []
        self._selection()
        self.refresher.trigger()

    async def _created(self, task: Task) -> None:
        self.refresher.trigger()


async def confirm(question: str) -> bool:
    with ui.dialog() as dialog, ui.card().classes("p-5"):
        ui.label(question)
        with ui.row().classes("w-full justify-end"):
            ui.button("Cancel", on_click=lambda: dialog.submit(False)).props("flat")
            ui.button("Delete", on_click=lambda: dialog.submit(True)).props(
                'color=negative data-testid="confirm"'
            )
    result = await dialog
    dialog.delete()
    return bool(result)


async def render(
    services: Services, watch: HubWatch, tz: tzinfo, *, viewer: Viewer, status: str | None, search: str
) -> None:
    stores = await asyncio.to_thread(registry.names)  # the first call scans entry points
    with theme.frame("Tasks", watch):
        view = TasksView(services, tz, viewer=viewer, status=status, search=search)
        view.build(stores)
        await view.refresh()
