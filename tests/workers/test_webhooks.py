"""Webhook deliveries end to end in a worker runtime: written with the outcome (never on a
rollback), signed, POSTed to a real HTTP server, retried after a 500, kept across a restart."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlmodel import col

from models import claims, outcomes, sweeps, webhooks, worker_rows
from models import tasks as ops
from models.access import Viewer
from models.db import Database
from models.schemas import TaskCreate, WebhookCreate
from models.settings import Settings
from models.tables import Webhook, WebhookAttempt, WebhookDelivery
from models.vault import Vault
from tests.conftest import TEST_SECRET_KEY, AuthUser, free_port, wait_for
from tests.webhook_receiver import Receiver
from tests.workers.conftest import Start, until_status
from workers.bots import registry
from workers.bots.base import Purchase as Bought
from workers.errors import NotAvailableYet, PermanentError, RetryableError
from workers.webhook_formats import render
from workers.webhooks import SIGNATURE_HEADER, WebhookSender, sign, verify


async def _refuse(ctx: Any) -> None:
    raise PermanentError("sold out")


registry.register(registry.StoreBot(name="webhook-fail", run=_refuse, needs_browser=False))

# what each check of a "webhook-stock" task finds, in order (keyed by product): "out" = not
# there; "found+hiccup" / "found+sold-out" / "found+buy" = in stock, then that ending
stock_checks: dict[str, list[str]] = {}


async def _stock(ctx: Any) -> Bought:
    script = stock_checks[ctx.task.product]
    check = script.pop(0) if len(script) > 1 else script[0]
    if check == "out":
        raise NotAvailableYet(observation="out of stock")
    await ctx.in_stock("back at 10.00 USD")
    if check == "found+hiccup":
        raise RetryableError("checkout hiccup", retry_after=0.2)
    if check == "found+sold-out":
        raise NotAvailableYet(observation="sold out at checkout")
    return Bought(order_number=f"S-{ctx.task.id[:6]}", quantity=1, unit_price=Decimal(10), total=Decimal(10))


registry.register(registry.StoreBot(name="webhook-stock", run=_stock, needs_browser=False))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(free_port()).start()
    yield server
    server.stop()


async def make_hook(
    db: Database, user: AuthUser, url: str, events: list[str], fmt: str = "json"
) -> tuple[uuid.UUID, str]:
    vault = Vault(db, TEST_SECRET_KEY.encode())
    viewer = Viewer(user_id=user.id, email=user.email, is_admin=user.is_admin)
    data = WebhookCreate.model_validate({"url": url, "events": events, "format": fmt})
    async with db.begin() as session:
        hook, secret = await webhooks.register(session, viewer=viewer, data=data, vault=vault)
    return hook.id, secret


async def deliveries(db: Database, hook_id: uuid.UUID) -> list[WebhookDelivery]:
    async with db.session() as session:
        rows = await session.scalars(
            select(WebhookDelivery)
            .where(col(WebhookDelivery.webhook_id) == hook_id)
            .order_by(col(WebhookDelivery.id))
        )
        return list(rows)


async def codes(db: Database, delivery_id: int | None) -> list[int | None]:
    async with db.session() as session:
        rows = await session.scalars(
            select(WebhookAttempt.status_code)
            .where(col(WebhookAttempt.delivery_id) == delivery_id)
            .order_by(col(WebhookAttempt.id))
        )
        return list(rows)


async def create(db: Database, rt: Any = None, *, owner_id: uuid.UUID, **fields: Any) -> Any:
    data = TaskCreate(**{"name": "t", "product": "p", **fields})
    async with db.begin() as session:
        task = await ops.create_task(session, data=data, settings=Settings(), owner_id=owner_id)
    if rt is not None:
        await rt.kick(task.id)
    return task


def settings(**more: Any) -> dict[str, Any]:
    return {"secret_key": TEST_SECRET_KEY, "noop_store": True, "webhook_retry_base": 0.3, **more}


async def test_a_failed_task_is_posted_signed_and_retried_after_a_500(
    db: Database, runtimes: Start, api_user: AuthUser, receiver: Receiver
) -> None:
    hook_id, secret = await make_hook(db, api_user, receiver.url, ["task.failed"])
    receiver.codes = [500]
    rt = await runtimes(**settings())
    task = await create(db, rt, store="webhook-fail", owner_id=api_user.id)
    await until_status(db, task.id, "failed")

    await wait_for(lambda: len(receiver.received) >= 2, timeout=20, what="a retry after the 500")
    first, second = receiver.received[:2]
    for got in (first, second):
        assert verify(secret, got.headers[SIGNATURE_HEADER], got.body)
        assert not verify("whsec_wrong", got.headers[SIGNATURE_HEADER], got.body)
        assert not verify(secret, got.headers[SIGNATURE_HEADER], got.body + b" ")
    body = json.loads(second.body)
    assert body["event"] == "task.failed" and second.headers["Taskdeck-Event"] == "task.failed"
    assert body["data"]["task"]["id"] == str(task.id) and "sold out" in body["data"]["task"]["error"]
    assert secret not in second.body.decode()

    async def delivered() -> list[WebhookDelivery] | None:
        rows = await deliveries(db, hook_id)
        return rows if rows and rows[0].status == "delivered" else None

    (row,) = await wait_for(delivered, timeout=10, what="the delivery marked delivered")
    assert row.tries == 2 and row.last_code == 200
    assert await codes(db, row.id) == [500, 200]


async def test_completion_and_purchase_reach_only_the_hooks_that_asked(
    db: Database, runtimes: Start, api_user: AuthUser, second_user: AuthUser, receiver: Receiver
) -> None:
    both, _ = await make_hook(db, api_user, receiver.url, ["task.completed", "purchase.created"])
    failures_only, _ = await make_hook(db, api_user, receiver.url, ["task.failed"])
    someone_else, _ = await make_hook(db, second_user, receiver.url, ["task.completed", "purchase.created"])
    rt = await runtimes(**settings())
    task = await create(db, rt, store="noop", owner_id=api_user.id)
    await until_status(db, task.id, "completed")
    await wait_for(lambda: len(receiver.received) >= 2, timeout=15, what="two deliveries")

    assert sorted(d.event for d in await deliveries(db, both)) == ["purchase.created", "task.completed"]
    assert await deliveries(db, failures_only) == []
    assert await deliveries(db, someone_else) == []
    bought = next(json.loads(r.body) for r in receiver.received if b"purchase.created" in r.body)
    assert bought["data"]["purchase"]["orderNumber"].startswith("NOOP-")
    assert bought["data"]["purchase"]["taskId"] == str(task.id)


async def test_the_outbox_rolls_back_with_the_outcome(
    db: Database, api_user: AuthUser, receiver: Receiver
) -> None:
    """No event invented: an outcome whose transaction rolls back leaves no delivery; committed, one."""
    from models.states import TaskStatus

    hook_id, _ = await make_hook(db, api_user, receiver.url, ["task.failed"])
    task = await create(db, store="noop", owner_id=api_user.id)
    async with db.begin() as session:
        claimed = await claims.claim_next(session, worker_id="w")
    assert claimed is not None and claimed.id == task.id
    with pytest.raises(RuntimeError):
        async with db.begin() as session:
            await outcomes.record_outcome(
                session, task=claimed, worker_id="w", to=TaskStatus.FAILED, outcome="failed", error="x"
            )
            assert len(await deliveries(db, hook_id)) == 0  # not visible before commit
            raise RuntimeError("rolled back")
    assert await deliveries(db, hook_id) == []
    async with db.begin() as session:
        await outcomes.record_outcome(
            session, task=claimed, worker_id="w", to=TaskStatus.FAILED, outcome="failed", error="x"
        )
    (row,) = await deliveries(db, hook_id)
    assert row.event == "task.failed" and row.status == "pending" and row.payload["task"]["error"] == "x"


async def test_a_pending_delivery_survives_a_worker_restart(
    db: Database, runtimes: Start, api_user: AuthUser
) -> None:
    port = free_port()
    offline = Receiver(port)  # nothing listens yet: connection refused
    hook_id, secret = await make_hook(db, api_user, offline.url, ["task.failed"])
    first = await runtimes(**settings(webhook_retry_base=1.0))
    task = await create(db, first, store="webhook-fail", owner_id=api_user.id)
    await until_status(db, task.id, "failed")

    async def tried() -> bool:
        rows = await deliveries(db, hook_id)
        return bool(rows) and rows[0].tries >= 1 and rows[0].status == "pending" and rows[0].last_code is None

    await wait_for(tried, timeout=15, what="a refused first try")
    await first.stop(grace=0)
    offline.start()
    try:
        await runtimes(**settings(webhook_retry_base=1.0))
        await wait_for(lambda: offline.received, timeout=20, what="the delivery after the restart")
        assert verify(secret, offline.received[0].headers[SIGNATURE_HEADER], offline.received[0].body)

        async def delivered() -> bool:
            return (await deliveries(db, hook_id))[0].status == "delivered"

        await wait_for(delivered, timeout=10, what="delivered")
        (row,) = await deliveries(db, hook_id)
        async with db.session() as session:
            errors = list(
                await session.scalars(
                    select(WebhookAttempt.error).where(col(WebhookAttempt.delivery_id) == row.id)
                )
            )
        assert errors[0] and "Connect" in errors[0] and errors[-1] is None
    finally:
        offline.stop()


async def test_discord_and_slack_shapes(
    db: Database, runtimes: Start, api_user: AuthUser, receiver: Receiver
) -> None:
    discord, _ = await make_hook(db, api_user, receiver.url + "/discord", ["task.failed"], "discord")
    slack, _ = await make_hook(db, api_user, receiver.url + "/slack", ["task.failed"], "slack")
    rt = await runtimes(**settings())
    task = await create(db, rt, store="webhook-fail", owner_id=api_user.id, name="Night drop")
    await until_status(db, task.id, "failed")
    await wait_for(lambda: len(receiver.received) >= 2, timeout=15, what="both deliveries")
    bodies = {json.loads(r.body).get("content") is not None: json.loads(r.body) for r in receiver.received}
    as_discord, as_slack = bodies[True], bodies[False]
    assert "Night drop" in as_discord["content"] and "sold out" in as_discord["content"]
    (embed,) = as_discord["embeds"]
    assert embed["title"] == "task.failed" and embed["color"] == 0xC62828
    assert as_slack["text"].startswith("Task “Night drop” failed")
    assert (
        as_slack["blocks"][0]["type"] == "section"
        and "*task.failed*" in as_slack["blocks"][0]["text"]["text"]
    )
    assert {d.status for h in (discord, slack) for d in await deliveries(db, h)} <= {"delivered", "pending"}


def test_signature_is_stripes_scheme() -> None:
    body = b'{"a":1}'
    header = sign("whsec_k", 1_700_000_000, body)
    assert header.startswith("t=1700000000,v1=") and len(header.partition("v1=")[2]) == 64
    assert verify("whsec_k", header, body, now=1_700_000_100)
    assert not verify("whsec_k", header, body, now=1_700_000_000 + 301)  # a replay, too late
    assert not verify("whsec_k", "t=x,v1=00", body)
    due = webhooks.Due(
        1, "worker.lost", {"worker": {"id": "w1", "host": "h"}}, 1, "2026-01-01", "u", "json", "s"
    )
    assert render(due) == {"id": 1, "event": "worker.lost", "createdAt": "2026-01-01", "data": due.payload}


async def test_no_hooks_no_rows(db: Database, runtimes: Start, api_user: AuthUser) -> None:
    rt = await runtimes(**settings())
    task = await create(db, rt, store="noop", owner_id=api_user.id)
    await until_status(db, task.id, "completed")
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0


async def test_embedded_sqlite_writes_the_same_outbox(tmp_path: Any) -> None:
    """SQLite (``make run``): failure, completion and purchase deliveries are written with the
    outcome there too, and only for the owner's subscribed hooks."""
    from decimal import Decimal

    from models import migrations, users
    from models.states import TaskStatus

    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'embedded.db'}")
    try:
        await migrations.upgrade(db)
        async with db.begin() as session:
            user = await users.create_user(session, email="e@example.com", password="pw-123456789")
        owner = AuthUser(id=user.id, email=user.email, password="", token="")
        hook_id, _ = await make_hook(db, owner, "http://127.0.0.1:9/x", ["task.failed", "purchase.created"])
        for outcome in (TaskStatus.FAILED, TaskStatus.COMPLETED):
            await create(db, store="noop", owner_id=user.id)
            async with db.begin() as session:
                claimed = await claims.claim_next(session, worker_id="w")
            assert claimed is not None
            async with db.begin() as session:
                if outcome is TaskStatus.COMPLETED:
                    bought = {
                        "order_number": "N-1",
                        "quantity": 1,
                        "unit_price": Decimal(1),
                        "total": Decimal(1),
                    }
                    await outcomes.record_purchase(session, task=claimed, purchase=bought)
                await outcomes.record_outcome(session, task=claimed, worker_id="w", to=outcome, outcome="x")
        assert [d.event for d in await deliveries(db, hook_id)] == ["task.failed", "purchase.created"]
        with Receiver(free_port()).start() as receiver:  # and the delivery loop's claim and log work there
            async with db.begin() as session:
                await session.execute(update(Webhook).values(url=receiver.url))
            sender = WebhookSender(db=db, vault=Vault(db, TEST_SECRET_KEY.encode()), settings=Settings())
            try:
                assert await sender.send_due() == 2
            finally:
                await sender.close()
        assert len(receiver.received) == 2
        assert {d.status for d in await deliveries(db, hook_id)} == {"delivered"}
    finally:
        await db.dispose()


async def test_sweeps_emit_worker_lost_to_admins_and_expired_monitors_as_failed(
    db: Database, api_user: AuthUser, admin_user: AuthUser
) -> None:
    from datetime import timedelta

    from models.tables import Task, Worker
    from models.types import utcnow

    admin_hook, _ = await make_hook(db, admin_user, "http://127.0.0.1:9/a", ["worker.lost"])
    user_hook, _ = await make_hook(db, api_user, "http://127.0.0.1:9/u", ["task.failed"])
    long_ago = utcnow() - timedelta(hours=1)
    async with db.begin() as session:
        session.add(
            Worker(id="w-lost", host="box-7", pid=1, version="t", started_at=long_ago, last_seen=long_ago)
        )
        session.add(
            Task(
                name="Watch",
                store="noop",
                product="p",
                status="scheduled",
                mode="monitor",
                check_every=60,
                run_at=utcnow() + timedelta(hours=1),
                until=long_ago,
                owner_id=api_user.id,
            )
        )
    async with db.begin() as session:
        assert await worker_rows.mark_gone_workers(session, timeout=10) == 1
        assert len(await sweeps.expire_monitors(session)) == 1
    (lost,) = await deliveries(db, admin_hook)
    assert lost.event == "worker.lost" and lost.payload == {"worker": {"id": "w-lost", "host": "box-7"}}
    (expired,) = await deliveries(db, user_hook)
    assert expired.event == "task.failed" and expired.payload["task"]["name"] == "Watch"


async def test_the_outbox_adds_no_round_trip_to_an_outcome(db: Database, api_user: AuthUser) -> None:
    """The hot path: recording a purchase and an outcome costs the same statements whether the
    owner has webhooks or not, or the task has no owner at all (Postgres: the outbox is a CTE)."""
    from decimal import Decimal

    from sqlalchemy import event

    from models.states import TaskStatus

    async def statements(owner: uuid.UUID | None) -> int:
        data = TaskCreate(name="t", store="noop", product="p")
        async with db.begin() as session:
            await ops.create_task(session, data=data, settings=Settings(), owner_id=owner)
        async with db.begin() as session:
            claimed = await claims.claim_next(session, worker_id="w")
        assert claimed is not None
        seen: list[str] = []

        def count(*args: Any) -> None:
            seen.append(str(args[2]))

        event.listen(db.engine.sync_engine, "before_cursor_execute", count)
        try:
            async with db.begin() as session:
                bought = {"order_number": "N", "quantity": 1, "unit_price": Decimal(1), "total": Decimal(1)}
                await outcomes.record_purchase(session, task=claimed, purchase=bought)
                await outcomes.record_outcome(
                    session, task=claimed, worker_id="w", to=TaskStatus.COMPLETED, outcome="x"
                )
        finally:
            event.remove(db.engine.sync_engine, "before_cursor_execute", count)
        return len(
            [s for s in seen if not s.lstrip().upper().startswith(("BEGIN", "COMMIT", "SELECT 1", ";"))]
        )

    unowned = await statements(None)
    no_hooks = await statements(api_user.id)
    hook_id, _ = await make_hook(db, api_user, "http://127.0.0.1:9/x", ["task.completed", "purchase.created"])
    with_hooks = await statements(api_user.id)
    assert unowned == no_hooks == with_hooks
    assert sorted(d.event for d in await deliveries(db, hook_id)) == ["purchase.created", "task.completed"]


async def test_monitor_in_stock_is_posted_once_per_transition_not_per_check(
    db: Database, runtimes: Start, api_user: AuthUser, receiver: Receiver
) -> None:
    """Out, out, found (checkout hiccup: a retry), found again (sold out at checkout), out, found
    and bought: two transitions to "in stock", so two ``monitor.in_stock`` deliveries, signed;
    a "once" task that finds its product tells nobody."""
    hook_id, secret = await make_hook(db, api_user, receiver.url, ["monitor.in_stock"])
    stock_checks["restock"] = ["out", "out", "found+hiccup", "found+sold-out", "out", "found+buy"]
    stock_checks["at-once"] = ["found+buy"]
    rt = await runtimes(**settings())
    monitor = await create(
        db,
        rt,
        store="webhook-stock",
        product="restock",
        owner_id=api_user.id,
        mode="monitor",
        check_every=0.5,
    )
    once = await create(db, rt, store="webhook-stock", product="at-once", owner_id=api_user.id)
    await until_status(db, once.id, "completed")
    done = await until_status(db, monitor.id, "completed", timeout=40)
    assert done.checks == 6 and done.last_check == "bought"

    async def both_delivered() -> list[WebhookDelivery] | None:
        rows = await deliveries(db, hook_id)
        return rows if len(rows) == 2 and {r.status for r in rows} == {"delivered"} else None

    rows = await wait_for(both_delivered, timeout=20, what="two monitor.in_stock deliveries delivered")
    assert [r.event for r in rows] == ["monitor.in_stock", "monitor.in_stock"]
    assert len(receiver.received) == 2
    for got in receiver.received:
        assert verify(secret, got.headers[SIGNATURE_HEADER], got.body)
        assert got.headers["Taskdeck-Event"] == "monitor.in_stock"
        body = json.loads(got.body)["data"]
        assert body["task"]["id"] == str(monitor.id) and body["task"]["product"] == "restock"
        assert body["check"]["result"] == "in stock" and body["check"]["observation"] == "back at 10.00 USD"
    assert [json.loads(r.body)["data"]["check"]["check"] for r in receiver.received] == [3, 6]


async def test_a_monitor_bot_that_buys_without_saying_in_stock_still_tells(
    db: Database, runtimes: Start, api_user: AuthUser, receiver: Receiver
) -> None:
    """A store bot that never calls ``ctx.in_stock`` (a plugin's): the purchase itself says so."""
    hook_id, _ = await make_hook(db, api_user, receiver.url, ["monitor.in_stock"])
    rt = await runtimes(**settings())
    task = await create(db, rt, store="noop", owner_id=api_user.id, mode="monitor", check_every=0.5)
    await until_status(db, task.id, "completed")
    (row,) = await deliveries(db, hook_id)
    assert row.event == "monitor.in_stock" and row.payload["task"]["id"] == str(task.id)
