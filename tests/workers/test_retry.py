from __future__ import annotations

import random
from datetime import timedelta

import pytest

from workers.retry import backoff


@pytest.mark.parametrize(
    ("attempt", "base", "cap", "expected"),
    [(1, 2, 300, 2), (2, 2, 300, 4), (3, 2, 300, 8), (10, 2, 300, 300), (1, 0, 300, 0), (4, 1.5, 10, 10)],
)
def test_without_jitter(attempt: int, base: float, cap: float, expected: float) -> None:
    assert backoff(attempt, base=base, cap=cap, jitter=0) == timedelta(seconds=expected)


def test_jitter_stays_within_bounds_and_cap() -> None:
    rng = random.Random(7)
    delays = [backoff(3, base=2, cap=9, rng=rng).total_seconds() for _ in range(500)]
    assert min(delays) >= 8 * 0.75 and max(delays) <= 9
    assert len(set(delays)) > 100  # really jittered


def test_attempt_counts_from_one() -> None:
    with pytest.raises(ValueError):
        backoff(0, base=1, cap=1)
