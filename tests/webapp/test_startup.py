"""Start-up: the webapp never migrates Postgres silently, needs a secret key on Postgres, and on
an embedded first start creates the first admin."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

from models import users
from models.db import Database
from tests.conftest import (
    SERVER_URL,
    TEST_SECRET_KEY,
    Procs,
    StartWebapp,
    _admin,
    child_env,
    first_admin_password,
    free_port,
    sign_in_http,
)


async def test_refuses_to_start_on_an_unmigrated_postgres(procs: Procs) -> None:
    name = f"taskdeck_empty_{uuid.uuid4().hex[:8]}"
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        url = make_url(SERVER_URL).set(database=name).render_as_string(hide_password=False)
        env = child_env(DATABASE_URL=url, TASKDECK_PORT=free_port(), TASKDECK_SECRET_KEY=TEST_SECRET_KEY)
        proc = procs.spawn("webapp", [sys.executable, "-m", "webapp"], env)
        assert proc.popen.wait(60) == 2
        log = proc.log()
        assert "refusing to start" in log and "alembic upgrade head" in log, log
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_refuses_to_start_on_postgres_without_a_secret_key(
    procs: Procs, pg_url: str, tmp_path: Path
) -> None:
    """A real deployment needs TASKDECK_SECRET_KEY (or an existing key file); the message says how
    to make one, and nothing is created in its place."""
    key_file = tmp_path / "nowhere" / "secret.key"
    env = child_env(DATABASE_URL=pg_url, TASKDECK_PORT=free_port(), TASKDECK_SECRET_KEY_FILE=key_file)
    proc = procs.spawn("webapp", [sys.executable, "-m", "webapp"], env)
    assert proc.popen.wait(60) == 2
    log = proc.log()
    assert "refusing to start" in log and "TASKDECK_SECRET_KEY" in log, log
    assert "Fernet.generate_key()" in log, log
    assert not key_file.exists()


async def test_embedded_first_start_creates_an_admin_and_prints_the_login_once(
    start_webapp: StartWebapp, procs: Procs, tmp_path: Path
) -> None:
    # SQLite file and (no key given) key file in the working directory
    web = await start_webapp(cwd=tmp_path, TASKDECK_SECRET_KEY=None)
    password = first_admin_password(web.log())
    assert (tmp_path / ".taskdeck" / "secret.key").exists()  # embedded mode still makes its own key
    async with httpx.AsyncClient(base_url=web.url or "", timeout=15) as http:
        await sign_in_http(http, web.url or "", "admin@localhost", password)
        page = await http.get("/tasks")
        assert page.status_code == 200 and "admin@localhost" in page.text and "admin-badge" in page.text
    web.stop()
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'taskdeck.db'}")
    try:
        async with db.session() as session:
            admin = await users.user_by_email(session, "admin@localhost")
            assert admin is not None and admin.is_admin and password not in admin.password_hash
    finally:
        await db.dispose()
    again = await start_webapp(cwd=tmp_path, TASKDECK_SECRET_KEY=None)
    assert "Sign in as" not in again.log()
