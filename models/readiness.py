"""Is this process's world ready? The database answers, its schema is one this code runs on, Redis
answers. Shared by the webapp's ``/readyz`` and ``python -m workers check`` (the container health
checks); each check is bounded by a timeout and says in one line what is wrong, never a password.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

from models import migrations, redis_url
from models.db import Database
from models.settings import Settings, mask_url

TIMEOUT = 3.0  # seconds per check


@dataclass(frozen=True)
class Check:
    name: str  # "database" | "schema" | "redis"
    ok: bool
    detail: str


async def _bounded(name: str, coro: Coroutine[Any, Any, str], ok_detail: str) -> Check:
    try:
        detail = await asyncio.wait_for(coro, timeout=TIMEOUT)
    except TimeoutError:
        return Check(name, False, f"no answer within {TIMEOUT:g}s")
    except (migrations.SchemaBehind, migrations.SchemaUnknown) as exc:  # their message says it all
        return Check(name, False, str(exc))
    except Exception as exc:
        return Check(name, False, f"{type(exc).__name__}: {exc}".strip())
    return Check(name, True, detail or ok_detail)


async def check_database(db: Database) -> Check:
    async def probe() -> str:
        async with db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return "answers"

    check = await _bounded("database", probe(), "answers")
    if not check.ok:
        return Check(
            "database", False, f"{mask_url(db.url.render_as_string(hide_password=False))}: {check.detail}"
        )
    return check


async def check_schema(db: Database) -> Check:
    async def probe() -> str:
        return await migrations.compatibility(db)

    return await _bounded("schema", probe(), "at head")


async def check_redis(url: str | None, *, cluster: bool = False) -> Check:
    """Redis answers; a Redis Cluster also says ``cluster_state:ok`` (every slot served)."""
    if not url:
        return Check("redis", True, "not used (in-process queue)")

    async def probe() -> str:
        client = redis_url.connect(
            url, cluster=cluster, socket_connect_timeout=TIMEOUT, socket_timeout=TIMEOUT
        )
        try:
            await client.ping()
            if cluster:
                state = (await client.execute_command("CLUSTER INFO")).get("cluster_state")
                if state != "ok":
                    raise RuntimeError(f"cluster_state is {state}")
        finally:
            await client.aclose()
        return "answers"

    check = await _bounded("redis", probe(), "answers")
    if not check.ok:
        return Check("redis", False, f"{mask_url(url)}: {check.detail}")
    return check


async def check_all(settings: Settings, db: Database) -> list[Check]:
    database = await check_database(db)
    schema = await check_schema(db) if database.ok else Check("schema", False, "database unreachable")
    return [database, schema, await check_redis(settings.redis_url, cluster=settings.redis_cluster)]
