"""Errors of the data layer.

TaskdeckError
├── TaskNotFound        no task has this id (HTTP 404)
├── InvalidTransition   the task's state does not allow the move (HTTP 409)
└── ValidationFailed    input that cannot become a task (HTTP 422)
"""

from __future__ import annotations


class TaskdeckError(Exception):
    """Taskdeck could not do that."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.__doc__)


class TaskNotFound(TaskdeckError):
    """No task has this id."""


class InvalidTransition(TaskdeckError):
    """The task's current state does not allow this."""

    def __init__(self, message: str | None = None, *, status: str | None = None) -> None:
        super().__init__(message)
        self.status = status


class ValidationFailed(TaskdeckError):
    """The input is not valid."""
