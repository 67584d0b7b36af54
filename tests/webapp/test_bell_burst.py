"""A burst of finished tasks is one toast (counted by outcome, coloured by the worst), not one per
task: a thousand tasks finishing must not be a thousand toasts and list rebuilds in every page."""

from __future__ import annotations

from models.types import utcnow
from webapp.pages.notifications import Note, toast


def note(status: str, name: str = "drop") -> Note:
    return Note("00000000", name, status, utcnow())


def test_one_note_is_named() -> None:
    assert toast([note("failed", "Bell drop")]) == ("Task “Bell drop” failed", "negative")


def test_a_burst_is_one_toast_counted_by_outcome() -> None:
    text, kind = toast([note("completed")] * 997 + [note("failed")] * 3)
    assert (text, kind) == ("1000 tasks: 997 bought, 3 failed", "negative")
    assert toast([note("completed")] * 2) == ("2 tasks: 2 bought", "positive")
    assert toast([note("completed"), note("unknown")])[1] == "warning"
