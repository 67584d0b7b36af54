"""Backoff policy: pure, table-tested."""

from __future__ import annotations

import random
from datetime import timedelta


def backoff(
    attempt: int, *, base: float, cap: float, jitter: float = 0.25, rng: random.Random | None = None
) -> timedelta:
    """Delay before attempt ``attempt + 1`` after attempt ``attempt`` failed.

    delay = min(cap, base * 2 ** (attempt - 1)) * (1 + U(-jitter, +jitter)), never below 0 nor above cap.

    attempt 1, base 2 → 2 s; attempt 2 → 4 s; attempt 3 → 8 s (each ±25 %).
    """
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    raw = min(cap, base * 2 ** (attempt - 1))
    spread = (rng or random).uniform(-jitter, jitter) if jitter else 0.0
    return timedelta(seconds=max(0.0, min(cap, raw * (1 + spread))))


def attempt_in_run(attempt: int, *, max_attempts: int, attempts_per_run: int | None) -> int:
    """The attempt's number within its run: a retry continues the numbering (#4 after #3) but its
    backoff starts over. A run has ``attempts_per_run`` attempts (None: never retried, the task's
    ``max_attempts``) and ends at ``max_attempts``.

    attempt 4, max 6, 3 per run → 1; attempt 2, max 3, never retried → 2.
    """
    if attempts_per_run is None:
        return attempt
    return max(1, attempt - (max_attempts - attempts_per_run))
