"""The reliability suite: each test proves one of the promises in ``docs/reliability.md``.

Every test here comes in two sizes. The fast one runs in ``make test``; the soak one carries the
``soak`` marker, which ``pyproject.toml`` deselects by default, and runs in ``make soak``.
``TASKDECK_SOAK_SCALE`` (a float, default 1) scales the soak sizes; durations and counts are
always bounded, everything runs on loopback, and every loop stops by itself.

A test states what it proved with the ``promise`` fixture; the terminal summary prints one line
per promise, e.g. ``promise: no task lost — 500/500 final, 0 lost (test_chaos[soak])``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.test_outages import private_redis  # noqa: F401  (a fixture: a redis-server of the test's own)

PROMISES = (
    "no task lost",
    "no purchase doubled",
    "no outcome hidden",
    "no data visible to the wrong user",
    "no 5xx on any input",
)
_proved: list[tuple[str, str, str]] = []


Promise = Callable[[str, str], None]


@pytest.fixture
def promise(request: pytest.FixtureRequest) -> Promise:
    """``promise("no task lost", "60/60 final, 0 lost")``: what this test proved, for the summary."""

    def record(name: str, figures: str) -> None:
        assert name in PROMISES, name
        _proved.append((name, figures, request.node.name))

    return record


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _proved:
        return
    terminalreporter.section("reliability promises")
    for name in PROMISES:
        for promised, figures, test in _proved:
            if promised == name:
                terminalreporter.write_line(f"promise: {name} — {figures} ({test})")


@pytest.fixture
def api_headers(request: pytest.FixtureRequest) -> dict[str, str]:
    """``Authorization: Bearer`` of the test user once access-auth has landed (``auth_headers``
    in ``tests/conftest.py``), nothing before: the suite runs on either side of that merge."""
    try:
        return dict(request.getfixturevalue("auth_headers"))
    except pytest.FixtureLookupError:
        return {}


SignIn = Callable[[Any, str], Any]


@pytest.fixture
def sign_in_page(request: pytest.FixtureRequest) -> SignIn:
    """``await sign_in_page(page, url)``: signs a dashboard page in as the test user once /login
    exists (access-auth's ``sign_in``); before that merge, does nothing."""
    from tests import conftest

    async def sign_in(page: Any, url: str) -> None:
        helper = getattr(conftest, "sign_in", None)
        if helper is not None:
            await helper(page, url, request.getfixturevalue("api_user"))

    return sign_in
