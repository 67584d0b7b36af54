"""When the artifacts directory cannot be written: said once, not once per screenshot."""

from __future__ import annotations

import logging

log = logging.getLogger("workers.artifacts")


class DiskTrouble:
    """Says once that artifacts cannot be written, not once per screenshot.

    A full, read-only or missing artifacts directory must not stop a task (a screenshot is a
    nicety), and must not bury the worker's log either: the first failure is an error, the rest
    are debug lines, until a write succeeds again and re-arms it. One per process (``DISK``).
    """

    def __init__(self) -> None:
        self.reported = False

    def failed(self, what: str, exc: OSError) -> None:
        if self.reported:
            log.debug("%s not written: %s", what, exc)
            return
        self.reported = True
        log.error(
            "artifacts cannot be written (%s: %s); tasks go on without screenshots and traces "
            "(said once, until a write succeeds again)",
            what,
            exc,
        )

    def succeeded(self) -> None:
        self.reported = False


DISK = DiskTrouble()
