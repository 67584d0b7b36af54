"""`POST /api/lookup`: the creation wizard's product preview, run by the store bot in Chromium."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import REDIS_URL

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("queue", ["in-process", "redis"])
async def test_lookup_previews_a_demo_product(
    queue: str, pg_url: str, db: Any, redis_queue: str, start_webapp: Any, auth_headers: dict[str, str]
) -> None:
    env = {"DATABASE_URL": pg_url}
    if queue == "redis":  # no worker in the web process: it uses a short-lived browser of its own
        env |= {"REDIS_URL": REDIS_URL, "TASKDECK_QUEUE_NAME": redis_queue}
    web = await start_webapp(**env)
    async with httpx.AsyncClient(base_url=web.url or "", timeout=30, headers=auth_headers) as http:
        await http.put("/demo-store/api/products/gpu-founders", json={"stock": 0})
        r = await http.post("/api/lookup", json={"store": "demo", "product": "gpu-founders"})
        assert r.status_code == 200, r.text
        info = r.json()
        assert info["name"] and info["price"] == 699.0 and info["available"] is False
        assert info["canonicalUrl"].endswith("/demo-store/products/gpu-founders")
        assert info["imageUrl"] and (await http.get(info["imageUrl"])).status_code == 200

        r = await http.post("/api/lookup", json={"store": "demo", "product": "no-such-thing"})
        assert r.status_code == 422 and "unknown product" in r.json()["detail"]
        r = await http.post("/api/lookup", json={"store": "nope", "product": "x"})
        assert r.status_code == 422 and "unknown store" in r.json()["detail"]
        r = await http.post("/api/lookup", json={"store": "noop", "product": "x"})
        assert r.status_code == 422 and "no product preview" in r.json()["detail"]
