"""Errors of the JSON API, answered as JSON by the routes themselves.

A router cannot install exception handlers on the app that includes it (and NiceGUI's app renders
HTML error pages for its own routes), so every API route uses ``ApiRoute``, whose handler turns
exceptions into JSON responses:

    RequestValidationError, BadInput   422  {"detail": "quantity: must be ≥ 1", "errors": [...]}
    TaskNotFound                       404  {"detail": "no task with id …"}
    InvalidTransition                  409  {"detail": "cannot pause: task is completed",
                                             "status": "completed"}
    Unauthorized                       401  {"detail": …}   with ``WWW-Authenticate: Bearer``
    NotFound                           404  {"detail": …}   (artifacts and other non-task things)
    Unavailable                        503  {"detail": …}   (not ready yet, a store catalogue unreachable)
    HTTPException (Starlette's too)    its status, {"detail": …}  (FastAPI's "error parsing the body": 400)
    anything else                      500  {"detail": "internal error"} (logged)
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from models.errors import InvalidTransition, TaskNotFound, ValidationFailed
from webapp.errors import BadInput, NotFound, Unauthorized, Unavailable

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
    if kind == "model_attributes_type" and not where:
        return "the body must be a JSON object"
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


def validation_response(errors: Sequence[Any], detail: str | None = None) -> JSONResponse:
    """422 with a readable ``detail`` and pydantic's error list (JSON-safe) as ``errors``; the
    input is never echoed back (it may be large, or secret)."""
    plain = [
        {"type": e.get("type"), "loc": _plain(list(e.get("loc", ()))), "msg": _short(str(e.get("msg", "")))}
        for e in errors
    ]
    if detail is None:
        detail = "; ".join(dict.fromkeys(_message(e) for e in errors)) or "invalid input"
    return JSONResponse({"detail": _text(_short(detail, 1000)), "errors": plain}, status_code=422)


def error_response(exc: Exception) -> JSONResponse:
    if isinstance(exc, RequestValidationError):
        return validation_response(exc.errors())
    if isinstance(exc, BadInput):
        return validation_response(exc.errors(), detail=str(exc))
    if isinstance(exc, ValidationFailed):
        return JSONResponse({"detail": str(exc)}, status_code=422)
    if isinstance(exc, Unauthorized):
        return JSONResponse({"detail": str(exc)}, status_code=401, headers={"WWW-Authenticate": "Bearer"})
    if isinstance(exc, TaskNotFound | NotFound):
        return JSONResponse({"detail": str(exc)}, status_code=404)
    if isinstance(exc, InvalidTransition):
        return JSONResponse({"detail": str(exc), "status": exc.status}, status_code=409)
    if isinstance(exc, Unavailable):
        return JSONResponse({"detail": str(exc)}, status_code=503)
    if isinstance(exc, HTTPException):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
    log.exception("API request failed", exc_info=exc)
    return JSONResponse({"detail": "internal error"}, status_code=500)


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


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such task (or artifact)"},
    409: {"description": "The task's state does not allow this; `status` names it"},
    422: {"description": "Invalid input; `detail` says what is wrong, `errors` lists each problem"},
}


def api_router(**kwargs: Any) -> APIRouter:
    """An ``APIRouter`` whose routes answer errors as JSON."""
    return APIRouter(route_class=ApiRoute, **kwargs)
