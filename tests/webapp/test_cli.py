"""``python -m webapp users …`` / ``tokens …`` as an operator runs it: on a Postgres database
(``DATABASE_URL``), its output read as other tools read it (the token on the last line).

A few calls are real subprocesses (``cli``: the ``__main__`` entry, exit status, stdout and
stderr as a shell sees them); the others run the same ``webapp.cli.main`` in this process
(``cli_here``), which checks the same commands without a Python start-up each (about 1.5 s of
CPU apiece, most of this module's time on a loaded machine)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import subprocess
import sys
import uuid
from pathlib import Path
from unittest import mock

import httpx

from models import users
from models.db import Database
from tests.conftest import ROOT, StartWebapp, child_env
from webapp import cli as webapp_cli


def cli(pg_url: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "webapp", *args],
        cwd=ROOT,
        env=child_env(DATABASE_URL=pg_url),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _main_here(database_url: str, args: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    out, err = io.StringIO(), io.StringIO()
    with (
        mock.patch.dict(os.environ, {"DATABASE_URL": database_url}),  # restored afterwards
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        os.environ.pop("TASKDECK_DATABASE_URL", None)
        try:
            code = webapp_cli.main(list(args))
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code if isinstance(exc.code, int) else 2
    return subprocess.CompletedProcess(["webapp", *args], code, out.getvalue(), err.getvalue())


async def cli_here(pg_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``webapp.cli.main`` in this process, in a thread (it runs its own event loop), with
    ``DATABASE_URL`` set as ``cli`` sets it; stdout, stderr and the exit status as ``cli`` has them."""
    return await asyncio.to_thread(_main_here, pg_url, args)


def last_line(out: str) -> str:
    return out.strip().splitlines()[-1]


async def test_users_and_tokens_from_the_command_line(
    start_webapp: StartWebapp, db: Database, pg_url: str
) -> None:
    email = f"Ops-{uuid.uuid4().hex[:6]}@Taskdeck.test"
    created = cli(pg_url, "users", "create", email, "--admin")
    assert created.returncode == 0, created.stderr
    token = last_line(created.stdout)
    assert token.startswith("td_") and " " not in token
    password = next(line for line in created.stdout.splitlines() if line.startswith("password: "))[10:]
    async with db.session() as session:
        user = await users.user_by_email(session, email)
        assert user is not None and user.is_admin and user.email == email.lower()
        assert password not in user.password_hash and (await users.user_for_token(session, token)) is not None

    again = cli(pg_url, "users", "create", email.upper(), "--password", "long-enough-1")
    assert again.returncode == 1 and "exists" in again.stderr

    plain = f"plain-{uuid.uuid4().hex[:6]}@taskdeck.test"
    given = await cli_here(pg_url, "users", "create", plain, "--password", "long-enough-1")
    assert (
        given.returncode == 0
        and "password:" not in given.stdout
        and last_line(given.stdout).startswith("td_")
    )
    assert (await cli_here(pg_url, "users", "create", "x@y.z", "--password", "short")).returncode == 1

    listed = await cli_here(pg_url, "users", "list")
    assert listed.returncode == 0
    row = next(line for line in listed.stdout.splitlines() if line.startswith(email.lower()))
    assert "admin" in row and "disabled" not in row

    second = await cli_here(pg_url, "tokens", "create", email, "--name", "deploy script")
    assert second.returncode == 0, second.stderr
    second_token = last_line(second.stdout)
    assert second_token.startswith("td_") and second_token != token

    web = await start_webapp(DATABASE_URL=pg_url)
    async with httpx.AsyncClient(base_url=web.url or "", timeout=15) as http:

        async def status(tok: str) -> int:
            return (await http.get("/api/tasks", headers={"Authorization": f"Bearer {tok}"})).status_code

        assert (await status(token), await status(second_token)) == (200, 200)
        listed_tokens = (await http.get("/api/tokens", headers={"Authorization": f"Bearer {token}"})).json()[
            "data"
        ]
        token_id = next(t["id"] for t in listed_tokens if t["name"] == "deploy script")
        revoked = await cli_here(pg_url, "tokens", "revoke", token_id)
        assert revoked.returncode == 0, revoked.stderr
        assert (await status(token), await status(second_token)) == (200, 401)
        assert (await cli_here(pg_url, "tokens", "revoke", token_id)).returncode == 1
        assert (await cli_here(pg_url, "tokens", "revoke", "not-an-id")).returncode == 1

        reset = await cli_here(pg_url, "users", "set-password", email, "--password", "a-new-password")
        assert reset.returncode == 0, reset.stderr
        ok = await http.post("/login", data={"email": email, "password": "a-new-password"})
        assert ok.status_code == 303 and ok.headers["location"] == "/tasks"

        disabled = await cli_here(pg_url, "users", "disable", email)
        assert disabled.returncode == 0, disabled.stderr
        assert await status(token) == 401
        assert "disabled" in next(
            line
            for line in (await cli_here(pg_url, "users", "list")).stdout.splitlines()
            if line.startswith(email.lower())
        )
    assert (await cli_here(pg_url, "users", "disable", "nobody@taskdeck.test")).returncode == 1
    assert (await cli_here(pg_url, "tokens", "create", "nobody@taskdeck.test")).returncode == 1


def test_secret_key_is_printed_or_written_once(tmp_path: Path) -> None:
    from cryptography.fernet import Fernet

    printed = cli("sqlite+aiosqlite:///unused.db", "secret-key")
    assert printed.returncode == 0
    Fernet(printed.stdout.strip().encode())  # a valid key
    key_file = tmp_path / "keys" / "secret.key"
    assert (
        _main_here("sqlite+aiosqlite:///unused.db", ("secret-key", "--file", str(key_file))).returncode == 0
    )
    first = key_file.read_bytes()
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert (
        _main_here("sqlite+aiosqlite:///unused.db", ("secret-key", "--file", str(key_file))).returncode == 0
    )
    assert key_file.read_bytes() == first  # never replaced
