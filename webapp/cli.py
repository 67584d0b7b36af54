"""The admin command line: ``python -m webapp users …`` and ``python -m webapp tokens …``.

    users create EMAIL [--admin] [--password P]   a generated password is printed when none is
                                                  given; a fresh API token, alone, on the last line
    users list
    users disable EMAIL                           its sessions and tokens stop working at once
    users set-password EMAIL [--password P]       prompts when no --password is given
    tokens create EMAIL [--name N]                the token, alone, on the last line
    tokens revoke ID
    secret-key [--file PATH]                      print a new TASKDECK_SECRET_KEY, or create the
                                                  key file (mode 0600) unless it exists

It works on ``DATABASE_URL`` (Settings), like the webapp; an embedded SQLite file is migrated
first, a Postgres schema must be current. Errors go to stderr with exit status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet

from models import migrations, users
from models.db import Database
from models.errors import TaskdeckError
from models.settings import load_settings
from models.vault import load_key

MIN_PASSWORD = 8
COMMANDS = ("users", "tokens", "secret-key")


class CliError(Exception):
    """A message for the operator; exit status 1."""


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m webapp", description="Taskdeck users and API tokens.")
    groups = root.add_subparsers(dest="group", required=True)

    u = groups.add_parser("users", help="create, list, disable users; set a password").add_subparsers(
        dest="command", required=True
    )
    create = u.add_parser("create", help="create a user and print an API token for it")
    create.add_argument("email")
    create.add_argument("--admin", action="store_true", help="sees and manages everyone's tasks")
    create.add_argument("--password", help="default: a generated one, printed")
    u.add_parser("list", help="every user")
    disable = u.add_parser("disable", help="sign a user out everywhere and refuse their tokens")
    disable.add_argument("email")
    setpw = u.add_parser("set-password", help="set a user's password (prompts without --password)")
    setpw.add_argument("email")
    setpw.add_argument("--password")

    t = groups.add_parser("tokens", help="create and revoke API tokens").add_subparsers(
        dest="command", required=True
    )
    tcreate = t.add_parser("create", help="make an API token for a user; printed on the last line")
    tcreate.add_argument("email")
    tcreate.add_argument("--name", default="cli")
    revoke = t.add_parser("revoke", help="revoke a token by its id")
    revoke.add_argument("id")

    key = groups.add_parser("secret-key", help="make a TASKDECK_SECRET_KEY (printed, or into a file)")
    key.add_argument("--file", type=Path, help="create this key file unless it exists; print nothing")
    return root


def checked_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise CliError(f"the password must have at least {MIN_PASSWORD} characters")
    return password


def prompt_password() -> str:
    first = getpass.getpass("New password: ")
    if getpass.getpass("Again: ") != first:
        raise CliError("the passwords differ")
    return checked_password(first)


async def run(args: argparse.Namespace, db: Database) -> None:
    await migrations.ensure_schema(db, auto_migrate=db.is_sqlite)
    command = f"{args.group} {args.command}"
    async with db.begin() as session:
        if command == "users create":
            generated = args.password is None
            password = users.generate_password() if generated else checked_password(args.password)
            user = await users.create_user(session, email=args.email, password=password, is_admin=args.admin)
            issued = await users.create_token(session, owner_id=user.id, name="cli")
            print(f"created {'admin' if user.is_admin else 'user'} {user.email}")
            if generated:
                print(f"password: {password}")
            print(issued.token)
        elif command == "users list":
            for user in await users.list_users(session):
                flags = " ".join(f for f, on in (("admin", user.is_admin), ("disabled", user.disabled)) if on)
                last = f"{user.last_login_at:%Y-%m-%d %H:%M}" if user.last_login_at else "never"
                print(f"{user.email}\t{flags or '-'}\tcreated {user.created_at:%Y-%m-%d}\tlast login {last}")
        elif command == "users disable":
            user = await users.set_disabled(session, email=args.email)
            print(f"disabled {user.email}")
        elif command == "users set-password":
            password = prompt_password() if args.password is None else checked_password(args.password)
            user = await users.set_password(session, email=args.email, password=password)
            print(f"password set for {user.email}")
        elif command == "tokens create":
            user = await users.require_user(session, args.email)
            issued = await users.create_token(session, owner_id=user.id, name=args.name[:100])
            print(f"token {issued.row.id} ({issued.row.name}) for {user.email}:")
            print(issued.token)
        elif command == "tokens revoke":
            try:
                token_id = uuid.UUID(args.id)
            except ValueError:
                raise CliError(f"{args.id!r} is not a token id (a UUID)") from None
            if not await users.revoke_token(session, token_id=token_id):
                raise CliError(f"no token with id {token_id}")
            print(f"revoked token {token_id}")


def secret_key(file: Path | None) -> None:
    if file is None:
        print(Fernet.generate_key().decode())
    else:
        load_key(None, file)  # creates it (0600) when missing, reads it otherwise


def main(argv: Sequence[str]) -> int:
    args = parser().parse_args(argv)
    if args.group == "secret-key":
        secret_key(args.file)
        return 0
    db = Database(load_settings().database_url)

    async def go() -> None:
        try:
            await run(args, db)
        finally:
            await db.dispose()

    try:
        asyncio.run(go())
    except (CliError, TaskdeckError, migrations.SchemaBehind, migrations.SchemaUnknown) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
