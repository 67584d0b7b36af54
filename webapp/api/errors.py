"""Errors of the JSON API, answered as RFC 9457 problem details (``webapp.problems``).

A router cannot install exception handlers on the app that includes it (and NiceGUI's app renders
HTML error pages for its own routes), so every API route uses ``ApiRoute``, whose handler turns
exceptions into problem details, and ``install(app)`` (once, in ``webapp.main``) does the same for
what reaches no route under ``/api`` (unknown path, method not allowed):

    RequestValidationError, BadInput   422  /problems/validation  "quantity: must be ≥ 1", errors[]
    IdempotencyMismatch                422  /problems/idempotency-mismatch
    TaskNotFound, NotFound             404  /problems/not-found   "no task with id …"
    InvalidTransition                  409  /problems/conflict    "cannot pause: task is completed",
                                                                  taskStatus: "completed"
    Unauthorized                       401  /problems/unauthorized  with ``WWW-Authenticate: Bearer``
    Forbidden                          403  /problems/forbidden   (an admin editing another's task)
    Unavailable                        503  /problems/unavailable (starting, a store catalogue down)
    HTTPException (Starlette's too)    its status (400 "error parsing the body", 404, 405), its headers
    anything else                      500  /problems/internal    "internal error" (logged, not shown)
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Coroutine, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from models.errors import InvalidTransition, TaskNotFound, ValidationFailed
from webapp.errors import BadInput, Forbidden, IdempotencyMismatch, NotFound, Unauthorized, Unavailable
from webapp.problems import MEDIA_TYPE, Problem, problem

__all__ = ["BadInput", "NotFound", "Unauthorized", "Unavailable", "api_router", "error_response"]

log = logging.getLogger(__name__)

_LOC_PREFIXES = {"body", "query", "path", "header", "cookie"}
NAME_LIMIT = 32  # an unknown field's name is repeated up to this many characters


def _loc(loc: Sequence[Any]) -> str:
    parts = [_short(str(p), NAME_LIMIT) for i, p in enumerate(loc) if not (i == 0 and p in _LOC_PREFIXES)]
    return ".".join(parts)


def _message(error: dict[str, Any]) -> str:
    kind = str(error.get("type", ""))
    msg = str(error.get("msg", "invalid"))
    where = _loc(error.get("loc", ()))
    if kind == "json_invalid":
        reason = (error.get("ctx") or {}).get("error")
        return f"the body is not valid JSON{f' ({reason})' if reason else ''}"
    if kind.startswith("uuid_"):
        return f"{where or 'id'}: not a valid id (expected a UUID)"
    if kind == "missing":
        return f"{where}: required" if where else "a JSON body is required"
    if kind == "extra_forbidden":
        return f"{where}: unknown field"
    msg = msg.removeprefix("Value error, ")
    if kind == "model_attributes_type":
        return f"{where}: must be a JSON object" if where else "the body must be a JSON object"
    return f"{where}: {msg}" if where else msg


def _text(value: str) -> str:
    """Unpaired surrogates (valid in JSON input, not in UTF-8 output) as ``\\udxxx`` escapes."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def _plain(value: Any) -> Any:
    if isinstance(value, str):
        return _text(_short(value, NAME_LIMIT))
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # NaN and infinities are not JSON
    if value is None or isinstance(value, (int, float, bool)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


UNION_TAGS = frozenset({"task", "tasks"})  # tags of a one-or-many body union: not part of a field's path


def _field_error(error: dict[str, Any]) -> dict[str, Any]:
    loc = [p for p in error.get("loc", ()) if p not in UNION_TAGS]
    return {
        "field": _loc(loc) or (loc[0] if loc and isinstance(loc[0], str) else "body"),
        "detail": _short(str(error.get("msg", "invalid")).removeprefix("Value error, ")),
        "type": str(error.get("type", "value_error")),
        "loc": _plain(loc),
    }


def validation_response(errors: Sequence[Any], detail: str | None = None) -> JSONResponse:
    """422 with a readable ``detail`` and one ``errors`` entry per problem (JSON-safe); the input
    is never echoed back (it may be large, or secret)."""
    cleaned = [{**e, "loc": [p for p in e.get("loc", ()) if p not in UNION_TAGS]} for e in errors]
    if detail is None:
        detail = "; ".join(dict.fromkeys(_message(e) for e in cleaned)) or "invalid input"
    return problem(422, _text(_short(detail, 1000)), errors=[_field_error(e) for e in errors])


def error_response(exc: Exception) -> JSONResponse:
    """The problem-details answer for any exception an API route raises (500 logged, not shown)."""
    if isinstance(exc, RequestValidationError):
        return validation_response(exc.errors())
    if isinstance(exc, BadInput):
        return validation_response(exc.errors(), detail=str(exc))
    if isinstance(exc, IdempotencyMismatch):
        return problem(422, str(exc), kind="idempotency-mismatch")
    if isinstance(exc, ValidationFailed):
        return problem(422, str(exc))
    if isinstance(exc, Unauthorized):
        return problem(401, str(exc), headers={"WWW-Authenticate": "Bearer"})
    if isinstance(exc, Forbidden):
        return problem(403, str(exc))
    if isinstance(exc, TaskNotFound | NotFound):
        return problem(404, str(exc))
    if isinstance(exc, InvalidTransition):
        return problem(409, str(exc), taskStatus=exc.status)
    if isinstance(exc, Unavailable):
        return problem(503, str(exc))
    if isinstance(exc, HTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        return problem(exc.status_code, detail, headers=exc.headers)
    log.exception("API request failed", exc_info=exc)
    return problem(500, "internal error; it has been logged")


class ApiRoute(APIRoute):
    """An API route that answers every error as JSON, whatever app it is mounted in."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                return error_response(exc)

        return handle


def _documented(description: str) -> dict[str, Any]:
    schema = {"$ref": "#/components/schemas/Problem"}
    return {"model": Problem, "description": description, "content": {MEDIA_TYPE: {"schema": schema}}}


# every API route documents its errors as problem details (schemathesis checks each answer)
PROBLEMS: dict[int | str, dict[str, Any]] = {
    "4XX": _documented(
        "Problem details: 400 malformed, 401 no valid token (`WWW-Authenticate`), "
        "404 not found (or not yours), 409 the task's state forbids it (`taskStatus`), "
        "413 body over 1 MiB, 422 invalid input (`errors` per field)"
    ),
    "5XX": _documented("Problem details: 503 starting or a store unreachable; 500 never expected"),
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: _documented("No such task (or not yours)"),
    409: _documented("The task's state does not allow this; `taskStatus` names it"),
    422: _documented("Invalid input; `detail` says what is wrong, `errors` lists each field"),
}


def api_router(**kwargs: Any) -> APIRouter:
    """An ``APIRouter`` whose routes answer errors as problem details (and document them)."""
    responses = {**PROBLEMS, **kwargs.pop("responses", {})}
    return APIRouter(route_class=ApiRoute, responses=responses, **kwargs)


def _under_api(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


def install(app: Any) -> None:
    """Once, on the whole app: what no API route handled under ``/api`` (an unknown path, a
    method not allowed, a crash outside a route) is answered as problem details too; other
    paths keep the app's own handlers (NiceGUI's error pages). Status handlers come before
    class handlers in Starlette, so NiceGUI's 404 handler is wrapped as well."""
    for key in (404, 405, HTTPException, Exception):
        previous = app.exception_handlers.get(key)

        async def handle(request: Request, exc: Exception, previous: Any = previous) -> Response:
            if previous is None or _under_api(request.url.path):
                return error_response(exc)
            result: Response = await previous(request, exc)
            return result

        app.add_exception_handler(key, handle)
