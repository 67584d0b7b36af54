"""Fixtures of the webapp tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def signed_in(request: pytest.FixtureRequest) -> dict[str, str]:
    """The suite's ``auth_headers`` (``Authorization: Bearer``) where the API has users, else none.

    Sync on purpose: it may start the session's async user fixtures, which cannot happen from
    inside a running event loop (an async fixture)."""
    try:
        headers: dict[str, str] = request.getfixturevalue("auth_headers")
    except pytest.FixtureLookupError:
        return {}
    return headers
