"""``/api/watches`` as a client sees it (no worker runs here: listing tasks stay queued)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import insert, select, update
from sqlmodel import col

from models.tables import Purchase, Task, TaskEvent, Watch
from models.types import utcnow
from tests.conftest import AuthUser
from tests.webapp.test_api import Api, api, api_app

__all__ = ["api", "api_app"]

LISTINGS = [
    {"store": "demo", "product": "gpu-founders", "maxPrice": 700},
    {"store": "demo", "product": "console-limited", "maxPrice": 520},
]


async def create(api: Api, **fields: Any) -> dict[str, Any]:
    body = {"name": "GPU anywhere", "quantity": 1, "checkEvery": 30, "listings": LISTINGS, **fields}
    response = await api.http.post("/api/watches", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_create_answers_201_with_id_status_and_a_monitor_task_per_listing(api: Api) -> None:
    watch = await create(api)
    assert watch["status"] == "watching" and watch["id"]
    assert [(x["product"], x["maxPrice"]) for x in watch["listings"]] == [
        ("gpu-founders", 700.0),
        ("console-limited", 520.0),
    ]
    for listing in watch["listings"]:
        assert listing["lastPrice"] is None and listing["inStock"] is None
        task = (await api.http.get(f"/api/tasks/{listing['taskId']}")).json()
        assert task["mode"] == "monitor" and task["checkEvery"] == 30.0
        assert task["maxPrice"] == listing["maxPrice"] and task["status"] == "queued"
    assert watch["purchase"] is None
    listed = (await api.http.get("/api/watches")).json()
    assert listed["count"] == 1 and listed["data"][0]["id"] == watch["id"]
    assert (await api.http.get(f"/api/watches/{watch['id']}/history")).json() == {"data": []}


async def test_bad_watches_are_refused_with_a_clear_error_and_no_rows(api: Api) -> None:
    cases = [
        ({"listings": []}, "listings"),
        ({"listings": [LISTINGS[0], LISTINGS[0]]}, "given twice"),
        ({"listings": [{"store": "nowhere", "product": "x", "maxPrice": 1}]}, "unknown store"),
        ({"listings": [{"store": "demo", "product": "no-such-thing", "maxPrice": 1}]}, "listings.0."),
        ({"listings": [{"store": "demo", "product": "gpu-founders", "maxPrice": -1}]}, "maxPrice"),
        ({"until": "2020-01-01T00:00:00Z"}, "until: must be in the future"),
        ({"quantity": 0}, "quantity"),
    ]
    for fields, message in cases:
        body = {"name": "w", "listings": LISTINGS, **fields}
        response = await api.http.post("/api/watches", json=body)
        assert response.status_code == 422, (fields, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert message in response.text, (fields, response.text)
    assert await api.rows() == 0  # no task was written either
    assert (await api.http.get("/api/watches")).json()["count"] == 0


async def test_cancel_stops_every_listing_and_delete_needs_an_ended_watch(api: Api) -> None:
    watch = await create(api)
    url = f"/api/watches/{watch['id']}"
    refused = await api.http.delete(url)
    assert refused.status_code == 409 and "cancel it first" in refused.text
    cancelled = await api.http.post(f"{url}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    for listing in cancelled.json()["listings"]:
        assert listing["taskStatus"] == "cancelled"
    again = await api.http.post(f"{url}/cancel")
    assert again.status_code == 409
    assert (await api.http.delete(url)).status_code == 204
    assert (await api.http.get(url)).status_code == 404
    assert await api.rows() == 0  # its tasks went with it


async def test_edit_changes_the_watch_and_its_listing_tasks(api: Api) -> None:
    watch = await create(api)
    first = watch["listings"][0]
    body = {"name": "Cheaper", "checkEvery": 10, "maxPrices": {first["id"]: 650}}
    edited = await api.http.patch(f"/api/watches/{watch['id']}", json=body)
    assert edited.status_code == 200, edited.text
    assert edited.json()["name"] == "Cheaper" and edited.json()["checkEvery"] == 10.0
    assert edited.json()["listings"][0]["maxPrice"] == 650.0
    task = (await api.http.get(f"/api/tasks/{first['taskId']}")).json()
    assert task["maxPrice"] == 650.0 and task["checkEvery"] == 10.0


async def test_another_users_watch_is_404_everywhere(api: Api, second_user: AuthUser) -> None:
    watch = await create(api)
    url = f"/api/watches/{watch['id']}"
    b = second_user.headers
    for method, path in [("GET", url), ("GET", f"{url}/history"), ("POST", f"{url}/cancel"), ("DELETE", url)]:
        response = await api.http.request(method, path, headers=b)
        assert response.status_code == 404, (method, path, response.text)
    assert (await api.http.get("/api/watches", headers=b)).json()["count"] == 0
    assert (await api.http.get(url)).json()["status"] == "watching"  # untouched


async def in_doubt(api: Api, watch: dict[str, Any]) -> str:
    """As the engine leaves it: the first listing's task ``unknown``, the watch ``unknown``, the
    other listing stopped."""
    first, other = (uuid.UUID(x["taskId"]) for x in watch["listings"])
    async with api.db.begin() as session:
        await session.execute(
            update(Task)
            .where(col(Task.id) == first)
            .values(status="unknown", error="order may have been placed")
        )
        await session.execute(update(Task).where(col(Task.id) == other).values(status="cancelled"))
        await session.execute(
            update(Watch)
            .where(col(Watch.id) == uuid.UUID(watch["id"]))
            .values(status="unknown", claimed_by=first, error="an order may have been placed")
        )
    return str(first)


async def test_marking_the_listing_bought_makes_the_watch_bought_with_its_purchase(api: Api) -> None:
    watch = await create(api)
    task_id = await in_doubt(api, watch)
    marked = await api.http.post(f"/api/tasks/{task_id}/mark-bought", json={"orderNumber": "DS-77"})
    assert marked.status_code == 200, marked.text
    after = (await api.http.get(f"/api/watches/{watch['id']}")).json()
    assert after["status"] == "bought" and after["purchase"]["orderNumber"] == "DS-77"


async def test_marking_it_not_bought_watches_again_with_every_listing_restarted(api: Api) -> None:
    watch = await create(api)
    task_id = await in_doubt(api, watch)
    assert (await api.http.post(f"/api/tasks/{task_id}/mark-not-bought")).status_code == 200
    after = (await api.http.get(f"/api/watches/{watch['id']}")).json()
    assert after["status"] == "watching" and after["error"] is None and after["purchase"] is None
    assert {x["taskStatus"] for x in after["listings"]} == {"queued"}


async def test_cancelling_a_waiting_claimant_releases_the_watch(api: Api) -> None:
    """A listing that held the claim and waits to retry, cancelled by its owner: watching goes on."""
    watch = await create(api)
    first = uuid.UUID(watch["listings"][0]["taskId"])
    async with api.db.begin() as session:
        await session.execute(update(Task).where(col(Task.id) == first).values(status="retrying"))
        await session.execute(
            update(Watch)
            .where(col(Watch.id) == uuid.UUID(watch["id"]))
            .values(status="buying", claimed_by=first)
        )
    assert (await api.http.post(f"/api/tasks/{first}/cancel")).status_code == 200
    after = (await api.http.get(f"/api/watches/{watch['id']}")).json()
    assert after["status"] == "watching"
    assert [x["taskStatus"] for x in after["listings"]] == ["cancelled", "queued"]


async def test_a_second_purchase_is_refused_by_the_database_and_said_so(api: Api) -> None:
    """The watch has its purchase; another listing's order turns up (a person marks it bought):
    the purchase is kept on its task, the watch stays ``bought`` with its first purchase and
    says what happened — no 500, no half-written row."""
    watch = await create(api)
    first, other = (uuid.UUID(x["taskId"]) for x in watch["listings"])
    row = {
        "store": "demo",
        "quantity": 1,
        "unit_price": 1,
        "total": 1,
        "currency": "USD",
        "owner_id": uuid.UUID(watch["ownerId"]),
    }
    async with api.db.begin() as session:
        await session.execute(update(Task).where(col(Task.id) == first).values(status="completed"))
        await session.execute(
            insert(Purchase).values(
                task_id=first,
                product="gpu-founders",
                order_number="DS-1",
                watch_id=uuid.UUID(watch["id"]),
                created_at=utcnow(),
                **row,
            )
        )
        await session.execute(update(Task).where(col(Task.id) == other).values(status="unknown"))
        await session.execute(
            update(Watch)
            .where(col(Watch.id) == uuid.UUID(watch["id"]))
            .values(status="bought", claimed_by=first)
        )
    marked = await api.http.post(f"/api/tasks/{other}/mark-bought", json={"orderNumber": "DS-2"})
    assert marked.status_code == 200, marked.text
    assert marked.json()["status"] == "completed"
    after = (await api.http.get(f"/api/watches/{watch['id']}")).json()
    assert after["status"] == "bought" and after["purchase"]["orderNumber"] == "DS-1"
    assert "second purchase was refused" in after["error"] and "DS-2" in after["error"]
    async with api.db.session() as session:
        second = await session.scalar(select(Purchase).where(col(Purchase.task_id) == other))
        told = list(
            await session.scalars(select(col(TaskEvent.message)).where(col(TaskEvent.task_id) == other))
        )
    assert second is not None and second.order_number == "DS-2" and second.watch_id is None
    assert any("second purchase for its watch refused" in str(m) for m in told)


async def test_edit_adds_and_removes_listings_while_watching(api: Api) -> None:
    watch = await create(api)
    gpu, console = watch["listings"]
    body = {
        "listings": [
            {"store": "demo", "product": "gpu-founders", "maxPrice": 680},  # kept, a new price
            {"store": "demo", "product": "sneaker-drop", "maxPrice": 150},  # added
        ]
    }
    edited = await api.http.patch(f"/api/watches/{watch['id']}", json=body)
    assert edited.status_code == 200, edited.text
    after = edited.json()["listings"]
    assert [(x["product"], x["maxPrice"]) for x in after] == [
        ("gpu-founders", 680.0),
        ("sneaker-drop", 150.0),
    ]
    assert after[0]["id"] == gpu["id"] and after[0]["taskId"] == gpu["taskId"]  # its task and history stay
    added = (await api.http.get(f"/api/tasks/{after[1]['taskId']}")).json()
    assert (added["status"], added["mode"], added["maxPrice"]) == ("queued", "monitor", 150.0)  # checking
    removed = (await api.http.get(f"/api/tasks/{console['taskId']}")).json()
    assert removed["status"] == "cancelled"  # its monitor stopped
    assert (await api.http.get(f"/api/tasks/{gpu['taskId']}")).json()["maxPrice"] == 680.0

    unknown = {"listings": [{"store": "demo", "product": "no-such-thing", "maxPrice": 1}]}
    refused = await api.http.patch(f"/api/watches/{watch['id']}", json=unknown)
    assert refused.status_code == 422 and "listings.0.product" in refused.text
    both = {"listings": body["listings"], "maxPrices": {gpu["id"]: 1}}
    assert (await api.http.patch(f"/api/watches/{watch['id']}", json=both)).status_code == 422

    async with api.db.begin() as session:  # the kept listing's check is running: asked to stop
        await session.execute(
            update(Task).where(col(Task.id) == uuid.UUID(gpu["taskId"])).values(status="running")
        )
    only = {"listings": [{"store": "demo", "product": "sneaker-drop", "maxPrice": 150}]}
    running = await api.http.patch(f"/api/watches/{watch['id']}", json=only)
    assert running.status_code == 200, running.text
    assert [x["product"] for x in running.json()["listings"]] == ["sneaker-drop"]
    async with api.db.session() as session:
        stopping = await session.get(Task, uuid.UUID(gpu["taskId"]))
        assert stopping is not None and stopping.cancel_requested  # its run ends cancelled, unclaimed

    async with api.db.begin() as session:
        await session.execute(
            update(Watch).where(col(Watch.id) == uuid.UUID(watch["id"])).values(status="expired")
        )
    assert (await api.http.patch(f"/api/watches/{watch['id']}", json=only)).status_code == 409
