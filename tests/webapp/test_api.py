"""The JSON API, in process, on the real Postgres: create, validation, execute, status, list, detail.

The app is a plain FastAPI with ``create_router(services)`` and the demo store, as ``webapp.main``
wires them. No worker runs: kicks go to an in-memory broker with no runtime, so a queued task stays
queued and the tests move tasks on with the same model functions workers use.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from models import claims, outcomes
from models.db import Database
from models.settings import Settings
from models.states import TaskStatus
from models.tables import Task, TaskEvent
from models.tasks import get_task
from tests.conftest import AuthUser, wait_for
from tests.webapp.problems import conflict, not_found
from webapp.api import create_router
from webapp.api.errors import install as install_problems
from webapp.demo_store import create_demo_store
from webapp.services import Services
from workers.artifacts import ArtifactStore

S = TaskStatus
PRODUCTS = ["sneaker-drop", "gpu-founders", "console-limited", "vinyl-box", "collector-figure"]


@dataclass
class Api:
    http: httpx.AsyncClient
    services: Services
    db: Database
    app: FastAPI  # its OpenAPI schema: ``api.app.openapi()``

    async def create(self, **fields: Any) -> dict[str, Any]:
        body = {"name": "Sneakers", "store": "demo", "product": "sneaker-drop", **fields}
        response = await self.http.post("/api/tasks", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    async def rows(self, table: Any = Task) -> int:
        async with self.db.session() as session:
            return await session.scalar(select(func.count()).select_from(table)) or 0

    async def status(self, task_id: str) -> str:
        async with self.db.session() as session:
            return str(await session.scalar(select(Task.status).where(Task.id == uuid.UUID(task_id))))

    async def run(self, task_id: str, *, worker_id: str = "worker-1") -> Task:
        """Claim the task as a worker does (it must be the best queued one)."""
        async with self.db.begin() as session:
            task = await claims.claim_next(session, worker_id=worker_id)
        assert task is not None and str(task.id) == task_id, "expected to claim this task"
        return task

    async def complete(self, task_id: str, *, worker_id: str = "worker-1") -> Task:
        """Run the task to ``completed`` with a purchase, as the executor records it."""
        task = await self.run(task_id, worker_id=worker_id)
        async with self.db.begin() as session:
            await outcomes.record_purchase(
                session,
                task=task,
                purchase={
                    "order_number": f"DS-{task_id[:6]}",
                    "quantity": task.quantity,
                    "unit_price": Decimal("120.00"),
                    "total": Decimal("120.00") * task.quantity,
                    "currency": "USD",
                    "product_name": "Aurora Sneaker Drop",
                },
            )
            result = {
                "orderNumber": f"DS-{task_id[:6]}",
                "quantity": task.quantity,
                "unitPrice": 120.0,
                "total": 120.0 * task.quantity,
                "currency": "USD",
                "productName": "Aurora Sneaker Drop",
            }
            await outcomes.record_outcome(
                session, task=task, worker_id=worker_id, to=S.COMPLETED, outcome="completed",
                values={"result": result, "progress": 100},
            )  # fmt: skip
            return await get_task(session, task.id)

    async def fail(self, task_id: str, *, worker_id: str = "worker-1") -> Task:
        task = await self.run(task_id, worker_id=worker_id)
        async with self.db.begin() as session:
            await outcomes.record_outcome(
                session,
                task=task,
                worker_id=worker_id,
                to=S.FAILED,
                outcome="permanent",
                error="price too high",
            )
            return await get_task(session, task.id)


def build_app(services: Services) -> FastAPI:
    app = FastAPI()
    app.include_router(create_router(services))
    install_problems(app)  # as webapp.main does
    app.include_router(create_demo_store(), prefix="/demo-store")
    return app


async def start_without_worker(services: Services) -> None:
    """What ``Services.start`` does, minus the embedded worker: queued tasks stay queued."""
    await services.broker.startup()
    await services.hub.start()
    # let the hub's LISTEN connection finish connecting: stopping it mid-connect leaves an
    # asyncpg future whose error nobody retrieves
    await wait_for(lambda: services.hub.connected, timeout=10, what="the live hub to connect")
    services.ready.set()


def api_settings(pg_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"demo_store": True, "artifacts_dir": tmp_path / "artifacts", **overrides}
    return Settings(database_url=pg_url, redis_url=None, **values)


@pytest.fixture(scope="module")
async def api_app(
    pg_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Services, FastAPI]]:
    """The services and the app, built once per test module: building the app (every route and
    its models) is what costs; each test still gets an emptied database (``api`` needs ``db``),
    the demo store as shipped, an empty token cache and artifacts under its own ``tmp_path``."""
    services = Services.build(api_settings(pg_url, tmp_path_factory.mktemp("api")))
    await start_without_worker(services)
    try:
        yield services, build_app(services)
    finally:
        await services.stop()


@pytest.fixture
async def api(
    db: Database, api_app: tuple[Services, FastAPI], api_user: AuthUser, tmp_path: Path
) -> AsyncIterator[Api]:
    services, app = api_app
    services.tokens.clear()
    services.artifacts = ArtifactStore(tmp_path / "artifacts")  # the test's own, where it writes them
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://taskdeck.test", timeout=10, headers=api_user.headers
    ) as http:
        reset = await http.post("/demo-store/api/reset", json={})
        assert reset.status_code in (200, 204), reset.text
        yield Api(http=http, services=services, db=db, app=app)


def soon(seconds: float = 3600) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


# ---- health -------------------------------------------------------------------------------


async def test_health_names_what_the_process_runs_on(api: Api) -> None:
    response = await api.http.get("/api/health")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert body["database"] == "postgresql"
    assert body["queue"] == "in-process"
    assert isinstance(body["live"], bool)


# ---- create -------------------------------------------------------------------------------

TASK_KEYS = {
    "id", "name", "store", "product", "quantity", "maxPrice", "status", "priority", "mode", "checkEvery",
    "until", "runAt", "maxAttempts", "backoffSeconds", "backoffCap", "attempts", "checks", "lastCheck",
    "lastCheckAt", "progress", "step", "error", "result", "cancelRequested", "trace", "profileId", "ownerId",
    "workerId",
    "heartbeatAt", "createdAt", "updatedAt", "startedAt", "finishedAt", "nextCheckAt",
}  # fmt: skip


async def test_create_now_is_queued_with_every_field(api: Api) -> None:
    response = await api.http.post(
        "/api/tasks",
        json={
            "name": "  GPU drop ", "store": "demo", "product": "gpu-founders", "quantity": 2,
            "maxPrice": 700.5, "priority": 5, "maxAttempts": 4, "backoffSeconds": 1.5, "backoffCap": 30,
            "trace": True,
        },
    )  # fmt: skip
    assert response.status_code == 201, response.text
    task = response.json()
    assert set(task) == TASK_KEYS
    assert response.headers["location"] == f"/api/tasks/{task['id']}"
    uuid.UUID(task["id"])
    assert task["name"] == "GPU drop"
    assert task["status"] == "queued"
    assert (task["store"], task["product"], task["quantity"]) == ("demo", "gpu-founders", 2)
    assert task["maxPrice"] == 700.5
    assert (task["priority"], task["maxAttempts"], task["backoffSeconds"], task["backoffCap"]) == (
        5,
        4,
        1.5,
        30,
    )
    assert task["trace"] is True
    assert (task["attempts"], task["progress"], task["mode"], task["error"]) == (0, 0, "once", None)
    assert await api.status(task["id"]) == "queued"


async def test_create_defaults(api: Api) -> None:
    task = await api.create()
    assert task["quantity"] == 1
    assert task["maxPrice"] is None
    assert task["maxAttempts"] == api.services.settings.max_attempts
    assert task["priority"] == 0
    assert task["runAt"] is None


async def test_create_later_is_pending(api: Api) -> None:
    task = await api.create(start="later")
    assert task["status"] == "pending"
    assert await api.status(task["id"]) == "pending"


async def test_create_at_a_future_time_is_scheduled(api: Api) -> None:
    run_at = soon()
    task = await api.create(start="at", runAt=run_at)
    assert task["status"] == "scheduled"
    assert datetime.fromisoformat(task["runAt"]) == datetime.fromisoformat(run_at)


async def test_create_at_a_past_time_is_queued_now(api: Api) -> None:
    task = await api.create(start="at", runAt=soon(-60))
    assert task["status"] == "queued"


async def test_create_monitor_task(api: Api) -> None:
    until = soon(7200)
    task = await api.create(mode="monitor", checkEvery=5, until=until)
    assert (task["mode"], task["checkEvery"]) == ("monitor", 5.0)
    assert datetime.fromisoformat(task["until"]) == datetime.fromisoformat(until)


async def test_a_monitor_check_is_not_an_attempt(api: Api) -> None:
    """A check that found nothing: no attempt in the history, no error, the next check's time."""
    from workers.errors import NotAvailableYet
    from workers.outcome import classify

    created = await api.create(mode="monitor", checkEvery=60)
    task = await api.run(created["id"])
    waiting = classify(
        task, NotAvailableYet(observation="out of stock"), stop_reason=None, settings=api.services.settings
    )
    async with api.db.begin() as session:
        await outcomes.record_outcome(
            session,
            task=task,
            worker_id="worker-1",
            to=waiting.to,
            outcome=waiting.outcome,
            error=waiting.error,
            values=waiting.values,
        )
    body = (await api.http.get(f"/api/tasks/{created['id']}")).json()
    assert (body["status"], body["checks"], body["lastCheck"]) == ("scheduled", 1, "out of stock")
    assert body["attemptHistory"] == [] and body["error"] is None and body["attempts"] == 0
    assert body["nextCheckAt"] is not None and body["nextCheckAt"] == body["runAt"]


@pytest.mark.parametrize(
    "product",
    [
        "http://127.0.0.1:8080/demo-store/products/vinyl-box",
        "https://shop.example/demo-store/products/vinyl-box/",
    ],
)
async def test_create_with_a_demo_product_url(api: Api, product: str) -> None:
    task = await api.create(product=product)
    assert task["product"] == product


async def test_create_for_another_store_takes_any_product(api: Api) -> None:
    task = await api.create(store="noop", product="anything-at-all")
    assert (task["store"], task["status"]) == ("noop", "queued")


BAD_INPUT = [
    ({"store": "nowhere"}, "unknown store 'nowhere'; known stores: demo, "),
    ({"product": "unicorn"}, f"unknown product 'unicorn' in store demo; known: {', '.join(PRODUCTS)}"),
    ({"quantity": 0}, "quantity: Input should be greater than or equal to 1"),
    ({"quantity": "many"}, "quantity: Input should be a valid integer"),
    ({"name": "   "}, "name must not be blank"),
    ({"name": None}, "name: Input should be a valid string"),
    ({"maxPrice": -1}, "maxPrice: Input should be greater than or equal to 0"),
    ({"maxPrice": 10.001}, "maxPrice: Decimal input should have no more than 2 decimal places"),
    ({"maxPrice": float("inf")}, "maxPrice: Input should be a finite number"),
    ({"mode": "monitor", "checkEvery": float("nan")}, "checkEvery: "),
    ({"start": "tomorrow"}, "start: Input should be 'now', 'later' or 'at'"),
    ({"start": "at"}, 'start "at" needs runAt'),
    ({"runAt": "2030-01-01T00:00:00Z"}, 'runAt is only allowed with start "at"'),
    ({"start": "at", "runAt": "2030-01-01T00:00:00"}, "runAt: Input should have timezone info"),
    ({"mode": "monitor"}, 'mode "monitor" needs checkEvery'),
    ({"checkEvery": 5}, 'checkEvery and until are only allowed with mode "monitor"'),
    ({"mode": "monitor", "checkEvery": 5, "until": "2001-01-01T00:00:00Z"}, "until: must be in the future"),
    ({"priority": 5000}, "priority: Input should be less than or equal to 1000"),
    ({"maxAttempts": 0}, "maxAttempts: Input should be greater than or equal to 1"),
    ({"colour": "red"}, "colour: unknown field"),
    ({"profileId": "not-a-uuid"}, "profileId: not a valid id (expected a UUID)"),
    ({"profileId": str(uuid.uuid4())}, "profileId: no profile with id"),
    ({"product": "ftp://files.example/demo-store/products/vinyl-box"}, "must be an http(s) URL"),
    ({"product": "javascript:alert(1)"}, "must be an http(s) URL"),
    ({"product": "http://[::1/products/x"}, "is malformed"),
    ({"product": "https://shop.example/elsewhere/vinyl-box"}, "is not a demo store product page"),
    (
        {"product": "https://shop.example/demo-store/products/unicorn"},
        "unknown product 'unicorn' in store demo",
    ),
    ({"name": "nul\x00byte"}, "name: must not contain NUL characters"),
    (
        {"product": "a\ud800b"},
        "product: Input should be a valid string, unable to parse raw data as a unicode",
    ),
    ({"store": "noop", "product": "ftp://x.example/y"}, "must be an http(s) URL"),
]


@pytest.mark.parametrize(("change", "message"), BAD_INPUT, ids=[m[:40] for _, m in BAD_INPUT])
async def test_create_refuses_bad_input_and_writes_nothing(
    api: Api, change: dict[str, Any], message: str
) -> None:
    body = {"name": "Sneakers", "store": "demo", "product": "sneaker-drop", **change}
    content = json.dumps(body)  # ASCII with \u escapes: carries a lone surrogate as JSON may
    response = await api.http.post(
        "/api/tasks", content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert message in problem["detail"]
    assert isinstance(problem["errors"], list) and problem["errors"]
    assert await api.rows(Task) == 0
    assert await api.rows(TaskEvent) == 0


@pytest.mark.parametrize(
    ("content", "headers", "message"),
    [
        (b"{not json", {"content-type": "application/json"}, "the body is not valid JSON"),
        (b"[1, 2]", {"content-type": "application/json"}, "0: must be a JSON object"),
        (b"", {"content-type": "application/json"}, "a JSON body is required"),
        (b'{"name": "x"}', {"content-type": "application/json"}, "store: required"),
    ],
)
async def test_create_refuses_malformed_bodies(
    api: Api, content: bytes, headers: dict[str, str], message: str
) -> None:
    response = await api.http.post("/api/tasks", content=content, headers=headers)
    assert response.status_code == 422, response.text
    assert message in response.json()["detail"]
    assert await api.rows(Task) == 0


async def test_create_with_the_catalogue_of_a_demo_store_elsewhere(
    db: Database, pg_url: str, tmp_path: Path, auth_headers: dict[str, str]
) -> None:
    """With ``TASKDECK_DEMO_STORE_URL`` the product is checked against that store's JSON API."""
    from tests.conftest_demo import demo_store_app, serve_app

    with serve_app(demo_store_app()) as origin:
        settings = api_settings(pg_url, tmp_path, demo_store=False, demo_store_url=f"{origin}/demo-store")
        services = Services.build(settings)
        await start_without_worker(services)
        try:
            transport = httpx.ASGITransport(app=build_app(services))
            async with httpx.AsyncClient(
                transport=transport, base_url="http://t", headers=auth_headers
            ) as http:
                bad = await http.post("/api/tasks", json={"name": "x", "store": "demo", "product": "unicorn"})
                assert bad.status_code == 422
                assert (
                    bad.json()["detail"]
                    == f"unknown product 'unicorn' in store demo; known: {', '.join(PRODUCTS)}"
                )
                good = await http.post(
                    "/api/tasks", json={"name": "x", "store": "demo", "product": "vinyl-box"}
                )
                assert good.status_code == 201, good.text
        finally:
            await services.stop()


async def test_create_when_the_demo_store_cannot_be_reached(
    db: Database, pg_url: str, tmp_path: Path, auth_headers: dict[str, str]
) -> None:
    """An unreachable catalogue is a 503 that says so, and no row."""
    from tests.conftest import free_port

    settings = api_settings(pg_url, tmp_path, demo_store_url=f"http://127.0.0.1:{free_port()}/demo-store")
    services = Services.build(settings)
    await start_without_worker(services)
    try:
        transport = httpx.ASGITransport(app=build_app(services))
        async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=auth_headers) as http:
            response = await http.post(
                "/api/tasks", json={"name": "x", "store": "demo", "product": "vinyl-box"}
            )
        assert response.status_code == 503
        assert "catalogue" in response.json()["detail"]
        async with db.session() as session:
            assert await session.scalar(select(func.count()).select_from(Task)) == 0
    finally:
        await services.stop()


# ---- execute ------------------------------------------------------------------------------


async def test_execute_queues_a_pending_task(api: Api) -> None:
    task = await api.create(start="later")
    response = await api.http.post("/api/tasks/execute", json={"taskId": task["id"]})
    assert response.status_code == 202, response.text
    assert response.json() == {"taskId": task["id"], "status": "queued"}
    assert await api.status(task["id"]) == "queued"


@pytest.mark.parametrize("end", ["fail", "cancel"])
async def test_execute_queues_a_failed_or_cancelled_task_again(api: Api, end: str) -> None:
    task = await api.create()
    if end == "fail":
        await api.fail(task["id"])
    else:
        assert (await api.http.post(f"/api/tasks/{task['id']}/cancel")).status_code == 200
    response = await api.http.post("/api/tasks/execute", json={"taskId": task["id"]})
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "queued"
    detail = (await api.http.get(f"/api/tasks/{task['id']}")).json()
    ran = 1 if end == "fail" else 0  # the attempt numbering goes on after a retry
    assert (detail["status"], detail["attempts"], detail["error"]) == ("queued", ran, None)


async def test_execute_refuses_a_queued_running_or_completed_task(api: Api) -> None:
    queued = await api.create()
    response = await api.http.post("/api/tasks/execute", json={"taskId": queued["id"]})
    assert response.status_code == 409
    assert response.json() == conflict("cannot execute: task is queued", "queued")

    await api.run(queued["id"])
    response = await api.http.post("/api/tasks/execute", json={"taskId": queued["id"]})
    assert (response.status_code, response.json()["taskStatus"]) == (409, "running")
    assert "running" in response.json()["detail"]

    done = await api.create()
    await api.complete(done["id"])
    response = await api.http.post("/api/tasks/execute", json={"taskId": done["id"]})
    assert response.status_code == 409
    assert response.json() == conflict("cannot execute: task is completed", "completed")


async def test_execute_unknown_task_is_404(api: Api) -> None:
    missing = uuid.uuid4()
    response = await api.http.post("/api/tasks/execute", json={"taskId": str(missing)})
    assert response.status_code == 404
    assert response.json() == not_found(f"no task with id {missing}")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"taskId": "12345"}, "taskId: not a valid id (expected a UUID)"),
        ({"taskId": 7}, "taskId"),
        ({}, "taskId: required"),
        ({"taskId": str(uuid.uuid4()), "force": True}, "force: unknown field"),
    ],
)
async def test_execute_malformed_is_422(api: Api, body: dict[str, Any], message: str) -> None:
    response = await api.http.post("/api/tasks/execute", json=body)
    assert response.status_code == 422, response.text
    assert message in response.json()["detail"]


# ---- status -------------------------------------------------------------------------------

STATUS_KEYS = {
    "taskId", "status", "attempts", "progress", "step", "error", "result",
    "createdAt", "startedAt", "finishedAt",
}  # fmt: skip


async def test_status_of_a_queued_task(api: Api) -> None:
    task = await api.create()
    response = await api.http.get("/api/tasks/execute", params={"taskId": task["id"]})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == STATUS_KEYS
    assert body["taskId"] == task["id"]
    assert (body["status"], body["attempts"], body["progress"], body["result"]) == ("queued", 0, 0, None)
    assert body["startedAt"] is None and body["finishedAt"] is None
    assert body["createdAt"] == task["createdAt"]


async def test_status_of_a_completed_task_carries_the_result(api: Api) -> None:
    task = await api.create(quantity=2)
    await api.complete(task["id"])
    body = (await api.http.get("/api/tasks/execute", params={"taskId": task["id"]})).json()
    assert (body["status"], body["attempts"], body["progress"]) == ("completed", 1, 100)
    assert body["result"]["orderNumber"] == f"DS-{task['id'][:6]}"
    assert (body["result"]["quantity"], body["result"]["unitPrice"], body["result"]["total"]) == (
        2,
        120.0,
        240.0,
    )
    assert body["startedAt"] is not None and body["finishedAt"] is not None


async def test_status_404_and_422(api: Api) -> None:
    missing = await api.http.get("/api/tasks/execute", params={"taskId": str(uuid.uuid4())})
    assert missing.status_code == 404
    bad = await api.http.get("/api/tasks/execute", params={"taskId": "abc"})
    assert bad.status_code == 422
    assert bad.json()["detail"] == "taskId: not a valid id (expected a UUID)"
    absent = await api.http.get("/api/tasks/execute")
    assert (absent.status_code, absent.json()["detail"]) == (422, "taskId: required")


# ---- list ---------------------------------------------------------------------------------


async def test_list_newest_first_with_paging(api: Api) -> None:
    ids = [(await api.create(name=f"task {i}", start="later"))["id"] for i in range(5)]
    body = (await api.http.get("/api/tasks")).json()
    assert body["count"] == 5
    assert [t["id"] for t in body["data"]] == ids[::-1]
    assert set(body["data"][0]) == TASK_KEYS

    page = (await api.http.get("/api/tasks", params={"limit": 2, "offset": 1})).json()
    assert page["count"] == 5
    assert [t["id"] for t in page["data"]] == ids[::-1][1:3]
    oldest = (await api.http.get("/api/tasks", params={"order": "created", "limit": 1})).json()
    assert oldest["data"][0]["id"] == ids[0]


async def test_list_filters(api: Api) -> None:
    pending = await api.create(name="Vinyl for Ana", product="vinyl-box", start="later")
    queued = await api.create(name="GPU", product="gpu-founders")
    noop = await api.create(name="engine check", store="noop", product="x")
    failed = await api.create(name="Console", product="console-limited", priority=100)
    await api.fail(failed["id"])

    async def ids(**params: Any) -> set[str]:
        response = await api.http.get("/api/tasks", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["count"] == len(body["data"])
        return {t["id"] for t in body["data"]}

    assert await ids(status="pending") == {pending["id"]}
    assert await ids(status="pending,failed") == {pending["id"], failed["id"]}
    assert await ids(status=["queued", "failed"]) == {queued["id"], noop["id"], failed["id"]}
    assert await ids(store="noop") == {noop["id"]}
    assert await ids(q="vinyl") == {pending["id"]}  # product slug
    assert await ids(q="ana") == {pending["id"]}  # name, any case
    assert await ids(q="gpu", status="queued", store="demo") == {queued["id"]}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"status": "lost"}, "status: unknown status 'lost'; known: pending, scheduled"),
        ({"status": "queued,done"}, "unknown status 'done'"),
        ({"limit": 0}, "limit: Input should be greater than or equal to 1"),
        ({"limit": 501}, "limit: Input should be less than or equal to 500"),
        ({"offset": -1}, "offset: Input should be greater than or equal to 0"),
        ({"offset": 10**20}, "offset: Input should be less than or equal to"),
        ({"order": "random"}, "order: Input should be"),
        ({"q": "a\x00b"}, "q: must not contain NUL characters"),
    ],
)
async def test_list_bad_parameters_are_422(api: Api, params: dict[str, Any], message: str) -> None:
    response = await api.http.get("/api/tasks", params=params)
    assert response.status_code == 422, response.text
    assert message in response.json()["detail"]


# ---- detail -------------------------------------------------------------------------------


async def test_detail_has_attempt_history_and_events(api: Api) -> None:
    task = await api.create()
    await api.fail(task["id"])
    await api.http.post(f"/api/tasks/{task['id']}/retry")
    await api.complete(task["id"], worker_id="worker-2")

    response = await api.http.get(f"/api/tasks/{task['id']}")
    assert response.status_code == 200
    detail = response.json()
    assert set(detail) == TASK_KEYS | {"attemptHistory", "events"}
    assert (detail["status"], detail["attempts"], detail["workerId"]) == ("completed", 2, "worker-2")
    history = detail["attemptHistory"]
    assert [(a["number"], a["workerId"], a["outcome"]) for a in history] == [
        (1, "worker-1", "permanent"),
        (2, "worker-2", "completed"),  # a retry continues the numbering
    ]
    assert history[0]["error"] == "price too high"
    assert all(a["startedAt"] and a["finishedAt"] for a in history)
    states = [e["status"] for e in detail["events"] if e["kind"] == "state"]
    assert states == ["queued", "running", "failed", "queued", "running", "completed"]
    assert detail["events"][0]["message"] == "created"
    assert set(detail["events"][0]) == {"id", "at", "kind", "status", "step", "progress", "message", "data"}


async def test_detail_404_and_422(api: Api) -> None:
    missing = uuid.uuid4()
    response = await api.http.get(f"/api/tasks/{missing}")
    assert (response.status_code, response.json()) == (404, not_found(f"no task with id {missing}"))
    response = await api.http.get("/api/tasks/not-a-uuid")
    assert response.status_code == 422
    assert response.json()["detail"] == "id: not a valid id (expected a UUID)"
