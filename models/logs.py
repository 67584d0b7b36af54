"""Logging for every Taskdeck process: text (default) or, with ``TASKDECK_LOG_FORMAT=json``, one
JSON object a line (python-json-logger) carrying ``task_id``, ``attempt`` and ``worker`` wherever
they are known. They come from context variables: the worker binds them around each run
(``bind``), so every line a run logs — the executor's, a bot's, the browser's — carries them.

Every record passes ``mask_secrets`` first: a URL's password never reaches a log line, whoever
logged it (``scheme://user:password@host`` → ``scheme://user:***@host``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from models.settings import Settings

task_id: ContextVar[str | None] = ContextVar("taskdeck_task_id", default=None)
attempt: ContextVar[int | None] = ContextVar("taskdeck_attempt", default=None)
worker: ContextVar[str | None] = ContextVar("taskdeck_worker", default=None)

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JSON_FIELDS = ["levelname", "name", "message"]
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]+@", re.IGNORECASE)


def mask(text: str) -> str:
    return _URL_PASSWORD.sub(r"\1***@", text)


class Context(logging.Filter):
    """Adds ``task_id``, ``attempt`` and ``worker`` (when known) and masks URL passwords."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in (("task_id", task_id), ("attempt", attempt), ("worker", worker)):
            value = var.get()
            if value is not None and not hasattr(record, name):
                setattr(record, name, value)
        if record.args:
            try:
                record.msg, record.args = record.getMessage(), None
            except Exception:  # a malformed call: leave it to the handler's own error report
                return True
        if isinstance(record.msg, str) and "://" in record.msg:
            record.msg = mask(record.msg)
        return True


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        known = [f"{n}={getattr(record, n)}" for n in ("task_id", "attempt", "worker") if hasattr(record, n)]
        return f"{line} [{' '.join(known)}]" if known else line


@contextmanager
def bind(**values: Any) -> Iterator[None]:
    """Set ``task_id``/``attempt``/``worker`` for the lines logged inside the block."""
    tokens = [(var, var.set(values[name])) for name, var in _VARS.items() if name in values]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


_VARS: dict[str, ContextVar[Any]] = {"task_id": task_id, "attempt": attempt, "worker": worker}


def formatter(fmt: str) -> logging.Formatter:
    if fmt == "json":
        return JsonFormatter(
            JSON_FIELDS, rename_fields={"levelname": "level", "name": "logger"}, timestamp=True
        )
    return TextFormatter(TEXT_FORMAT)


def configure(settings: Settings) -> None:
    """Install the format on the root logger's handlers (one to stderr if it has none) and the
    context filter on each handler, so records of every logger pass it."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    root.setLevel(settings.log_level)
    for handler in root.handlers:
        handler.setFormatter(formatter(settings.log_format))
        if not any(isinstance(f, Context) for f in handler.filters):
            handler.addFilter(Context())
