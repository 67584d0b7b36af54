"""``/api/webhooks``: the caller's own webhooks. The signing secret is shown once, when the hook
is made; another user's hook id answers 404, as an unknown one does (admins included: a hook
carries a personal secret). ``worker.lost`` may be chosen by admins only.

    GET    /api/webhooks                   the caller's hooks
    POST   /api/webhooks                   make one (201, with its ``secret`` this once)
    DELETE /api/webhooks/{id}              delete it (its deliveries go with it)
    POST   /api/webhooks/{id}/test         send a ``webhook.test`` delivery now; its first try
    GET    /api/webhooks/{id}/deliveries   the newest deliveries with every try
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Response

from models import webhooks
from models.schemas import WebhookCreate
from models.tables import Webhook
from webapp.api import examples
from webapp.api.errors import NotFound, api_router
from webapp.api.schemas import CamelOut
from webapp.auth import ViewerDep
from webapp.services import Services


class WebhookPublic(CamelOut):
    id: uuid.UUID
    url: str
    events: list[str]
    format: str
    enabled: bool
    created: datetime

    @classmethod
    def of(cls, row: Webhook) -> WebhookPublic:
        return cls(
            id=row.id,
            url=row.url,
            events=[e for e in row.events.split(",") if e],
            format=row.format,
            enabled=row.enabled,
            created=row.created_at,
        )


class WebhookCreated(WebhookPublic):
    secret: str  # shown this once: verify Taskdeck-Signature with it


class WebhookList(CamelOut):
    data: list[WebhookPublic]
    count: int


class AttemptPublic(CamelOut):
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


class DeliveryPublic(CamelOut):
    id: int
    event: str
    status: str  # pending | delivered | failed
    tries: int
    last_code: int | None
    created: datetime
    next_at: datetime
    delivered_at: datetime | None
    attempts: list[AttemptPublic]

    @classmethod
    def of(cls, log: webhooks.DeliveryLog) -> DeliveryPublic:
        d = log.delivery
        assert d.id is not None
        return cls(
            id=d.id,
            event=d.event,
            status=d.status,
            tries=d.tries,
            last_code=d.last_code,
            created=d.created_at,
            next_at=d.next_at,
            delivered_at=d.delivered_at,
            attempts=[
                AttemptPublic(at=a.at, status_code=a.status_code, error=a.error, duration_ms=a.duration_ms)
                for a in log.attempts
            ],
        )


class DeliveryList(CamelOut):
    data: list[DeliveryPublic]
    count: int


def create_webhooks_router(services: Services) -> APIRouter:
    router = api_router(tags=["webhooks"])

    @router.get(
        "/webhooks",
        response_model=WebhookList,
        responses=examples.answer(200, {"data": [examples.WEBHOOK], "count": 1}),
        summary="Your webhooks (never their secrets)",
    )
    async def list_webhooks(viewer: ViewerDep) -> WebhookList:
        async with services.db.session() as session:
            rows = await webhooks.list_webhooks(session, viewer=viewer)
        return WebhookList(data=[WebhookPublic.of(r) for r in rows], count=len(rows))

    @router.post(
        "/webhooks",
        status_code=201,
        response_model=WebhookCreated,
        responses=examples.answer(201, {**examples.WEBHOOK, "secret": "whsec_…"}),
        summary="Make a webhook (secret shown once)",
    )
    async def create_webhook(
        body: Annotated[WebhookCreate, Body(openapi_examples={"hook": {"value": examples.WEBHOOK_CREATE}})],
        viewer: ViewerDep,
    ) -> WebhookCreated:
        async with services.db.begin() as session:
            hook, secret = await webhooks.register(session, viewer=viewer, data=body, vault=services.vault)
            public = WebhookPublic.of(hook)
        return WebhookCreated(**public.model_dump(), secret=secret)

    @router.delete("/webhooks/{webhook_id}", status_code=204, summary="Delete one of your webhooks")
    async def delete_webhook(webhook_id: uuid.UUID, viewer: ViewerDep) -> Response:
        async with services.db.begin() as session:
            if not await webhooks.delete_webhook(session, viewer=viewer, webhook_id=webhook_id):
                raise NotFound(f"no webhook with id {webhook_id}")
        return Response(status_code=204)

    @router.post(
        "/webhooks/{webhook_id}/test",
        response_model=DeliveryPublic,
        responses=examples.answer(200, {**examples.DELIVERY, "event": "test"}),
        summary="Send a test delivery now (retried like any other if it fails)",
    )
    async def test_webhook(webhook_id: uuid.UUID, viewer: ViewerDep) -> DeliveryPublic:
        log = await services.send_test_webhook(viewer=viewer, webhook_id=webhook_id)
        if log is None:
            raise NotFound(f"no webhook with id {webhook_id}")
        return DeliveryPublic.of(log)

    @router.get(
        "/webhooks/{webhook_id}/deliveries",
        response_model=DeliveryList,
        responses=examples.answer(200, {"data": [examples.DELIVERY], "count": 1}),
        summary="The webhook's newest deliveries, each try with its status code",
    )
    async def list_deliveries(webhook_id: uuid.UUID, viewer: ViewerDep) -> DeliveryList:
        async with services.db.session() as session:
            logs = await webhooks.list_deliveries(session, viewer=viewer, webhook_id=webhook_id)
        if logs is None:
            raise NotFound(f"no webhook with id {webhook_id}")
        return DeliveryList(data=[DeliveryPublic.of(x) for x in logs], count=len(logs))

    return router
