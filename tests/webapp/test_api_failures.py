"""Failure triage over the API: ``GET /api/failures`` groups failing tasks by cause, and a bulk
action with ``{"filter": {"failure": ...}}`` acts on one group (what the state machine allows)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import String, literal, select, text

from models import claims, failures, outcomes
from models.failures import normalise, signature, signature_of
from models.states import TaskStatus as S
from models.tables import Task
from models.types import utcnow
from tests.conftest import AuthUser
from tests.webapp.test_api import Api, api, api_app

__all__ = ["api", "api_app"]
DECLINED = "place order: the store refused the order: card declined (ref <n>)"


async def fail_at(api: Api, task_id: str, *, step: str, error: str, to: S = S.FAILED) -> None:
    """Run the task to ``step`` and end the attempt there with ``error``, as a worker does."""
    task = await api.run(task_id)
    async with api.db.begin() as session:
        await claims.progress(session, task=task, worker_id="worker-1", step=step, percent=60)
        values: dict[str, Any] = {"run_at": utcnow() + timedelta(hours=1)} if to is S.RETRYING else {}
        await outcomes.record_outcome(
            session, task=task, worker_id="worker-1", to=to, outcome="error", error=error, values=values
        )


NORMALISED = [
        ("price 649.00 is above your maximum 1.00", "price <n> is above your maximum <n>"),
        ('step "confirm": no order (task 3f2c8a9e-5b1d-4c3e-9a7f-0d2e4b6c8a10)', "no order (task <id>)"),
        ("timed out after 30 s at https://shop.example/p?x=1", "timed out after <n> s at <url>"),
        ("out of stock; restock at 2026-11-30T16:03:14.778094Z", "out of stock; restock at <time>"),
        ("HTTP 502 from deadbeef12345678", "HTTP <n> from <hex>"),
        ("h264 codec", "h264 codec"),
        ("button 'Place order' not found\nTraceback ...", "button 'Place order' not found"),
        (None, "no error message"),
]  # fmt: skip


@pytest.mark.parametrize(("error", "expected"), NORMALISED)
def test_normalise(error: str | None, expected: str) -> None:
    assert normalise(error) == expected


def test_signature_names_the_step() -> None:
    assert (
        signature("checkout", "button 'Place order' not found") == "checkout: button 'Place order' not found"
    )
    assert signature(None, "x 1") == "x <n>"


async def test_the_database_computes_the_same_signatures(api: Api) -> None:
    """``signature_of`` (Postgres' regexp_replace) agrees with ``signature`` (Python)."""
    cases = [(step, error) for error, _ in NORMALISED for step in (None, "", "place-order")] + [
        ("confirm", '  step "confirm":  order   #123 at 12:30\r\nmore'),
        (None, "   "),
        (None, "a1b2c3d4e5 and 0x1f, v2.3.4 at 10,5 %"),
        (None, "x" * 400 + " 7"),
    ]
    async with api.db.session() as session:
        for step, error in cases:
            computed = await session.scalar(
                select(signature_of(literal(step, String), literal(error, String)))
            )
            assert computed == signature(step, error), (step, error)


async def test_groups_are_counted_over_every_failing_task(api: Api) -> None:
    """More failing tasks than the page once read (20,000): the group counts them all."""
    many, declined = 20_050, "pay: card declined (ref <n>)"
    template = await api.create(start="later")
    columns = [c.name for c in Task.__table__.columns]
    made = {
        "id": "gen_random_uuid()",
        "status": "'failed'",
        "step": "'pay'",
        "error": "'card declined (ref ' || n || ')'",
        "finished_at": "now() - n * interval '1 second'",
    }
    async with api.db.begin() as session:  # one INSERT … SELECT, copies of a task of the user's
        await session.execute(
            text(
                f"INSERT INTO task ({', '.join(columns)}) "
                f"SELECT {', '.join(made.get(c, 'task.' + c) for c in columns)} "
                "FROM task, generate_series(1, :many) AS n WHERE task.id = :template"
            ),
            {"many": many, "template": uuid.UUID(template["id"])},
        )
    groups = (await api.http.get("/api/failures")).json()["data"]
    assert [(g["signature"], g["count"], g["failed"]) for g in groups] == [(declined, many, many)]
    async with api.db.session() as session:
        assert await failures.count_failing_with(session, filters=[], failure=declined) == many


async def test_failures_are_grouped_by_signature_and_step(api: Api, second_user: AuthUser) -> None:
    declined = [await api.create(priority=9 - i) for i in range(3)]
    for n, task in enumerate(declined):
        await fail_at(
            api, task["id"], step="place order", error=f"the store refused the order: card declined (ref {n})"
        )
    other = await api.create(store="noop", product="x")
    await fail_at(api, other["id"], step="check stock", error="price 10.00 is above your maximum 5.00")
    still = await api.create(store="noop", product="y", maxAttempts=3)
    await fail_at(
        api,
        still["id"],
        step="place order",
        error="the store refused the order: card declined (ref 99)",
        to=S.RETRYING,
    )

    response = await api.http.get("/api/failures")
    assert response.status_code == 200, response.text
    groups = response.json()["data"]
    assert [(g["signature"], g["count"], g["failed"], g["retrying"]) for g in groups] == [
        (DECLINED, 4, 3, 1),
        ("check stock: price <n> is above your maximum <n>", 1, 1, 0),
    ]
    top = groups[0]
    assert set(top) == {
        "signature",
        "step",
        "count",
        "failed",
        "retrying",
        "stores",
        "firstSeen",
        "lastSeen",
        "sampleTaskId",
    }
    assert (top["step"], top["stores"]) == ("place order", ["demo", "noop"])
    assert top["sampleTaskId"] == still["id"]  # the most recent
    assert top["firstSeen"] <= top["lastSeen"]
    only_noop = (await api.http.get("/api/failures", params={"store": "noop"})).json()["data"]
    assert [(g["count"], g["stores"]) for g in only_noop] == [(1, ["noop"]), (1, ["noop"])]
    theirs = await api.http.get("/api/failures", headers=second_user.headers)
    assert theirs.json() == {"data": []}  # another user's failures are not theirs to see


async def test_a_group_is_retried_or_cancelled_as_the_state_machine_allows(api: Api) -> None:
    failed = [await api.create(priority=5 - i) for i in range(2)]
    for task in failed:
        await fail_at(
            api, task["id"], step="place order", error="the store refused the order: card declined (ref 7)"
        )
    retrying = await api.create(priority=1)
    await fail_at(
        api,
        retrying["id"],
        step="place order",
        error="the store refused the order: card declined (ref 8)",
        to=S.RETRYING,
    )
    unrelated = await api.create(priority=0)
    await fail_at(api, unrelated["id"], step="confirm", error="no order number")

    cancel = await api.http.post(
        "/api/tasks/bulk", json={"action": "cancel", "filter": {"failure": DECLINED}}
    )
    assert cancel.status_code == 200, cancel.text
    outcome = {r["taskId"]: (r["ok"], r["status"]) for r in cancel.json()["results"]}
    assert outcome == {
        retrying["id"]: (True, "cancelled"),  # still retrying: stopped
        failed[0]["id"]: (False, "failed"),  # failed → cancelled is not a move: already stopped
        failed[1]["id"]: (False, "failed"),
    }
    retry = await api.http.post("/api/tasks/bulk", json={"action": "retry", "filter": {"failure": DECLINED}})
    done = {r["taskId"]: r["status"] for r in retry.json()["results"] if r["ok"]}
    assert done == {failed[0]["id"]: "queued", failed[1]["id"]: "queued"}
    assert await api.status(unrelated["id"]) == "failed"  # another cause: untouched
    assert await api.status(retrying["id"]) == "cancelled"
    none = await api.http.post(
        "/api/tasks/bulk", json={"action": "retry", "filter": {"failure": "nothing like it"}}
    )
    assert none.json()["results"] == []
