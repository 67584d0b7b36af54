"""``Task.run_attempt``: the attempt within the current run, what the dashboard shows as "n of
maxAttempts" and what the backoff starts over from, while the history numbers on (issue 8)."""

from __future__ import annotations

import pytest

from models.tables import Task


@pytest.mark.parametrize(
    ("attempt", "max_attempts", "per_run", "expected"),
    [
        (0, 3, None, 0),  # never claimed
        (1, 3, None, 1),
        (2, 3, None, 2),
        (3, 6, 3, 0),  # retried, not claimed again yet
        (4, 6, 3, 1),
        (5, 6, 3, 2),
        (2, 2, 1, 1),
        (3, 3, 1, 1),
    ],
)
def test_a_retry_starts_the_run_over(
    attempt: int, max_attempts: int, per_run: int | None, expected: int
) -> None:
    task = Task(name="t", store="demo", product="p", attempt=attempt, max_attempts=max_attempts)
    task.attempts_per_run = per_run
    assert task.run_attempt == expected
    assert task.budget == (per_run or max_attempts)
