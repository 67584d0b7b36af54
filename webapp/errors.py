"""Errors of the web process that the API and the pages share (the API maps each to one HTTP
status in ``webapp.api.errors``; the pages show their message next to the field).

    TaskdeckError (models.errors)
    ├── ValidationFailed
    │   └── BadInput        422  the input is not valid; ``field`` names where
    ├── Unauthorized        401  sign in, or send a bearer token
    ├── NotFound            404  no such thing (or not the viewer's)
    └── Unavailable         503  not ready yet, or a store catalogue unreachable
"""

from __future__ import annotations

from typing import Any

from models.errors import TaskdeckError, ValidationFailed


class BadInput(ValidationFailed):
    """The input is not valid."""

    def __init__(self, message: str, *, field: str | None = None, where: str = "body") -> None:
        super().__init__(message)
        self.field = field
        self.where = where

    def errors(self) -> list[dict[str, Any]]:
        loc = [self.where, self.field] if self.field else [self.where]
        return [{"type": "value_error", "loc": loc, "msg": str(self)}]


class Unauthorized(TaskdeckError):
    """Sign in, or send ``Authorization: Bearer <token>``."""


class NotFound(TaskdeckError):
    """Not found."""


class Unavailable(TaskdeckError):
    """The service is not available right now."""
