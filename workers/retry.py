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
