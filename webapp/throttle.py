"""Failed sign-ins, counted per key (an email, a client address) over a sliding window.

After ``limit`` failures inside ``window`` seconds for any of a request's keys, the next try is
refused until the oldest of those failures is ``window`` seconds old; ``retry_after`` says how
long that is. One web process holds the counts in memory.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterable


class Throttle:
    def __init__(self, *, limit: int = 5, window: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def retry_after(self, keys: Iterable[str]) -> int | None:
        """Seconds to wait (at least 1) when any key is over the limit, else ``None``."""
        now = self.clock()
        waits = [
            times[-self.limit] + self.window - now
            for key in keys
            if len(times := self._recent(key, now)) >= self.limit
        ]
        return max(1, math.ceil(max(waits))) if waits else None

    def fail(self, keys: Iterable[str]) -> None:
        now = self.clock()
        if len(self._failures) > 10_000:  # forget keys whose failures have all aged out
            for key in list(self._failures):
                self._recent(key, now)
        for key in keys:
            self._recent(key, now)
            self._failures.setdefault(key, deque()).append(now)
