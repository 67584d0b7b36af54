"""The rest of the JSON API: stats, purchases, artifacts, stores, and waiting for start-up."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from pathlib import Path

import httpx

from models import claims, outcomes, worker_rows
from models.db import Database
from models.states import TaskStatus as S
from models.tables import Worker
from models.types import utcnow
from tests.conftest import make_user
from tests.webapp.test_api import Api, api, api_app, api_settings, build_app, start_without_worker
from webapp.services import Services

__all__ = ["api", "api_app"]  # the fixture, shared with test_api.py


# ---- stats --------------------------------------------------------------------------------


async def test_stats_counts_throughput_and_workers(api: Api) -> None:
    done = await api.create(priority=10)
    failed = await api.create(priority=5)
    await api.create(start="later")
    await api.complete(done["id"])
    await api.fail(failed["id"])
    async with api.db.begin() as session:
        worker = Worker(
            id="host-1:42", host="host-1", pid=42, version="0.1.0", concurrency=4, started_at=utcnow()
        )
        await worker_rows.worker_seen(session, worker=worker, running=[], processed=7, status="up")

    response = await api.http.get("/api/stats")
    assert response.status_code == 200, response.text
    stats = response.json()
    assert stats["counts"] == {
        "pending": 1, "scheduled": 0, "queued": 0, "running": 0, "retrying": 0, "paused": 0,
        "completed": 1, "failed": 1, "cancelled": 0, "unknown": 0, "action_needed": 0,
    }  # fmt: skip
    points = stats["throughput"]
    assert len(points) == 60
    minutes = [datetime.fromisoformat(p["minute"]) for p in points]
    assert minutes == sorted(minutes)
    assert all(m.second == 0 and m.microsecond == 0 for m in minutes)
    assert sum(p["completed"] for p in points) == 1
    assert sum(p["failed"] for p in points) == 1
    assert points[-1]["completed"] + points[-2]["completed"] == 1  # this minute (or the one before)
    [row] = stats["workers"]
    assert row["id"] == "host-1:42"
    assert (row["host"], row["pid"], row["status"], row["processed"], row["concurrency"]) == (
        "host-1",
        42,
        "up",
        7,
        4,
    )
    assert row["running"] == []
    assert row["lastSeen"] and row["startedAt"]


# ---- purchases ----------------------------------------------------------------------------

PURCHASE_KEYS = {
    "taskId", "ownerId", "store", "product", "productName", "quantity", "unitPrice", "total", "currency",
    "orderNumber", "createdAt",
}  # fmt: skip


async def test_purchases_newest_first(api: Api) -> None:
    first = await api.create(quantity=1, priority=2)
    second = await api.create(quantity=3, product="vinyl-box", priority=1)
    await api.complete(first["id"])
    await api.complete(second["id"])

    body = (await api.http.get("/api/purchases")).json()
    assert body["count"] == 2
    newest = body["data"][0]
    assert set(newest) == PURCHASE_KEYS
    assert newest["taskId"] == second["id"]
    assert (newest["store"], newest["product"], newest["productName"]) == (
        "demo",
        "vinyl-box",
        "Aurora Sneaker Drop",
    )
    assert (newest["quantity"], newest["unitPrice"], newest["total"], newest["currency"]) == (
        3,
        120.0,
        360.0,
        "USD",
    )
    assert newest["orderNumber"] == f"DS-{second['id'][:6]}"

    page = (await api.http.get("/api/purchases", params={"limit": 1, "offset": 1})).json()
    assert page["count"] == 2
    assert [p["taskId"] for p in page["data"]] == [first["id"]]
    assert (await api.http.get("/api/purchases", params={"limit": 0})).status_code == 422


# ---- artifacts ----------------------------------------------------------------------------


async def test_artifacts_are_listed_and_served(api: Api, tmp_path: Path) -> None:
    task = await api.create()
    directory = tmp_path / "artifacts" / task["id"]
    directory.mkdir(parents=True)
    (directory / "a1-01-open-product.png").write_bytes(b"\x89PNG first")
    (directory / "a1-02-add-to-cart.jpg").write_bytes(b"\xff\xd8\xff second")
    (directory / "a1-trace.zip").write_bytes(b"PK trace")
    (directory / "notes.txt").write_text("not an artifact")
    (tmp_path / "secret.png").write_bytes(b"outside")

    response = await api.http.get(f"/api/tasks/{task['id']}/artifacts")
    assert response.status_code == 200, response.text
    listed = response.json()
    assert [(a["name"], a["kind"], a["step"]) for a in listed] == [
        ("a1-01-open-product.png", "screenshot", "open-product"),
        ("a1-02-add-to-cart.jpg", "screenshot", "add-to-cart"),
        ("a1-trace.zip", "trace", None),
    ]
    assert listed[0]["url"] == f"/api/tasks/{task['id']}/artifacts/a1-01-open-product.png"

    shot = await api.http.get(listed[1]["url"])
    assert shot.status_code == 200
    assert (shot.content, shot.headers["content-type"]) == (b"\xff\xd8\xff second", "image/jpeg")
    older = await api.http.get(listed[0]["url"])  # an older version's PNG
    assert (older.content, older.headers["content-type"]) == (b"\x89PNG first", "image/png")
    trace = await api.http.get(listed[2]["url"])
    assert (trace.content, trace.headers["content-type"]) == (b"PK trace", "application/zip")
    assert "attachment" in trace.headers["content-disposition"]

    base = f"/api/tasks/{task['id']}/artifacts"
    for name in ["notes.txt", "missing.png", "..%2F..%2Fsecret.png", "%2E%2E", "..%5Csecret.png"]:
        response = await api.http.get(f"{base}/{name}")
        assert response.status_code == 404, (name, response.text)
        assert "detail" in response.json()


async def test_artifacts_of_unknown_or_bad_task(api: Api) -> None:
    assert (await api.http.get(f"/api/tasks/{uuid.uuid4()}/artifacts")).status_code == 404
    assert (await api.http.get(f"/api/tasks/{uuid.uuid4()}/artifacts/a1-trace.zip")).status_code == 404
    assert (await api.http.get("/api/tasks/x/artifacts")).status_code == 422
    task = await api.create()
    assert (await api.http.get(f"/api/tasks/{task['id']}/artifacts")).json() == []


# ---- stores -------------------------------------------------------------------------------


async def test_stores_from_the_registry(api: Api) -> None:
    stores = {s["name"]: s for s in (await api.http.get("/api/stores")).json()}
    assert stores["demo"]["needsBrowser"] is True
    assert stores["noop"] == {
        "name": "noop",
        "title": "No-op (engine tests)",
        "needsBrowser": False,
        "url": "",
        "settings": {},
    }


async def test_stores_show_their_configured_url_and_settings(api: Api) -> None:
    """TASKDECK_STORES gives each bot its base URL and settings; a secret-looking one is masked."""
    from models.settings import StoreConfig

    settings = api.services.settings  # shared by the module's tests: put back afterwards
    before = settings.stores
    settings.stores = {
        "noop": StoreConfig(url="http://shop.test/", max_concurrent=2, region="eu", api_key="s3cret")
    }
    try:
        stores = {s["name"]: s for s in (await api.http.get("/api/stores")).json()}
    finally:
        settings.stores = before
    assert stores["noop"]["url"] == "http://shop.test"
    assert stores["noop"]["settings"] == {
        "max_concurrent": 2,
        "min_interval": 0.0,
        "region": "eu",
        "api_key": "***",
    }
    assert stores["demo"]["url"].endswith("/demo-store")  # the demo store's own, unconfigured


# ---- start-up -----------------------------------------------------------------------------


async def test_requests_wait_until_the_services_are_ready(db: Database, pg_url: str, tmp_path: Path) -> None:
    """NiceGUI serves before its start-up coroutines finish: the API answers once they have."""
    services = Services.build(api_settings(pg_url, tmp_path))
    transport = httpx.ASGITransport(app=build_app(services))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            early = asyncio.create_task(http.get("/api/health"))
            await asyncio.sleep(0.3)
            assert not early.done()
            await start_without_worker(services)
            response = await asyncio.wait_for(early, timeout=10)
            assert response.status_code == 200
            assert response.json()["ok"] is True
    finally:
        await services.stop()


# ---- embedded SQLite ----------------------------------------------------------------------


async def test_the_api_on_embedded_sqlite(tmp_path: Path) -> None:
    """The same routes on the embedded default (SQLite), stats' per-minute grouping included."""
    from models import migrations

    url = f"sqlite+aiosqlite:///{tmp_path / 'taskdeck.db'}"
    schema = Database(url)
    await migrations.upgrade(schema)
    await schema.dispose()
    user = await make_user(url, "sqlite@taskdeck.test")
    services = Services.build(api_settings(url, tmp_path))
    await start_without_worker(services)
    try:
        transport = httpx.ASGITransport(app=build_app(services))
        async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=user.headers) as http:
            assert (await http.get("/api/health")).json()["database"] == "sqlite"
            created = (
                await http.post("/api/tasks", json={"name": "x", "store": "noop", "product": "y"})
            ).json()
            async with services.db.begin() as session:
                task = await claims.claim_next(session, worker_id="w")
                assert task is not None
                await outcomes.record_outcome(
                    session, task=task, worker_id="w", to=S.COMPLETED, outcome="completed"
                )
            stats = (await http.get("/api/stats")).json()
            assert stats["counts"]["completed"] == 1
            assert sum(p["completed"] for p in stats["throughput"]) == 1
            listed = (await http.get("/api/tasks", params={"status": "completed"})).json()
            assert [t["id"] for t in listed["data"]] == [created["id"]]
    finally:
        await services.stop()
