"""``/api/webhooks``: the caller's own hooks, the secret shown once, "send test" against a real
HTTP server (signed), the delivery log, and nobody else's hooks visible or testable."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest

from models import webhooks
from tests.conftest import AuthUser, free_port
from tests.webapp.test_api import Api, api, api_app
from tests.webhook_receiver import Receiver
from workers.webhooks import SIGNATURE_HEADER, verify

__all__ = ["api", "api_app"]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(free_port()).start()
    yield server
    server.stop()


async def test_make_test_and_read_the_log_of_your_own_webhook(
    api: Api, receiver: Receiver, second_user: AuthUser
) -> None:
    made = await api.http.post(
        "/api/webhooks",
        json={"url": receiver.url, "events": ["task.failed", "purchase.created"], "format": "slack"},
    )
    assert made.status_code == 201, made.text
    hook = made.json()
    assert set(hook) == {"id", "url", "events", "format", "enabled", "created", "secret"}
    assert hook["events"] == ["task.failed", "purchase.created"] and hook["format"] == "slack"
    secret = hook["secret"]
    assert secret.startswith("whsec_")

    listed = (await api.http.get("/api/webhooks")).json()
    assert [h["id"] for h in listed["data"]] == [hook["id"]] and listed["count"] == 1
    assert secret not in json.dumps(listed)

    receiver.codes = [503]
    tried = await api.http.post(f"/api/webhooks/{hook['id']}/test")
    assert tried.status_code == 200, tried.text
    first = tried.json()
    assert first["event"] == "webhook.test" and first["status"] == "pending" and first["lastCode"] == 503
    assert [a["statusCode"] for a in first["attempts"]] == [503]
    assert first["attempts"][0]["error"] == "HTTP 503"
    again = (await api.http.post(f"/api/webhooks/{hook['id']}/test")).json()
    assert again["status"] == "delivered" and again["lastCode"] == 200
    got = receiver.received[-1]
    assert verify(secret, got.headers[SIGNATURE_HEADER], got.body)
    assert json.loads(got.body)["text"].startswith("A test from Taskdeck")

    log = (await api.http.get(f"/api/webhooks/{hook['id']}/deliveries")).json()
    assert log["count"] == 2 and [d["status"] for d in log["data"]] == ["delivered", "pending"]

    # another user: neither sees, tests, reads the log of, nor deletes it
    other = second_user.headers
    assert hook["id"] not in str((await api.http.get("/api/webhooks", headers=other)).json())
    sent = len(receiver.received)
    for method, path in (
        ("POST", f"/api/webhooks/{hook['id']}/test"),
        ("GET", f"/api/webhooks/{hook['id']}/deliveries"),
        ("DELETE", f"/api/webhooks/{hook['id']}"),
    ):
        answer = await api.http.request(method, path, headers=other)
        assert answer.status_code == 404, (method, path, answer.text)
    assert len(receiver.received) == sent

    assert (await api.http.delete(f"/api/webhooks/{hook['id']}")).status_code == 204
    assert (await api.http.get(f"/api/webhooks/{hook['id']}/deliveries")).status_code == 404
    assert (await api.http.delete(f"/api/webhooks/{hook['id']}")).status_code == 404
    assert (await api.http.post(f"/api/webhooks/{uuid.uuid4()}/test")).status_code == 404
    assert (await api.http.delete("/api/webhooks/nope")).status_code == 422


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"url": "ftp://example.com/x", "events": ["task.failed"]},
        {"url": "http://example.com/x", "events": []},
        {"url": "http://example.com/x", "events": ["task.exploded"]},
        {"url": "http://example.com/x", "events": ["task.failed"], "format": "xml"},
        {"url": "http://example.com/" + "a" * 2000, "events": ["task.failed"]},
        {"url": "http://example.com/x", "events": ["task.failed"], "secret": "mine"},
        {"url": "http://example.com/x", "events": ["worker.lost"]},  # admins only
        [],
    ],
)
async def test_bad_webhooks_are_422_and_write_nothing(api: Api, body: object) -> None:
    r = await api.http.post("/api/webhooks", json=body)
    assert r.status_code == 422, r.text
    assert (await api.http.get("/api/webhooks")).json()["count"] == 0


async def test_admins_may_ask_for_worker_lost(api: Api, admin_user: AuthUser) -> None:
    r = await api.http.post(
        "/api/webhooks",
        json={"url": "http://example.com/x", "events": ["worker.lost"]},
        headers=admin_user.headers,
    )
    assert r.status_code == 201, r.text
    assert (await api.http.get("/api/webhooks")).json()["count"] == 0  # not the plain user's


async def test_a_disabled_webhook_gets_no_events_but_can_be_tested(
    api: Api, receiver: Receiver, api_user: AuthUser
) -> None:
    body = {"url": receiver.url, "events": ["task.failed"], "enabled": False}
    hook = (await api.http.post("/api/webhooks", json=body)).json()
    assert hook["enabled"] is False
    async with api.db.begin() as session:
        written = await webhooks.enqueue(session, event="task.failed", payload={}, owner_id=api_user.id)
    assert written == 0
    tried = await api.http.post(f"/api/webhooks/{hook['id']}/test")
    assert tried.status_code == 200 and tried.json()["status"] == "delivered"
    assert (await api.http.get(f"/api/webhooks/{hook['id']}/deliveries")).json()["count"] == 1
