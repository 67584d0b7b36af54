"""``/tasks``: every task, filtered, searched, sorted and paged on the server, live.

The view lives in the URL (``tasks_filters.TasksQuery``): state chips, the filter bar, sort, page
and page size are written back with every change, so a reload or a shared link opens the same
view. The table's layout is ``tasks_table``'s; bulk actions and "select all matching" are
``tasks_bulk``'s.

Live (``tasks_live``): each batch from ``hub.changes`` updates the rows it concerns in place and
sends only their changed cells; the counts, a row that settled, and the whole page (only when
the set of tasks on it may change) are re-read, throttled. ``hub.resync`` re-reads everything.
No timers, no reloads.

The page shows its viewer's tasks (``models.queries``) and hears only their changes; an admin
sees everyone's, with an Owner column and an owner filter.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any

from nicegui import events, ui
from sqlalchemy.ext.asyncio import AsyncSession

from models import queries
from models.access import Viewer
from models.states import WAITING, TaskStatus
from models.tables import Task
from webapp.pages import actions, empty, tasks_live, tasks_table, theme
from webapp.pages.task_form import NewTaskDialog, offered_stores
from webapp.pages.tasks_bulk import BulkBar
from webapp.pages.tasks_filters import PAGE_SIZES, FilterBar, TasksQuery
from webapp.pages.updates import HubWatch, Throttle
from webapp.services import Services
from workers.bots import registry

S = TaskStatus
HEARD = 1000  # recent payloads kept to replay onto rows read while they arrived
COUNTED = "Running: a worker has it now. Queued: waiting for a free worker. Waiting: pending, " + (
    "scheduled, retrying or paused — not in the queue yet."
)


class TasksView:
    def __init__(self, services: Services, tz: tzinfo, *, viewer: Viewer, query: TasksQuery) -> None:
        self.services = services
        self.tz = tz
        self.viewer = viewer
        self.query = query
        self.owners: dict[uuid.UUID, str] = {}
        self.chips: dict[str | None, ui.chip] = {}
        self.counts: dict[str, int] = {}
        self.empty_filtered: bool | None = None  # which empty state the table has
        self.refresher = Throttle(self.refresh, interval=0.25)  # the whole page
        self.counter = Throttle(self.refresh_counts, interval=0.5)  # chips and summary
        self.row_reader = Throttle(self._reread_rows, interval=0.25)  # rows that settled
        self._stale: set[str] = set()  # shown rows to read again
        self._stamp = 0  # orders the browser's row patches against whole-table updates
        self._seq = 0  # payloads heard so far; ``_heard`` keeps the recent ones
        self._heard: deque[tuple[int, dict[str, Any]]] = deque(maxlen=HEARD)

    # ---- layout ---------------------------------------------------------------------------

    def build(self, stores: list[str]) -> None:
        ui.add_head_html(tasks_table.CSS)
        self.dialog = NewTaskDialog(
            self.services, self.tz, viewer=self.viewer, stores=stores, on_created=self._created
        )
        with ui.row().classes("w-full items-end justify-between"):
            with ui.column().classes("gap-0"):
                ui.label("Tasks").classes("text-2xl font-semibold text-grey-10")
                self.summary = ui.label("").classes("text-sm text-grey-7").props('data-testid="summary"')
                with self.summary:
                    ui.tooltip(COUNTED)
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
        with theme.card().classes(remove="p-4 gap-3", add="p-0 gap-0 td-tasks"):
            with ui.column().classes("w-full px-4 py-3 gap-2"):
                self.filters = FilterBar(self.query, self._filtered, admin=self.viewer.is_admin)
                with ui.row().classes("w-full items-center justify-end gap-3"):
                    self.bulk = BulkBar(
                        self.services,
                        viewer=self.viewer,
                        selected=lambda: [(uuid.UUID(r["id"]), r["name"]) for r in self.table.selected],
                        where=lambda: self.query.where(self.tz),
                        done=self._after_bulk,
                    )
            self.bulk.build_banner()
            self.table = (
                tasks_table.TasksTable(
                    rows=[],
                    columns=tasks_table.columns(admin=self.viewer.is_admin),
                    row_key="id",
                    selection="multiple",
                    pagination=self._pagination(0),
                )
                .classes("w-full td-table")
                .props(
                    f'flat square :rows-per-page-options="{PAGE_SIZES}" no-data-label="No tasks here yet" '
                    'data-testid="tasks-table"'
                )
            )
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

    def _pagination(self, count: int) -> dict[str, Any]:
        q = self.query
        return {
            "page": q.page,
            "rowsPerPage": q.size,
            "sortBy": q.sort,
            "descending": q.descending,
            "rowsNumber": count,
        }

    def _style_chips(self) -> None:
        counts = self.counts
        total = sum(counts.values())
        for status, chip in self.chips.items():
            n = total if status is None else counts.get(status, 0)
            chip.set_text(f"{status or 'all'}  {n}")
            color = "primary" if status is None else theme.STATUS_COLORS[status]
            if status == self.query.status:
                chip.props(f"color={color} text-color=white", remove="outline")
            else:
                chip.props(f"outline color={color} text-color={color}")

    # ---- reading --------------------------------------------------------------------------

    async def refresh(self) -> None:
        q = self.query
        where = q.where(self.tz)
        since = self._seq
        async with self.services.db.session() as session:
            counts = await queries.status_counts(session, viewer=self.viewer, owner=q.owner)
            rows, count = await self._page(session, where, q.page)
            last_page = max(1, -(-count // q.size))
            if q.page > last_page:  # the page emptied (deletes, filter): go to the last one
                self._set_query(q.changed(page=last_page))
                rows, count = await self._page(session, where, last_page)
            stores = await queries.task_stores(session, viewer=self.viewer)
            workers = await queries.task_workers(session, viewer=self.viewer)
            if self.viewer.is_admin:
                self.owners = await queries.owner_emails(session, viewer=self.viewer)
        self.table.pagination = self._pagination(count)
        now = datetime.now(UTC)
        self._stamp += 1
        fresh = [{**tasks_table.task_row(t, self.tz, self.owners, now=now), "v": self._stamp} for t in rows]
        self._replay({r["id"]: r for r in fresh}, since)
        self._stale.clear()
        self.table.rows = fresh
        known = sorted({*stores, *offered_stores(self.services.settings, registry.names())})
        self.filters.set_choices(
            stores=known, workers=workers, owners={str(i): email for i, email in self.owners.items()}
        )
        shown = {r["id"] for r in self.table.rows}
        if self.bulk.all_matching:  # every matching task stays selected, this page's rows too
            self.table.selected = list(self.table.rows)
        else:
            self.table.selected = [r for r in self.table.selected if r["id"] in shown]
        self.table.update()
        self._selection(matching=count)
        self._show_counts(counts)

    async def refresh_counts(self) -> None:
        async with self.services.db.session() as session:
            counts = await queries.status_counts(session, viewer=self.viewer, owner=self.query.owner)
        self._show_counts(counts)

    def _show_counts(self, counts: dict[str, int]) -> None:
        if counts == self.counts and self.empty_filtered is not None:
            return
        self.counts = counts
        self._style_chips()
        total = sum(counts.values())
        self._empty_state(filtered=total > 0)
        waiting = sum(counts.get(s, 0) for s in WAITING)
        doubt = counts.get(S.UNKNOWN, 0)
        self.summary.set_text(
            f"{theme.plural(total, 'task')} · {counts.get(S.RUNNING, 0)} running · "
            f"{counts.get(S.QUEUED, 0)} queued · {waiting} waiting" + (f" · {doubt} unknown" if doubt else "")
        )
        self.doubt_label.set_text(f"{theme.plural(doubt, 'task')} in doubt")
        self.doubt.set_visibility(doubt > 0)

    def _empty_state(self, *, filtered: bool) -> None:
        """What an empty table says, and its next step: make a task, or loosen the filters."""
        if filtered == self.empty_filtered:
            return
        self.empty_filtered = filtered
        if filtered:
            empty.on_table(
                self.table,
                icon="filter_alt_off",
                text="No tasks match these filters",
                action="Clear filters",
                click="clear-filters",
            )
        else:
            empty.on_table(
                self.table,
                icon="list_alt",
                text="No tasks here yet",
                action="Create a task",
                click="new-task",
            )

    async def _page(
        self, session: AsyncSession, where: queries.TaskFilter, page: int
    ) -> tuple[list[Task], int]:
        size = self.query.size
        return await queries.list_tasks(
            session,
            viewer=self.viewer,
            where=where,
            limit=size,
            offset=(page - 1) * size,
            order=self.query.order,
        )

    # ---- live -----------------------------------------------------------------------------

    def on_changes(self, batch: list[dict[str, Any]]) -> None:
        rows = {row["id"]: row for row in self.table.rows}
        patches: dict[str, dict[str, Any]] = {}
        page = counts = False
        follows_runs = tasks_live.follows_runs(self.query)
        for payload in batch:
            kind = payload.get("kind")
            task_id = payload.get("task", "")
            row = rows.get(task_id)
            if kind == "deleted" or payload.get("created"):
                page = True  # the set of tasks on this page may change
            elif kind == "edit" and row is not None:
                page = True  # an edit's new fields are not in its payload
            elif kind == "state":
                counts = True
                page = page or follows_runs
            if kind not in ("state", "progress"):
                continue
            self._seq += 1
            self._heard.append((self._seq, payload))
            if row is None:
                continue
            with self.table.props.suspend_updates():  # the patch below sends this row's cells only
                changed = tasks_live.apply_change(row, payload)
            if changed:
                patches.setdefault(task_id, {}).update(changed)
            if tasks_live.settled(payload):
                self._stale.add(task_id)
        if patches:
            self._stamp += 1
            tasks_live.patch_rows(self.table, patches, self._stamp)
        if self.bulk.busy:  # after the page's own bulk action: one re-read when it is done
            return
        if page:
            self.refresher.trigger()
        else:
            if counts:
                self.counter.trigger()
            if self._stale:
                self.row_reader.trigger()

    async def _reread_rows(self) -> None:
        """Read the shown rows that settled again (their error, attempts, a monitor's checks)."""
        rows = {row["id"]: row for row in self.table.rows}
        ids, self._stale = self._stale & rows.keys(), set()
        if not ids:
            return
        since = self._seq
        async with self.services.db.session() as session:
            tasks = await queries.get_tasks(session, [uuid.UUID(i) for i in ids], viewer=self.viewer)
        now = datetime.now(UTC)
        fresh = {str(t.id): tasks_table.task_row(t, self.tz, self.owners, now=now) for t in tasks}
        self._replay(fresh, since)
        rows = {row["id"]: row for row in self.table.rows}  # a whole re-read may have replaced them
        patches: dict[str, dict[str, Any]] = {}
        for task_id, new in fresh.items():
            row = rows.get(task_id)
            if row is None:
                continue
            changed = {k: v for k, v in new.items() if row.get(k) != v}
            with self.table.props.suspend_updates():
                row.update(changed)
            if changed:
                patches[task_id] = changed
        if patches:
            self._stamp += 1
            tasks_live.patch_rows(self.table, patches, self._stamp)

    def _replay(self, rows: dict[str, dict[str, Any]], since: int) -> None:
        """Apply the payloads heard after ``since`` (while ``rows`` were being read) to them: the
        read may predate them. When some were already forgotten, read the page once more."""
        if self._heard and self._heard[0][0] > since + 1:
            self.refresher.trigger()
        for seq, payload in self._heard:
            if seq > since and (row := rows.get(payload.get("task", ""))) is not None:
                tasks_live.apply_change(row, payload)

    # ---- user input -----------------------------------------------------------------------

    def _set_query(self, query: TasksQuery) -> None:
        """The new view, written to the address bar (a reload or a shared link opens it again)."""
        if query != self.query:
            self.query = query
            self.filters.query = query
            ui.navigate.history.replace(query.url())

    def _filtered(self, query: TasksQuery) -> None:
        self.bulk.reset()
        self._set_query(query)
        self.refresher.trigger()

    def _show_unknown(self) -> None:
        if self.query.status != S.UNKNOWN:
            self.set_status(S.UNKNOWN.value)

    def set_status(self, status: str | None) -> None:
        self._filtered(self.query.changed(status=None if status == self.query.status else status))
        self._style_chips()

    async def _request(self, e: events.GenericEventArguments) -> None:
        args = e.args
        sort = args.get("sortBy") or "created"
        descending = bool(args.get("descending")) if args.get("sortBy") else True
        size = int(args.get("rowsPerPage") or self.query.size)
        page = int(args.get("page") or 1)
        if size not in PAGE_SIZES:  # "All" (0) is not offered; anything else falls back
            size = self.query.size
        self._set_query(self.query.changed(sort=sort, descending=descending, size=size, page=page))
        await self.refresh()

    def _selection(self, _: Any = None, *, matching: int | None = None) -> None:
        count = matching if matching is not None else int(self.table.pagination.get("rowsNumber") or 0)
        self.bulk.show(ticked=len(self.table.selected), on_page=len(self.table.rows), matching=count)

    async def _after_bulk(self) -> None:
        self.table.selected = []
        self.bulk.reset()
        self._selection()
        self.refresher.trigger()

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

    async def _created(self, task: Task) -> None:
        self.refresher.trigger()


async def confirm(question: str) -> bool:
    """A yes/no question before a destructive step (the other pages' deletes and revokes)."""
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
    services: Services, watch: HubWatch, tz: tzinfo, *, viewer: Viewer, params: Mapping[str, str]
) -> None:
    names = await asyncio.to_thread(registry.names)  # the first call scans entry points
    with theme.frame("Tasks", watch):
        view = TasksView(services, tz, viewer=viewer, query=TasksQuery.from_params(params))
        view.build(offered_stores(services.settings, names))
        await view.refresh()
