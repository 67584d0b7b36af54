"""The webapp never migrates Postgres silently: on a schema that is behind it refuses to start."""

from __future__ import annotations

import sys
import uuid

from sqlalchemy.engine import make_url

from tests.conftest import SERVER_URL, Procs, _admin, child_env, free_port


async def test_refuses_to_start_on_an_unmigrated_postgres(procs: Procs) -> None:
    name = f"taskdeck_empty_{uuid.uuid4().hex[:8]}"
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        url = make_url(SERVER_URL).set(database=name).render_as_string(hide_password=False)
        env = child_env(DATABASE_URL=url, TASKDECK_PORT=free_port())
        proc = procs.spawn("webapp", [sys.executable, "-m", "webapp"], env)
        assert proc.popen.wait(60) == 2
        log = proc.log()
        assert "refusing to start" in log and "alembic upgrade head" in log, log
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
