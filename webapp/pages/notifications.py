"""The header's bell: a toast and an unread count when one of the viewer's tasks fails or buys.

One ``Inbox`` per web process listens to the live hub (the same owner-carrying payloads the
pages get) and keeps each user's newest notifications in memory; every open page of that user
shows the count and the list, and hears only about that user's tasks (admins included: the bell
is about one's own tasks). Opening the list marks it read in every tab. The task names are read
once per ``BELL_INTERVAL`` for all the tasks that ended meanwhile (a thousand tasks finishing
are a few reads, not one per live batch). The inbox holds what
this process heard since it started; behind several web processes each has its own (the task
list, not the bell, is the record).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from nicegui import Event, ui
from sqlalchemy import select
from sqlmodel import col

from models.access import Viewer
from models.tables import Task
from models.types import utcnow
from webapp.live import LiveHub
from webapp.pages import empty
from webapp.pages.updates import Throttle

KEEP = 20
BELL_INTERVAL = 0.5  # seconds: at most one bell redraw (and one toast) per interval per page
WORDS = {
    "failed": "failed",
    "completed": "bought",
    "unknown": "may have bought — check",
    "action_needed": "needs a person — take over on its page",
}
KINDS: dict[str, Literal["negative", "positive", "warning"]] = {
    "failed": "negative",
    "completed": "positive",
    "unknown": "warning",
}

ICONS = {
    "failed": ("error", "text-red-7"),
    "unknown": ("help", "text-orange-8"),
    "action_needed": ("front_hand", "text-orange-8"),
}


@dataclass(frozen=True)
class Note:
    task_id: str
    name: str
    status: str
    at: datetime

    @property
    def text(self) -> str:
        return f"“{self.name}” {WORDS.get(self.status, self.status)}"


@dataclass
class Box:
    notes: deque[Note] = field(default_factory=lambda: deque(maxlen=KEEP))
    unread: int = 0


class Inbox:
    def __init__(self, hub: LiveHub) -> None:
        self.hub = hub
        self.boxes: dict[uuid.UUID, Box] = {}
        self.changed: Event[uuid.UUID, Note | None] = Event()  # (user, the new note or None: read)
        self._ended: list[dict[str, Any]] = []  # heard, names not read yet
        self._reading: asyncio.Task[None] | None = None
        self._last_read = float("-inf")

    def start(self) -> None:
        self.hub.changes.subscribe(self._heard, unsubscribe_on_delete=False)

    def _heard(self, batch: list[dict[str, Any]]) -> None:
        self._ended += [p for p in batch if p.get("kind") == "state" and p.get("status") in WORDS]
        if self._ended and self._reading is None:
            self._reading = asyncio.create_task(self._read_soon(), name="taskdeck-inbox")

    async def _read_soon(self) -> None:
        """Read the names of what ended, at most once per ``BELL_INTERVAL``."""
        loop = asyncio.get_running_loop()
        try:
            while self._ended:
                wait = self._last_read + BELL_INTERVAL - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                ended, self._ended = self._ended, []
                self._last_read = loop.time()
                await self._on_changes(ended)
        finally:
            self._reading = None

    def box(self, user_id: uuid.UUID) -> Box:
        return self.boxes.setdefault(user_id, Box())

    def mark_read(self, user_id: uuid.UUID) -> None:
        box = self.box(user_id)
        if box.unread:
            box.unread = 0
            self.changed.emit(user_id, None)

    async def _on_changes(self, batch: list[dict[str, Any]]) -> None:
        ended = {
            p["task"]: (p["owner"], p["status"])
            for p in batch
            if p.get("kind") == "state" and p.get("status") in WORDS and p.get("owner") and p.get("task")
        }
        if not ended:
            return
        async with self.hub.db.session() as session:
            names = dict(
                (
                    await session.execute(
                        select(col(Task.id), col(Task.name)).where(
                            col(Task.id).in_([uuid.UUID(t) for t in ended])
                        )
                    )
                ).all()
            )
        for task_id, (owner, status) in ended.items():
            note = Note(task_id, names.get(uuid.UUID(task_id), task_id[:8]), status, utcnow())
            user = uuid.UUID(owner)
            box = self.box(user)
            box.notes.appendleft(note)
            box.unread += 1
            self.changed.emit(user, note)


def toast(notes: list[Note]) -> tuple[str, Literal["negative", "positive", "warning"]]:
    """One toast for the notes that arrived together: a single task by name, a burst (a thousand
    tasks finishing) counted by outcome and coloured by the worst of them."""
    if len(notes) == 1:
        return f"Task {notes[0].text}", KINDS.get(notes[0].status, "warning")
    counts = Counter(WORDS.get(n.status, n.status) for n in notes)
    order = ("unknown", "action_needed", "failed")
    worst = next((s for s in order if any(n.status == s for n in notes)), "completed")
    summary = ", ".join(f"{n} {word}" for word, n in counts.most_common())
    return f"{len(notes)} tasks: {summary}", KINDS.get(worst, "warning")


def bell(inbox: Inbox, viewer: Viewer) -> None:
    """The bell with its count and list, in the header; toasts a new note."""
    box = inbox.box(viewer.user_id)
    with ui.button(icon="notifications").props('flat dense round color=white data-testid="bell"') as button:
        count = ui.badge("", color="red").props('floating data-testid="bell-count"')
        with ui.menu().props('data-testid="bell-menu"') as menu, ui.list().classes("min-w-[280px]") as items:
            pass

    def show() -> None:
        count.text = str(box.unread)
        count.set_visibility(box.unread > 0)
        button.props(f'aria-label="notifications ({box.unread} unread)"')
        if menu.value:  # the list is built when the menu opens, not on every change
            show_list()

    def show_list() -> None:
        items.clear()
        with items:
            if not box.notes:
                empty.block(
                    icon="notifications_none",
                    text="No notifications yet — a task that fails or buys shows up here",
                    action="See your tasks",
                    href="/tasks",
                )
            for note in box.notes:
                with ui.item(on_click=lambda n=note: ui.navigate.to(f"/tasks/{n.task_id}")).props(
                    'clickable data-testid="notification"'
                ):
                    with ui.item_section().props("avatar"):
                        icon, colour = ICONS.get(note.status, ("shopping_bag", "text-green-7"))
                        ui.icon(icon).classes(colour)
                    with ui.item_section():
                        ui.item_label(note.text)
                        ui.item_label(note.at.strftime("%H:%M:%S UTC")).props("caption")

    fresh: list[Note] = []

    async def flush() -> None:
        notes = fresh[:]
        fresh.clear()
        if notes:
            text, kind = toast(notes)
            ui.notify(text, type=kind, position="top-right")
        show()

    # the first note shows at once; a burst (a thousand tasks finishing) redraws the bell's count
    # at most every BELL_INTERVAL instead of once per task
    redraw = Throttle(flush, interval=BELL_INTERVAL)

    def changed(user: uuid.UUID, note: Note | None) -> None:
        if user != viewer.user_id:
            return
        if note is not None:
            fresh.append(note)
        redraw.trigger()

    def opened() -> None:
        show_list()
        inbox.mark_read(viewer.user_id)

    menu.on("show", opened)
    inbox.changed.subscribe(changed)
    show()
