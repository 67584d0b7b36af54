"""Checkout profiles and store accounts: usable by bots, never visible in clear text.

A real webapp process (Postgres, in-process worker, Chromium, demo store) buys a product that
needs a store login, with a profile and an account created over the API and ``trace`` on, then
fails to (sold out once the form was posted); afterwards the card number, CVC and password appear
in no API response, event, log line, database row or artifact file (traces read member by member).
"""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from tests.conftest import _plain_dsn
from tests.leaks import artifact_blobs, leaks, needles
from tests.stack import Stack

CARD, CVC, PASSWORD = "4111111111111111", "987", "s3cret-Pa55word"

pytestmark = pytest.mark.slow


async def test_secrets_are_used_but_never_shown(  # type: ignore[no-untyped-def]
    pg_url: str, db, start_webapp, auth_headers, tmp_path
) -> None:
    web = await start_webapp(DATABASE_URL=pg_url, TASKDECK_LOG_LEVEL="DEBUG")
    seen: list[str] = []
    async with httpx.AsyncClient(timeout=15, headers=auth_headers) as http:
        s = Stack(web.url or "", http)
        await s.reset_store()
        r = await http.post(f"{s.store}/api/accounts", json={"login": "alice", "password": PASSWORD})
        assert r.status_code == 201, r.text
        await s.product("collector-figure", requiresLogin=True)

        r = await http.post(
            f"{web.url}/api/profiles",
            json={
                "name": "Home",
                "fullName": "Alice Buyer",
                "email": "alice@example.com",
                "address": "2 Side St",
                "cardNumber": CARD,
                "cardExpiry": "11/29",
                "cardCvc": CVC,
            },
        )
        assert r.status_code == 201, r.text
        profile = r.json()
        assert profile["cardNumber"] == "•••• 1111" and "cardCvc" not in profile
        r = await http.post(
            f"{web.url}/api/accounts", json={"store": "demo", "login": "alice", "password": PASSWORD}
        )
        assert r.status_code == 201, r.text
        assert r.json()["password"] == "********"
        bad = await http.post(
            f"{web.url}/api/profiles",
            json={
                "name": "x",
                "fullName": "x",
                "email": "nope",
                "address": "x",
                "cardNumber": "12",
                "cardExpiry": "13/99",
                "cardCvc": "1",
            },
        )
        assert bad.status_code == 422 and "email" in bad.json()["detail"]

        task = await s.create(product="collector-figure", profileId=profile["id"], trace=True)
        await s.execute(task["id"])
        done = await s.wait(task["id"], "completed", "failed")
        assert done["status"] == "completed", done
        [order] = await s.orders(task["id"])
        assert order["account"] == "alice"
        await s.product("collector-figure", soldOutAtCheckout=True)
        failed = await s.create(product="collector-figure", profileId=profile["id"], trace=True)
        await s.execute(failed["id"])
        assert (await s.wait(failed["id"], "completed", "failed"))["status"] == "failed"
        r = await http.get(f"{web.url}/api/tasks/{failed['id']}/artifacts")
        assert r.status_code == 200 and "trace" in r.text, r.text
        seen.append(r.text)

        for url in (
            "/api/profiles",
            f"/api/profiles/{profile['id']}",
            "/api/accounts",
            f"/api/tasks/{task['id']}",
            "/api/tasks",
            "/api/purchases",
        ):
            r = await http.get(f"{web.url}{url}")
            assert r.status_code == 200, (url, r.text)
            seen.append(r.text)
        page = await http.get(f"{web.url}/tasks/{task['id']}")
        seen.append(page.text)

    conn = await asyncpg.connect(_plain_dsn(pg_url))
    try:
        for table in ("task", "task_event", "task_attempt", "purchase", "profile", "account", "worker"):
            rows = await conn.fetch(f"SELECT * FROM {table}")
            seen.append(repr([dict(r) for r in rows]))
    finally:
        await conn.close()
    seen.append(web.log())
    blob = "\n".join(seen)
    assert "Alice Buyer" not in repr(seen[-2])  # profile rows hold ciphertext only
    for secret in (CARD, CVC + '"', PASSWORD):
        assert secret not in blob, f"{secret!r} leaked"
    search = needles(card=CARD, cvc=CVC, expiry="11/29", passwords=[PASSWORD])
    # the API shows a profile's expiry on purpose; artifacts must not
    found = leaks(
        blob.encode(),
        "responses, rows and the log",
        needles(card=CARD, cvc=CVC, expiry=None, passwords=[PASSWORD]),
    )
    traces = 0
    for where, data in artifact_blobs(tmp_path / "artifacts"):
        traces += where.endswith("-trace.zip")
        found += leaks(data, where, search)
    assert traces == 2 and not found, (traces, found)
