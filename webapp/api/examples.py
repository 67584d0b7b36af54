"""Examples of the API's answers, shown in the OpenAPI schema (``/docs``) next to each route."""

from __future__ import annotations

from typing import Any

TASK_ID = "3f2c8a9e-5b1d-4c3e-9a7f-0d2e4b6c8a10"
OWNER_ID = "8d1e4f2a-6c3b-4a5d-9e7f-1a2b3c4d5e6f"
TASK: dict[str, Any] = {
    "id": TASK_ID,
    "name": "GPU drop",
    "store": "demo",
    "product": "gpu-founders",
    "quantity": 1,
    "maxPrice": 700.0,
    "status": "queued",
    "priority": 0,
    "mode": "once",
    "checkEvery": None,
    "until": None,
    "runAt": None,
    "maxAttempts": 3,
    "backoffSeconds": None,
    "backoffCap": None,
    "attempts": 0,
    "checks": 0,
    "lastCheck": None,
    "lastCheckAt": None,
    "nextCheckAt": None,
    "progress": 0,
    "step": None,
    "error": None,
    "result": None,
    "cancelRequested": False,
    "trace": False,
    "profileId": None,
    "ownerId": OWNER_ID,
    "workerId": None,
    "heartbeatAt": None,
    "createdAt": "2026-11-30T21:00:00Z",
    "updatedAt": "2026-11-30T21:00:00Z",
    "startedAt": None,
    "finishedAt": None,
}
EVENT = {
    "id": 1042,
    "at": "2026-11-30T21:00:00Z",
    "kind": "state",
    "status": "queued",
    "step": None,
    "progress": None,
    "message": "created",
    "data": None,
}
TASK_DETAIL = {
    **TASK,
    "attemptHistory": [],
    "events": [EVENT],
}
TASK_LIST = {"data": [TASK], "count": 1}
HEALTH = {"ok": True, "database": "postgresql", "queue": "redis", "live": True}
EXECUTE_ACCEPTED = {"taskId": TASK_ID, "status": "queued"}
TASK_STATUS = {
    "taskId": TASK_ID,
    "status": "running",
    "attempts": 1,
    "progress": 40,
    "step": "checkout",
    "error": None,
    "result": None,
    "createdAt": "2026-11-30T21:00:00Z",
    "startedAt": "2026-11-30T21:00:01Z",
    "finishedAt": None,
}
BULK_RESULT = {
    "results": [
        {"taskId": TASK_ID, "ok": True, "status": "paused", "error": None},
        {
            "taskId": "5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d",
            "ok": False,
            "status": "completed",
            "error": "cannot pause: task is completed",
        },
    ],
    "ok": 1,
    "failed": 1,
    "truncated": False,
}


def answer(status: int, value: Any, description: str | None = None) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of a route: ``value`` as the example of its ``status`` answer."""
    documented: dict[str, Any] = {"content": {"application/json": {"example": value}}}
    if description:
        documented["description"] = description
    return {status: documented}


ARTIFACTS = [
    {
        "name": "a1-01-open-product.jpg",
        "kind": "screenshot",
        "step": "open-product",
        "url": f"/api/tasks/{TASK_ID}/artifacts/a1-01-open-product.jpg",
        "attempt": 1,
        "createdAt": "2026-11-30T21:00:02Z",
    }
]
STATS = {
    "counts": {"queued": 2, "running": 1, "completed": 40, "failed": 3},
    "throughput": [{"minute": "2026-11-30T21:00:00Z", "completed": 5, "failed": 0}],
    "workers": [
        {
            "id": "host-1-4242-ab12",
            "host": "host-1",
            "pid": 4242,
            "status": "up",
            "running": [TASK_ID],
            "processed": 128,
            "lastSeen": "2026-11-30T21:00:05Z",
            "startedAt": "2026-11-30T20:00:00Z",
            "concurrency": 4,
            "version": "0.1.0",
        }
    ],
}
PURCHASES = {
    "data": [
        {
            "taskId": TASK_ID,
            "ownerId": OWNER_ID,
            "store": "demo",
            "product": "gpu-founders",
            "productName": "Founders GPU",
            "quantity": 1,
            "unitPrice": 649.0,
            "total": 649.0,
            "currency": "USD",
            "orderNumber": "DS-10042",
            "createdAt": "2026-11-30T21:00:09Z",
        }
    ],
    "count": 1,
}
PURCHASES_CSV = (
    "createdAt,orderNumber,store,product,productName,quantity,unitPrice,total,currency,taskId,taskName,owner\r\n"
    f"2026-11-30T21:00:09Z,DS-10042,demo,gpu-founders,Founders GPU,1,649.00,649.00,USD,{TASK_ID},"
    "GPU drop,ann@example.com\r\n"
)
STORES = [
    {
        "name": "demo",
        "title": "Demo store",
        "needsBrowser": True,
        "url": "http://127.0.0.1:8080/demo-store",
        "settings": {"max_concurrent": 2, "min_interval": 1.0},
    }
]
LOOKUP = {
    "store": "demo",
    "product": "gpu-founders",
    "name": "Founders GPU",
    "price": 649.0,
    "available": True,
    "imageUrl": "/demo-store/static/gpu-founders.svg",
    "canonicalUrl": "/demo-store/products/gpu-founders",
}
PROFILE = {
    "id": "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e",
    "name": "Home",
    "fullName": "Ada Lovelace",
    "email": "ada@example.com",
    "address": "12 Analytical Way, London",
    "cardNumber": "•••• 4242",
    "cardExpiry": "12/29",
    "createdAt": "2026-11-30T20:00:00Z",
    "updatedAt": "2026-11-30T20:00:00Z",
}
ACCOUNT = {
    "id": "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
    "store": "demo",
    "login": "ada@example.com",
    "password": "********",
    "createdAt": "2026-11-30T20:00:00Z",
}
TOKEN = {
    "id": "2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a",
    "name": "ci",
    "created": "2026-11-30T20:00:00Z",
    "lastUsed": None,
}
LEASE = {"taskId": TASK_ID, "controller": OWNER_ID, "expiresIn": 30}
INPUTS: dict[str, Any] = {
    "click": {"summary": "a click at a point of the frame", "value": {"type": "click", "x": 0.42, "y": 0.77}},
    "scroll": {"summary": "scroll down", "value": {"type": "scroll", "dy": 300}},
    "key": {"summary": "a key", "value": {"type": "key", "key": "Enter"}},
    "text": {"summary": "typed text (never stored)", "value": {"type": "text", "text": "123456"}},
}
FINISH = {"orderNumber": "DS-1042"}
WEBHOOK_ID = "5a7c1e3b-2d4f-4a6b-8c9d-0e1f2a3b4c5d"
WEBHOOK = {
    "id": WEBHOOK_ID,
    "url": "https://hooks.example.com/taskdeck",
    "events": ["task.failed", "purchase.created"],
    "format": "json",
    "enabled": True,
    "created": "2026-11-30T21:00:00Z",
}
WEBHOOK_CREATE = {"url": "https://hooks.example.com/taskdeck", "events": ["task.failed", "purchase.created"]}
DELIVERY = {
    "id": 7,
    "event": "task.failed",
    "status": "delivered",
    "tries": 1,
    "lastCode": 200,
    "created": "2026-11-30T21:00:00Z",
    "nextAt": "2026-11-30T21:00:00Z",
    "deliveredAt": "2026-11-30T21:00:01Z",
    "attempts": [{"at": "2026-11-30T21:00:01Z", "statusCode": 200, "error": None, "durationMs": 84}],
}
# ---- queue, workers, failures (webapp/api/queue.py, webapp/api/failures.py) ---------------------
QUEUE = {
    "streamLength": 12,
    "pending": 2,
    "counts": {
        "pending": 1, "scheduled": 0, "queued": 9, "running": 2, "action_needed": 0, "retrying": 0,
        "paused": 0, "completed": 40, "failed": 3, "cancelled": 1, "unknown": 0,
    },
    "paused": False,
    "pausedStores": ["demo"],
    "holds": [{"store": "demo", "pausedAt": "2026-11-30T21:00:00Z", "pausedBy": OWNER_ID}],
}  # fmt: skip
PAUSE_EXAMPLES: dict[str, Any] = {
    "all": {"summary": "The whole queue", "value": {}},
    "store": {"summary": "One store", "value": {"store": "demo"}},
}
WORKERS = {
    "data": [
        {
            "id": "host-1-4242-ab12",
            "host": "host-1",
            "pid": 4242,
            "status": "up",
            "version": "0.1.0",
            "started": "2026-11-30T20:00:00Z",
            "lastSeen": "2026-11-30T21:00:05Z",
            "heartbeatAge": 1.8,
            "running": [TASK_ID],
            "concurrency": 4,
            "processed": 128,
            "browserContexts": 1,
            "browserMemoryMb": 412.5,
        }
    ],
    "count": 1,
}

WATCH_ID = "5a7c9e1b-3d5f-4a6b-8c9d-0e1f2a3b4c5d"
WATCH = {
    "id": WATCH_ID,
    "name": "Nova GPU anywhere under 700",
    "quantity": 1,
    "profileId": None,
    "checkEvery": 30.0,
    "until": "2026-12-24T18:00:00Z",
    "status": "watching",
    "error": None,
    "bestPrice": 689.0,
    "lastChange": "2026-11-30T21:05:00Z",
    "ownerId": OWNER_ID,
    "createdAt": "2026-11-30T21:00:00Z",
    "updatedAt": "2026-11-30T21:05:00Z",
    "finishedAt": None,
}
WATCH_LISTING = {
    "id": "6b8d0f2c-4e6a-4b7c-9d0e-1f2a3b4c5d6e",
    "store": "demo",
    "product": "gpu-founders",
    "maxPrice": 700.0,
    "taskId": TASK_ID,
    "taskStatus": "scheduled",
    "lastPrice": 689.0,
    "inStock": True,
    "changedAt": "2026-11-30T21:05:00Z",
    "lastCheckAt": "2026-11-30T21:05:30Z",
}
WATCH_DETAIL = {**WATCH, "listings": [WATCH_LISTING], "purchase": None}
WATCH_LIST = {"data": [WATCH], "count": 1}
WATCH_HISTORY = {
    "data": [
        {
            "store": "demo",
            "product": "gpu-founders",
            "at": "2026-11-30T21:00:02Z",
            "price": 699.0,
            "inStock": False,
        },
        {
            "store": "demo",
            "product": "gpu-founders",
            "at": "2026-11-30T21:05:00Z",
            "price": 689.0,
            "inStock": True,
        },
    ]
}
FAILURE_SIGNATURE = "place order: the store refused the order: card declined (ref <n>)"
FAILURES = {
    "data": [
        {
            "signature": FAILURE_SIGNATURE,
            "step": "place order",
            "count": 37,
            "failed": 35,
            "retrying": 2,
            "stores": ["demo"],
            "firstSeen": "2026-11-30T19:12:00Z",
            "lastSeen": "2026-11-30T21:00:00Z",
            "sampleTaskId": TASK_ID,
        }
    ]
}
