"""Logs: TASKDECK_LOG_FORMAT=json gives one JSON object a line with the task, attempt and worker
bound by the run; a URL's password never reaches a line, in either format."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from models import logs
from models.settings import Settings


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    stream = io.StringIO()
    root.handlers = [logging.StreamHandler(stream)]
    yield stream
    root.handlers, root.level = saved[0], saved[1]


def test_json_lines_carry_task_attempt_and_worker(captured: io.StringIO) -> None:
    logs.configure(Settings(log_format="json"))
    log = logging.getLogger("workers.test")
    log.info("before the run")
    with logs.bind(task_id="t-1", attempt=2, worker="host-1-abcd"):
        log.warning("step %s failed", "checkout")
    lines = [json.loads(line) for line in captured.getvalue().splitlines()]
    assert len(lines) == 2
    assert "task_id" not in lines[0] and lines[0]["message"] == "before the run"
    assert lines[1]["message"] == "step checkout failed"
    assert (lines[1]["task_id"], lines[1]["attempt"], lines[1]["worker"]) == ("t-1", 2, "host-1-abcd")
    assert lines[1]["level"] == "WARNING" and lines[1]["logger"] == "workers.test" and "timestamp" in lines[1]


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_a_url_password_is_never_logged(captured: io.StringIO, fmt: str) -> None:
    logs.configure(Settings(log_format=fmt))
    logging.getLogger("x").error(
        "cannot connect to %s", "postgresql+asyncpg://taskdeck:s3cr3t@db:5432/taskdeck"
    )
    out = captured.getvalue()
    assert "s3cr3t" not in out and "taskdeck:***@db:5432" in out
