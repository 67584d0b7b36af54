from __future__ import annotations

from models.db import Database
from models.schemas import TaskCreate
from models.settings import Settings
from models.tasks import create_task, list_tasks


async def test_search_treats_like_wildcards_as_text(db: Database) -> None:
    async with db.begin() as session:
        for name in ("50% off drop", "5000 units", "a_b", "axb"):
            await create_task(
                session, data=TaskCreate(name=name, store="noop", product="p"), settings=Settings()
            )
    async with db.session() as session:
        assert [t.name for t in (await list_tasks(session, search="50%"))[0]] == ["50% off drop"]
        assert [t.name for t in (await list_tasks(session, search="a_b"))[0]] == ["a_b"]
        assert (await list_tasks(session, search="%"))[1] == 1
        assert (await list_tasks(session, search="OFF"))[1] == 1
