"""The task page's event log misses no event whose transaction committed late (issue 12, hole 10).

Event ids come from a sequence, so they are not in commit order: an event can become visible
after dozens of higher ids were already shown. The page's re-read must still find it.
"""

from __future__ import annotations

from models import queries
from models import tasks as ops
from models.access import Viewer
from models.db import Database
from models.events import publish
from models.schemas import TaskCreate
from models.settings import Settings
from tests.conftest import AuthUser


async def test_an_event_committed_after_sixty_later_ones_is_still_read(
    db: Database, api_user: AuthUser
) -> None:
    viewer = Viewer(user_id=api_user.id, email=api_user.email)
    async with db.begin() as session:
        task = await ops.create_task(
            session,
            data=TaskCreate(name="e", store="noop", product="p", start="later"),
            settings=Settings(),
            owner_id=api_user.id,
        )
    async with db.session() as session:  # what the page shows when it opens
        shown = await queries.recent_events(session, task.id, viewer=viewer)
    catch_up = queries.EventCatchUp.starting_from(shown)
    slow = db.sessions()
    await slow.begin()
    late_id = await publish(slow, task_id=task.id, kind="log", message="slow transaction")
    for i in range(60):  # meanwhile, later events commit and the page reads them
        async with db.begin() as session:
            await publish(session, task_id=task.id, kind="progress", step=f"s{i}", progress=1)
    async with db.session() as session:
        first = await catch_up.read(session, task.id, viewer=viewer)
    assert len(first) == 60 and late_id not in {e.id for e in first}
    await slow.commit()  # ... and only now the first one becomes visible
    await slow.close()
    async with db.session() as session:
        second = await catch_up.read(session, task.id, viewer=viewer)
    assert [e.id for e in second] == [late_id]
    async with db.session() as session:
        assert await catch_up.read(session, task.id, viewer=viewer) == []  # each event once
