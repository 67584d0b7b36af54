"""A real ``python -m webapp`` on Postgres, with the production defaults: no demo store, a foreign
Host refused, pages that may not be framed, big bodies refused by the real server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from tests.conftest import StartWebapp, wait_for


async def test_production_defaults_over_http(
    pg_url: str, db: object, start_webapp: StartWebapp, signed_in: dict[str, str]
) -> None:
    # the demo store left at its default (off on Postgres); the noop store asked for on its own
    web = await start_webapp(DATABASE_URL=pg_url, TASKDECK_DEMO_STORE=None, TASKDECK_NOOP_STORE="true")
    async with httpx.AsyncClient(base_url=web.url, headers=signed_in, timeout=30) as http:
        # /api/health answers as soon as the port listens; the services (here the embedded worker
        # and its Chromium) start after it. A run's one ReadError came in that window, on a fresh
        # server only (60 rounds on a started one had none): check the guards once it is ready.
        async def started() -> bool:
            return bool((await http.get("/readyz")).json().get("started"))

        await wait_for(started, timeout=90, interval=0.2, what="the webapp's services to start")
        assert (await http.get("/demo-store/api/products")).status_code == 404
        assert (await http.post("/demo-store/api/reset", json={})).status_code in (404, 405)
        stores = {s["name"] for s in (await http.get("/api/stores")).json()}
        assert {"demo", "noop"} <= stores

        page = await http.get("/", follow_redirects=True)
        assert page.status_code == 200
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["content-security-policy"] == "frame-ancestors 'none'"
        assert (await http.get("/", headers={"Host": "evil.example"})).status_code == 400
        upgrade = {
            "Host": "evil.example",
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        }
        socket = await http.get("/_nicegui_ws/socket.io/?EIO=4&transport=websocket", headers=upgrade)
        assert socket.status_code == 400  # the live websocket is refused to a foreign Host too
        assert (
            await http.get("/api/health", headers={"Host": f"localhost:{web.url.rsplit(':', 1)[1]}"})
        ).is_success

        big = b'{"name": "' + b"x" * (1 << 20) + b'"}'
        refused = await http.post("/api/tasks", content=big, headers={"Content-Type": "application/json"})
        assert refused.status_code == 413

        async def streamed() -> AsyncIterator[bytes]:
            for _ in range(17):  # 1 MiB + 64 KiB, no Content-Length
                yield b"y" * 65536

        refused = await http.post(
            "/api/tasks", content=streamed(), headers={"Content-Type": "application/json"}
        )
        assert refused.status_code == 413
        login = await http.post("/login", data={"email": "x@y.z", "password": "p" * (1 << 20)})
        assert login.status_code == 413
        assert (await http.get("/api/health")).is_success  # the server is fine afterwards
