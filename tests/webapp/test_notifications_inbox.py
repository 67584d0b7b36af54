"""The bell's inbox: which live state changes become a note for the task's owner."""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

from models.db import Database
from models.schemas import TaskCreate
from models.settings import Settings
from models.tasks import create_task
from tests.conftest import AuthUser
from webapp.pages.notifications import Inbox


async def test_a_task_waiting_for_a_person_notifies_its_owner_only(db: Database, api_user: AuthUser) -> None:
    async with db.begin() as session:
        task = await create_task(
            session,
            data=TaskCreate(name="needs me", store="noop", product="p"),
            settings=Settings(),
            owner_id=api_user.id,
        )
    inbox = Inbox(SimpleNamespace(db=db, changes=None))  # type: ignore[arg-type]
    change: dict[str, Any] = {"kind": "state", "status": "action_needed", "task": str(task.id)}
    await inbox._on_changes([{**change, "owner": str(api_user.id)}])
    box = inbox.box(api_user.id)
    assert box.unread == 1
    assert box.notes[0].text == "“needs me” needs a person — take over on its page"
    assert inbox.box(uuid.uuid4()).unread == 0
    await inbox._on_changes([{**change, "status": "running", "owner": str(api_user.id)}])
    assert box.unread == 1  # running is not news


async def test_a_burst_of_endings_is_one_read_of_their_names(db: Database, api_user: AuthUser) -> None:
    from sqlalchemy import event

    ids = []
    async with db.begin() as session:
        for i in range(3):
            task = await create_task(
                session,
                data=TaskCreate(name=f"burst {i}", store="noop", product="p"),
                settings=Settings(),
                owner_id=api_user.id,
            )
            ids.append(str(task.id))
    inbox = Inbox(SimpleNamespace(db=db, changes=None))  # type: ignore[arg-type]
    owner = str(api_user.id)
    for task_id in ids:  # three live batches, one ending each
        inbox._heard([{"kind": "state", "status": "completed", "task": task_id, "owner": owner}])
    reading = inbox._reading
    assert reading is not None
    reads: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "FROM task" in statement:
            reads.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        await reading
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", seen)
    assert len(reads) == 1  # one read for the three batches
    box = inbox.box(api_user.id)
    assert box.unread == 3
    assert {n.name for n in box.notes} == {"burst 0", "burst 1", "burst 2"}
