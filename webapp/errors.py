"""Errors of the web process that the API and the pages share (the API maps each to one HTTP
status in ``webapp.api.errors``; the pages show their message next to the field).

    TaskdeckError (models.errors)
    ├── ValidationFailed
    │   ├── BadInput        422  the input is not valid; ``field`` names where
    │   └── IdempotencyMismatch  422  an ``Idempotency-Key`` reused with another body
    ├── Unauthorized        401  sign in, or send a bearer token
    ├── Forbidden           403  seen, but not the viewer's to change
    ├── NotFound            404  no such thing (or not the viewer's)
    └── Unavailable         503  not ready yet, or a store catalogue unreachable
"""

from __future__ import annotations

from typing import Any

from models.errors import TaskdeckError, ValidationFailed


class BadInput(ValidationFailed):
    """The input is not valid."""

    def __init__(
        self, message: str, *, field: str | None = None, where: str = "body", index: int | None = None
    ) -> None:
        super().__init__(message)
        self.field = field
        self.where = where
        self.index = index  # the item of a list body this is about

    def at(self, index: int) -> BadInput:
        """The same problem, found in item ``index`` of a list body."""
        return BadInput(f"item {index}: {self}", field=self.field, where=self.where, index=index)

    def errors(self) -> list[dict[str, Any]]:
        item = [] if self.index is None else [self.index]
        loc = [self.where, *item, *([self.field] if self.field else [])]
        return [{"type": "value_error", "loc": loc, "msg": str(self)}]


class IdempotencyMismatch(ValidationFailed):
    """This Idempotency-Key was used with another body in the last 24 hours; use a new key."""


class Unauthorized(TaskdeckError):
    """Sign in, or send ``Authorization: Bearer <token>``."""


class Forbidden(TaskdeckError):
    """Not allowed."""


class NotFound(TaskdeckError):
    """Not found."""


class Unavailable(TaskdeckError):
    """The service is not available right now."""
