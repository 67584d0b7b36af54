"""Expected problem-details bodies (RFC 9457), for exact comparisons in the API tests."""

from __future__ import annotations

from typing import Any


def conflict(detail: str, task_status: str) -> dict[str, Any]:
    return {
        "type": "/problems/conflict",
        "title": "Conflict with the task's state",
        "status": 409,
        "detail": detail,
        "taskStatus": task_status,
    }


def not_found(detail: str) -> dict[str, Any]:
    return {"type": "/problems/not-found", "title": "Not found", "status": 404, "detail": detail}


def too_large(detail: str) -> dict[str, Any]:
    return {"type": "/problems/too-large", "title": "Body too large", "status": 413, "detail": detail}
