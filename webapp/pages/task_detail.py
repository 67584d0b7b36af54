"""``/tasks/{id}``: one task — its facts, the bot's steps as they happen, the live view (and the
hand-off when the bot asks for a person: ``live_panel.py``), attempts, events, purchase,
screenshots and traces (those three cards: ``task_history.py``).

Live: payloads for this task from ``hub.changes`` light the step timeline, the progress bar and
the status badge at once; every such batch also asks for one throttled re-read (at most four a
second) of the task row, its new events (appended to the log), attempts, purchase and — after an
``artifact`` event — the screenshot gallery. ``hub.resync`` re-reads everything.

Only the task's owner (or an admin) sees it: for anyone else it is "not found", as over the API.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import tzinfo
from typing import Any

from nicegui import ui

from models import queries
from models.access import Viewer
from models.errors import TaskNotFound
from models.states import TaskStatus
from models.tables import Purchase, Task, TaskEvent
from webapp.pages import actions, monitor_cells, offered, theme
from webapp.pages.doubt import DoubtBanner
from webapp.pages.live_panel import LivePanel
from webapp.pages.task_history import Attempts, EventLog, Gallery
from webapp.pages.tasks import confirm
from webapp.pages.updates import HubWatch, Throttle
from webapp.services import Services

S = TaskStatus
DEMO_STEPS = ("open product", "check stock", "add to cart", "checkout", "confirm")
STEP_LOOK = {  # state → (icon, colour)
    "done": ("check_circle", "green-7"),
    "active": ("autorenew", "cyan-8"),
    "failed": ("error", "red-7"),
    "stopped": ("cancel", "brown-5"),
    "todo": ("radio_button_unchecked", "grey-5"),
}


class TaskDetailView:
    def __init__(self, services: Services, tz: tzinfo, task: Task, *, viewer: Viewer) -> None:
        self.services = services
        self.viewer = viewer
        self.tz = tz
        self.task = task
        self.id = task.id
        self.status = task.status
        self.steps_done: list[str] = []  # steps reported by the current (or last) attempt
        self.applied: set[int] = set()  # event ids already applied to the timeline
        self.logged: set[int] = set()  # event ids already in the log
        self.catch_up = queries.EventCatchUp(floor=0)
        self.deleted = False
        self.gallery_stale = True
        self._actions_for: str | None = None  # the status the action buttons were drawn for
        self.refresher = Throttle(self.reread, interval=0.25)

    # ---- layout ---------------------------------------------------------------------------

    def build(self) -> None:
        t = self.task
        with ui.row().classes("w-full items-center gap-3"):
            ui.link("Tasks", "/tasks").classes("text-sm text-grey-7 no-underline")
            ui.icon("chevron_right", size="16px").classes("text-grey-5")
            ui.label(t.name).classes("text-2xl font-semibold text-grey-10").props('data-testid="task-name"')
            self.badge = theme.status_badge(self.status, big=True).props('data-testid="task-status"')
            ui.label(str(t.id)).classes("td-mono text-xs text-grey-6")
            ui.space()
            self.action_bar = ui.row().classes("gap-2")
        self.banner = ui.label("").classes("w-full p-3 rounded bg-red-1 text-red-9")
        self.banner.set_visibility(False)
        self.doubt = DoubtBanner(self.act)
        self.live = LivePanel(self.services, self.id, viewer=self.viewer, act=self.act)
        with ui.grid().classes("w-full gap-5 grid-cols-1 lg:grid-cols-3"):
            with theme.card("Details", icon="info").classes("lg:col-span-1"):
                self.facts = ui.grid(columns="auto 1fr").classes("w-full gap-x-6 gap-y-1 text-sm")
            with ui.column().classes("lg:col-span-2 gap-5"):
                with theme.card("Progress", icon="timeline"):
                    with ui.row().classes("w-full items-center gap-3"):
                        self.progress = ui.linear_progress(value=0, show_value=False, size="10px").props(
                            "rounded"
                        )
                        self.progress.classes("grow")
                        self.progress_label = ui.label("").classes("text-sm text-grey-8 w-12 text-right")
                    self.timeline = (
                        ui.row().classes("w-full items-start gap-0 no-wrap").props('data-testid="steps"')
                    )
                    self.step_label = ui.label("").classes("text-sm text-grey-7")
                with theme.card("Result", icon="receipt_long"):
                    self.result = ui.column().classes("w-full gap-1").props('data-testid="result"')
        with theme.card("Screenshots", icon="photo_library"):
            self.gallery = Gallery(self.id)
        with ui.grid().classes("w-full gap-5 grid-cols-1 xl:grid-cols-2"):
            with theme.card("Attempts", icon="history"):
                self.attempts = Attempts(self.tz)
            with theme.card("Events", icon="list"):
                self.log = EventLog(self.tz)
        self.services.hub.subscribe(self.viewer, self.on_changes)
        self.services.hub.resync.subscribe(self.refresher.trigger)

    # ---- reading --------------------------------------------------------------------------

    async def load(self) -> None:
        """First render: the newest events, then everything else."""
        async with self.services.db.session() as session:
            events = await queries.recent_events(session, self.id, viewer=self.viewer)
        self.catch_up = queries.EventCatchUp.starting_from(events)
        self._take_events(events)
        await self.reread()

    async def reread(self) -> None:
        if self.deleted:
            return
        async with self.services.db.session() as session:
            try:
                task = await queries.get_task(session, self.id, viewer=self.viewer)
            except TaskNotFound:
                self._mark_deleted()
                return
            # ids are not in commit order: every id of the task not read yet, however late it came
            events = await self.catch_up.read(session, self.id, viewer=self.viewer)
            attempts = await queries.task_attempts(session, self.id, viewer=self.viewer)
            purchase = await queries.purchase_for(session, self.id, viewer=self.viewer)
        self.task, self.status = task, task.status
        self._take_events(events)
        self._render_header()
        self._render_banner()
        await self.live.show(self.status, task.error if self.status == S.ACTION_NEEDED else None)
        self._render_facts()
        self._render_progress()
        self._render_result(purchase)
        self.attempts.show(attempts)
        if self.gallery_stale:
            self.gallery_stale = False
            found = await asyncio.to_thread(self.services.artifacts.list, str(self.id))
            self.gallery.show(found)

    def _take_events(self, events: list[TaskEvent]) -> None:
        for ev in events:
            if ev.id is None or ev.id in self.logged:
                continue
            self.logged.add(ev.id)
            self._apply(ev.id, ev.kind, ev.status, ev.step)
            self.log.add(ev)

    # ---- live -----------------------------------------------------------------------------

    def on_changes(self, batch: list[dict[str, Any]]) -> None:
        mine = [p for p in batch if p.get("task") == str(self.id)]
        if not mine or self.deleted:
            return
        for p in mine:
            if p.get("kind") == "deleted":
                self._mark_deleted()
                return
            self._apply(p.get("id"), p.get("kind"), p.get("status"), p.get("step"))
            if p.get("status") and p.get("kind") in ("state", "progress"):
                self.status = p["status"]
            if p.get("progress") is not None:
                self.task.progress = p["progress"]
        theme.set_status_badge(self.badge, self.status)
        self._render_progress()
        self.refresher.trigger()

    def _apply(self, event_id: Any, kind: str | None, status: str | None, step: str | None) -> None:
        """Feed one event to the step timeline (each event once)."""
        if isinstance(event_id, int):
            if event_id in self.applied:
                return
            self.applied.add(event_id)
        if kind == "state" and status == S.RUNNING and self.status != S.ACTION_NEEDED:
            # a new attempt starts from the first step (a hand-back continues where it was)
            self.steps_done = []
        elif kind == "progress" and step and step not in self.steps_done:
            self.steps_done.append(step)
        elif kind == "artifact":
            self.gallery_stale = True
        if kind == "state" and status != S.RUNNING:  # an attempt ended: its trace was saved before
            self.gallery_stale = True

    def _mark_deleted(self) -> None:
        self.deleted = True
        self.banner.set_text("This task was deleted.")
        self.banner.set_visibility(True)
        self.action_bar.clear()

    # ---- rendering ------------------------------------------------------------------------

    def _render_header(self) -> None:
        theme.set_status_badge(self.badge, self.status)
        if self._actions_for == self.status:
            return
        self._actions_for = self.status
        self.action_bar.clear()
        with self.action_bar:
            for action in offered.offered(self.status, was_started=offered.started(self.task)):
                with ui.button(
                    action.capitalize(),
                    icon=theme.ACTION_ICONS[action],
                    on_click=lambda a=action: self.act(a),
                ).props(
                    f'unelevated no-caps data-testid="action-{action}" '
                    + ("color=negative outline" if action in ("cancel", "delete") else "")
                ):
                    ui.tooltip(offered.tip(action, self.status))

    def _render_banner(self) -> None:
        error = self.task.error if self.status in (S.FAILED, S.RETRYING) else None
        self.banner.set_text(f"Last error: {error}" if error else "")
        self.banner.set_visibility(bool(error))
        self.doubt.show((self.task.error or "") if self.status == S.UNKNOWN else None)

    def _render_facts(self) -> None:
        t, fmt = self.task, (lambda v: theme.fmt_time(v, self.tz))
        mode = "buy once" if t.mode == "once" else f"watch every {theme.fmt_seconds(t.check_every)}"
        if t.mode == "monitor" and t.until:
            mode += f" until {fmt(t.until)}"
        facts: list[tuple[str, str]] = [
            ("Store", t.store),
            ("Product", t.product),
            ("Quantity", str(t.quantity)),
            ("Max price", theme.fmt_money(t.max_price) if t.max_price is not None else "no limit"),
            ("Mode", mode),
        ]
        if t.mode == "monitor":
            facts += [
                ("Checks", str(t.checks)),
                ("Last check", f"{t.last_check or '—'} ({fmt(t.last_check_at)})" if t.last_check_at else "—"),
                ("Next check", fmt(t.run_at) if t.status in monitor_cells.WAITING else "—"),
            ]
        facts += [
            ("Priority", str(t.priority)),
            ("Attempts", attempts_fact(t)),
            ("Worker", t.worker_id or "—"),
            ("Run at", fmt(t.run_at)),
            ("Created", fmt(t.created_at)),
            ("Started", fmt(t.started_at)),
            ("Finished", fmt(t.finished_at)),
        ]
        self.facts.clear()
        with self.facts:
            for label, value in facts:
                ui.label(label).classes("text-grey-7")
                ui.label(value).classes("text-grey-10 break-all").props(f'data-testid="fact-{label.lower()}"')

    def _render_progress(self) -> None:
        progress = self.task.progress or 0
        self.progress.set_value(progress / 100)
        self.progress.props(f"color={theme.STATUS_COLORS.get(self.status, 'primary')}")
        self.progress_label.set_text(f"{progress}%")
        steps = list(DEMO_STEPS) if self.task.store == "demo" else []
        for step in self.steps_done:
            if step not in steps:
                after = (
                    steps.index("add to cart") + 1
                    if step == "log in" and "add to cart" in steps
                    else len(steps)
                )
                steps.insert(after, step)
        first_todo = next((s for s in steps if s not in self.steps_done), None)
        pending_look: dict[str, str] = {
            S.RUNNING: "active",
            S.FAILED: "failed",
            S.RETRYING: "failed",
            S.CANCELLED: "stopped",
            S.UNKNOWN: "failed",
        }
        self.timeline.clear()
        with self.timeline:
            if not steps:
                ui.label("This store's bot reports no steps.").classes("text-sm text-grey-6")
            for i, step in enumerate(steps):
                state = "done" if step in self.steps_done else "todo"
                if step == first_todo and self.task.attempt > 0:
                    state = pending_look.get(self.status, "todo")
                icon, color = STEP_LOOK[state]
                with (
                    ui.column()
                    .classes("items-center grow basis-0 gap-1")
                    .props(f'data-testid="step" data-step="{step}" data-state="{state}"')
                ):
                    with ui.row().classes("w-full items-center no-wrap gap-0"):
                        ui.element("div").classes("grow h-[2px] " + ("bg-grey-3" if i else ""))
                        ui.icon(icon, size="28px", color=color).classes(
                            "animate-spin" if state == "active" else ""
                        )
                        ui.element("div").classes(
                            "grow h-[2px] " + ("bg-grey-3" if i < len(steps) - 1 else "")
                        )
                    ui.label(step).classes(f"text-xs text-center text-{color}")
        current = self.task.step or (self.steps_done[-1] if self.steps_done else None)
        self.step_label.set_text(f"Last step: {current}" if current else "")

    def _render_result(self, purchase: Purchase | None) -> None:
        self.result.clear()
        result = self.task.result or {}
        with self.result:
            if purchase is None and not result:
                endings: dict[str, str] = {
                    S.FAILED: "Failed — no purchase.",
                    S.CANCELLED: "Cancelled — no purchase.",
                    S.UNKNOWN: "Unknown — an order may have been placed.",
                }
                text = endings.get(self.status, "No purchase yet.")
                ui.label(text).classes("text-grey-7")
                return
            order = purchase.order_number if purchase else result.get("orderNumber")
            currency = purchase.currency if purchase else result.get("currency", "USD")
            with ui.row().classes("items-baseline gap-3"):
                ui.icon("verified", color="green-7", size="22px")
                ui.label("Order").classes("text-grey-7")
                ui.label(str(order)).classes("td-mono text-lg font-semibold").props(
                    'data-testid="order-number"'
                )
            with ui.row().classes("gap-8 text-sm"):
                quantity = purchase.quantity if purchase else result.get("quantity")
                unit = purchase.unit_price if purchase else result.get("unitPrice")
                total = purchase.total if purchase else result.get("total")
                for label, value in (
                    (
                        "Product",
                        (purchase.product_name if purchase else None)
                        or result.get("productName")
                        or self.task.product,
                    ),
                    ("Quantity", str(quantity)),
                    ("Unit price", theme.fmt_money(unit, currency)),
                    ("Total", theme.fmt_money(total, currency)),
                ):
                    with ui.column().classes("gap-0"):
                        ui.label(label).classes("text-xs text-grey-7")
                        ui.label(str(value)).classes("font-medium").props(
                            f'data-testid="result-{label.lower()}"'
                        )

    async def act(self, action: str, *, order_number: str | None = None) -> None:
        if action == "delete" and not await confirm("Delete this task? This cannot be undone."):
            return
        outcome = await actions.run_action(
            self.services,
            self.id,
            action,
            viewer=self.viewer,
            name=self.task.name,
            order_number=order_number,
        )
        actions.report([outcome], action)
        if action == "delete" and outcome.ok:
            ui.navigate.to("/tasks")
            return
        self.refresher.trigger()


def not_found(watch: HubWatch, what: str) -> None:
    ui.context.client.status_code = 404
    with theme.frame("Task not found", watch, section="Tasks"), theme.card().classes("items-center py-16"):
        ui.icon("search_off", size="64px").classes("text-grey-5")
        ui.label("No such task").classes("text-xl font-semibold").props('data-testid="not-found"')
        ui.label(f"There is no task with id “{what}”. It may have been deleted.").classes("text-grey-7")
        ui.button("Back to tasks", icon="arrow_back", on_click=lambda: ui.navigate.to("/tasks")).props("flat")


async def render(services: Services, watch: HubWatch, tz: tzinfo, task_id: str, *, viewer: Viewer) -> None:
    try:
        tid = uuid.UUID(task_id)
        async with services.db.session() as session:
            task = await queries.get_task(session, tid, viewer=viewer)
    except (ValueError, TaskNotFound):
        not_found(watch, task_id)
        return
    with theme.frame(task.name, watch, section="Tasks"):
        view = TaskDetailView(services, tz, task, viewer=viewer)
        view.build()
        await view.load()


def attempts_fact(task: Task) -> str:
    """ "n of maxAttempts" of the current run; after a retry, also how many in all (the history's
    numbers continue: #2 is the retried run's first attempt)."""
    fact = f"{task.run_attempt} of {task.budget}"
    return f"{fact} · {task.attempt} in all" if task.attempt != task.run_attempt else fact
