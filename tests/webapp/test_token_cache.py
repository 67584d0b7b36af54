"""Bearer token → viewer is remembered for a few seconds (no auth round trip per API call), and
forgotten at once when a token is revoked or its user disabled, in any process: the revoking
transaction NOTIFYs ``taskdeck_auth`` and the live hub's LISTEN connection empties the cache."""

from __future__ import annotations

import asyncio
import uuid

import httpx

from models import users
from models.access import Viewer
from models.db import Database
from models.tables import ApiToken
from tests.conftest import StartWebapp, make_user, wait_for
from webapp.live import LiveHub
from webapp.token_cache import TokenCache

VIEWER = Viewer(user_id=uuid.uuid4(), email="a@taskdeck.test", is_admin=False)


def test_it_answers_within_its_ttl_only_while_the_feed_is_live() -> None:
    now = [100.0]
    live = [True]
    cache = TokenCache(live=lambda: live[0], ttl=5.0, clock=lambda: now[0])
    cache.put("d", VIEWER, generation=cache.generation)
    assert cache.get("d") == VIEWER
    now[0] += 5.5
    assert cache.get("d") is None  # too old: read again
    cache.put("d", VIEWER, generation=cache.generation)
    live[0] = False
    assert cache.get("d") is None  # revocations could be missed: no answers, and forgets
    live[0] = True
    assert cache.get("d") is None


def test_a_lookup_that_raced_a_revocation_is_not_kept() -> None:
    cache = TokenCache(live=lambda: True)
    started = cache.generation
    cache.clear()  # a revocation arrived while the database was being read
    cache.put("d", VIEWER, generation=started)
    assert cache.get("d") is None


async def test_revoking_or_disabling_notifies_every_hub(db: Database, pg_url: str) -> None:
    user = await make_user(pg_url, f"cache-{uuid.uuid4().hex[:6]}@taskdeck.test")
    hub = LiveHub(db)
    cache = TokenCache(live=lambda: hub.connected)
    hub.auth_changed.append(cache.clear)
    await hub.start()
    try:
        await wait_for(lambda: hub.connected, timeout=15, what="the hub connected")
        async with db.begin() as session:
            issued = await users.create_token(session, owner_id=user.id, name="cached")
        for change in ("revoke", "disable"):
            cache.put("d", VIEWER, generation=cache.generation)
            assert cache.get("d") == VIEWER
            async with db.begin() as session:
                if change == "revoke":
                    assert await users.revoke_token(session, token_id=issued.row.id)
                else:
                    await users.set_disabled(session, email=user.email)
            await wait_for(lambda: cache.get("d") is None, timeout=5, what=f"the cache emptied on {change}")
    finally:
        await hub.stop()
        await asyncio.sleep(0)


async def test_a_token_revoked_in_another_process_stops_at_once(
    start_webapp: StartWebapp, db: Database, pg_url: str
) -> None:
    user = await make_user(pg_url, f"cache-{uuid.uuid4().hex[:6]}@taskdeck.test")
    web = await start_webapp(DATABASE_URL=pg_url)
    async with httpx.AsyncClient(base_url=web.url or "", timeout=15, headers=user.headers) as http:
        await wait_for(
            lambda: _live(http), timeout=20, what="the webapp's live feed (the cache is used only then)"
        )
        for _ in range(3):  # warm: the token is now remembered
            assert (await http.get("/api/tasks")).status_code == 200
        async with db.begin() as session:  # revoked behind the webapp's back, as the CLI does
            token = await session.scalar(
                ApiToken.__table__.select()  # type: ignore[attr-defined]
                .with_only_columns(ApiToken.__table__.c.id)  # type: ignore[attr-defined]
                .where(ApiToken.__table__.c.owner_id == user.id)  # type: ignore[attr-defined]
            )
            assert await users.revoke_token(session, token_id=token)

        async def refused() -> bool:
            return (await http.get("/api/tasks")).status_code == 401

        # well inside the cache's TTL (5 s): only the NOTIFY can have emptied it
        await wait_for(refused, timeout=2.5, interval=0.02, what="the revoked token refused")


async def _live(http: httpx.AsyncClient) -> bool:
    return bool((await http.get("/api/health")).json().get("live"))
