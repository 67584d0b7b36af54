"""HTTP guards in front of the whole web process, installed on the app by ``webapp.main``:

    ProblemHosts           a ``Host`` not in ``TASKDECK_ALLOWED_HOSTS``      → 400
    FrameGuard             every response: ``X-Frame-Options: DENY`` and
                           ``Content-Security-Policy: frame-ancestors 'none'``
    BodyGuard              under ``/api``, ``/demo-store`` and ``/login``: a body over 1 MiB (by its
                           ``Content-Length`` or counted as it streams in)  → 413;
                           a JSON body that is not UTF-8, nests deeper than 64 levels or holds
                           text no database column can (NUL, unpaired surrogates) → 422

Answers are RFC 9457 problem details (``webapp.problems``, as the API's own errors) and never
repeat the input. The body is read before the app runs and handed on unchanged, so routes and
FastAPI's own parsing only ever see bodies that passed.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from models.settings import Settings
from webapp.problems import problem

MAX_BODY = 1024 * 1024  # bytes
MAX_DEPTH = 64  # nesting levels of a JSON body
GUARDED = ("/api", "/demo-store", "/login", "/logout")
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # valid in JSON text, refused by Postgres


class BodyTooLarge(Exception):
    """The body is larger than 1 MiB."""


def json_problem(body: bytes) -> str | None:
    """Why ``body`` may not reach a JSON route (not UTF-8, nested too deeply), or None.

    Bodies that are not JSON at all pass: the route's own parsing answers those with a 422."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "the body is not valid UTF-8"
    try:
        value = json.loads(text)
    except RecursionError:
        return f"the body nests deeper than {MAX_DEPTH} levels"
    except ValueError:
        return None
    return _inspect(value)


def _inspect(value: Any) -> str | None:
    """Walk a parsed JSON value without recursion: too deep, or text that cannot be stored."""
    stack = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, str):
            if UNSTORABLE.search(item):
                return "the body holds a NUL character or an unpaired surrogate, which no field takes"
            continue
        if isinstance(item, dict):
            children = [*item.keys(), *item.values()]
        elif isinstance(item, list):
            children = item
        else:
            continue
        if level + 1 > MAX_DEPTH:
            return f"the body nests deeper than {MAX_DEPTH} levels"
        stack.extend((child, level + 1) for child in children)
    return None


def _is_json(headers: Headers) -> bool:
    """FastAPI parses a body as JSON when it says so, or says nothing."""
    media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return not media or media == "application/json" or media.endswith("+json")


def _refusal(status: int, detail: str) -> JSONResponse:
    errors = (
        [{"field": "body", "detail": detail, "type": "body_refused", "loc": ["body"]}]
        if status == 422
        else None
    )
    return problem(status, detail, errors=errors)


class ProblemHosts:
    """Starlette's ``TrustedHostMiddleware`` decides; its plain-text 400 becomes problem details."""

    def __init__(self, app: ASGIApp, *, allowed_hosts: list[str]) -> None:
        self.app = app
        self.check = TrustedHostMiddleware(self._passed, allowed_hosts=allowed_hosts)

    @staticmethod
    async def _passed(scope: Scope, receive: Receive, send: Send) -> None:
        scope["taskdeck.host_ok"] = True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        answer: list[Message] = []

        async def keep(message: Message) -> None:
            answer.append(message)

        await self.check(scope, receive, keep)
        if scope.pop("taskdeck.host_ok", False):
            await self.app(scope, receive, send)
        elif scope["type"] == "http" and answer and answer[0].get("status") == 400:
            await _refusal(400, "this host name is not served here")(scope, receive, send)
        else:  # a redirect to the www. name, or a websocket closed
            for message in answer:
                await send(message)


class BodyGuard:
    """Reads a guarded request's body up to ``max_body`` bytes, checks it, and replays it."""

    def __init__(self, app: ASGIApp, *, max_body: int = MAX_BODY, prefixes: tuple[str, ...] = GUARDED):
        self.app = app
        self.max_body = max_body
        self.prefixes = prefixes

    def _guards(self, path: str) -> bool:
        return any(path == p or path.startswith(f"{p}/") for p in self.prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._guards(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        too_large = _refusal(413, f"the body is larger than {self.max_body // 1024} KiB")
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                await _refusal(400, "Content-Length is not a number")(scope, receive, send)
                return
            if int(declared) > self.max_body:
                await too_large(scope, receive, send)
                return
        try:
            body = await self._read(receive)
        except BodyTooLarge:
            await too_large(scope, receive, send)
            return
        if body is None:  # the client went away
            return
        problem = json_problem(body) if body and _is_json(headers) else None
        if problem is not None:
            await _refusal(422, problem)(scope, receive, send)
            return

        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _read(self, receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


class FrameGuard:
    """No page of this app may be framed by another site (clickjacking)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Content-Security-Policy", "frame-ancestors 'none'")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install(app: Any, settings: Settings) -> None:
    """Put the guards in front of ``app`` (a FastAPI/Starlette app, before it starts)."""
    app.add_middleware(BodyGuard)
    app.add_middleware(FrameGuard)
    app.add_middleware(ProblemHosts, allowed_hosts=settings.allowed_hosts or ["*"])
