"""RFC 9457 problem details: the one shape of every error the API and the guards answer.

    HTTP/1.1 422 Unprocessable Content
    Content-Type: application/problem+json

    {"type": "/problems/validation", "title": "Invalid input", "status": 422,
     "detail": "quantity: must be ≥ 1",
     "errors": [{"field": "quantity", "detail": "must be ≥ 1", "type": "greater_than_equal",
                 "loc": ["body", "quantity"]}]}

``type`` is a relative URI naming the kind of problem (documented in the README); ``title`` is
fixed per type; ``detail`` says what went wrong this time, never repeating secrets or input at
length. Extension members: ``errors`` (validation: one entry per field, list items named by their
index), ``taskStatus`` (a refused move: the task's current state).
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse

MEDIA_TYPE = "application/problem+json"

# type → title; a status without its own type is "about:blank" with the HTTP reason as title
TYPES: dict[str, str] = {
    "validation": "Invalid input",
    "unauthorized": "Authentication required",
    "forbidden": "Not allowed",
    "not-found": "Not found",
    "conflict": "Conflict with the task's state",
    "idempotency-mismatch": "Idempotency-Key reused with another body",
    "too-large": "Body too large",
    "too-many-requests": "Too many requests",
    "unavailable": "Service unavailable",
    "internal": "Internal error",
}
DEFAULT_TYPES = {
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    409: "conflict",
    413: "too-large",
    422: "validation",
    429: "too-many-requests",
    500: "internal",
    503: "unavailable",
}


class FieldError(BaseModel):
    field: str = Field(description="where: a dotted path; list items by index (`2.quantity`)")
    detail: str
    type: str = Field(description="the kind of error (pydantic's error type, or `value_error`)")
    loc: list[str | int] = Field(description="the full location: body, query, path or header first")


class Problem(BaseModel):
    """An error, as RFC 9457 problem details (``application/problem+json``)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "/problems/validation",
                    "title": "Invalid input",
                    "status": 422,
                    "detail": "quantity: Input should be greater than or equal to 1",
                    "errors": [
                        {
                            "field": "quantity",
                            "detail": "Input should be greater than or equal to 1",
                            "type": "greater_than_equal",
                            "loc": ["body", "quantity"],
                        }
                    ],
                }
            ]
        },
    )

    type: str = Field(description="a URI naming the kind of problem")
    title: str
    status: int = Field(ge=400, le=599)
    detail: str
    errors: list[FieldError] | None = Field(None, description="validation: one entry per problem")
    task_status: str | None = Field(None, alias="taskStatus", description="409: the task's current state")


def problem(
    status: int,
    detail: str,
    *,
    kind: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """The problem-details response for ``status`` (``kind`` picks the ``type``, by default the
    status's own); ``extra`` adds extension members."""
    kind = kind or DEFAULT_TYPES.get(status)
    if kind is None:
        type_, title = "about:blank", _reason(status)
    else:
        type_, title = f"/problems/{kind}", TYPES[kind]
    body: dict[str, Any] = {"type": type_, "title": title, "status": status, "detail": detail}
    if errors is not None:
        body["errors"] = errors
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, headers=headers, media_type=MEDIA_TYPE)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
