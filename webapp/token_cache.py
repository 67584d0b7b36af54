"""Bearer token → viewer, remembered for a few seconds so an API call costs no auth round trip.

Revocation is honoured at once: ``models.users`` sends a NOTIFY on ``AUTH_CHANNEL`` in the same
transaction as a token's revocation or a user's disabling, the live hub's LISTEN connection
hands it here and the cache empties. The cache only answers while that connection is up (on
Postgres); on SQLite (where another process, the CLI, could revoke unseen) and whenever the hub
is reconnecting, every request reads the database as before. An entry older than ``TTL`` is
read again too (a change made straight in SQL is seen within that), which also keeps the
token's ``last_used_at`` stamp within ``TTL`` of the truth.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from models.access import Viewer

TTL = 5.0  # seconds an entry is trusted
MAX_ENTRIES = 10_000


class TokenCache:
    def __init__(
        self, *, live: Callable[[], bool], ttl: float = TTL, clock: Callable[[], float] = time.monotonic
    ):
        self._live = live  # is the revocation feed connected right now?
        self._ttl = ttl
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, Viewer]] = OrderedDict()
        self._generation = 0

    @property
    def generation(self) -> int:
        """Bumped by every ``clear``: a lookup that started before a clear must not be stored."""
        return self._generation

    def get(self, digest: str) -> Viewer | None:
        if not self._live():
            self._entries.clear()
            return None
        entry = self._entries.get(digest)
        if entry is None:
            return None
        stored, viewer = entry
        if self._clock() - stored > self._ttl:
            del self._entries[digest]
            return None
        return viewer

    def put(self, digest: str, viewer: Viewer, *, generation: int) -> None:
        if generation != self._generation or not self._live():
            return  # a revocation arrived while this was being looked up
        self._entries[digest] = (self._clock(), viewer)
        self._entries.move_to_end(digest)
        while len(self._entries) > MAX_ENTRIES:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()
        self._generation += 1
