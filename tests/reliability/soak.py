"""Two sizes of every reliability test: a fast one for ``make test``, a ``soak`` one for ``make soak``.

``TASKDECK_SOAK_SCALE`` (a float, default 1) scales the soak sizes, e.g. 0.2 for a quick look:
the counts and durations named in ``SCALED``, never an interval or a deadline.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pytest

SCALE = float(os.environ.get("TASKDECK_SOAK_SCALE", "1"))
SCALED = frozenset({"tasks", "max_faults", "clients", "seconds", "pages", "purchases"})


@dataclass(frozen=True)
class Size:
    """The knobs of one variant of a test; ``soak`` sizes are multiplied by ``TASKDECK_SOAK_SCALE``."""

    name: str
    values: dict[str, float]

    def __getitem__(self, key: str) -> int:
        if self.name == "soak" and key in SCALED:
            return max(1, int(self.values[key] * SCALE))
        return int(self.values[key])


def sizes(fast: dict[str, float], soak: dict[str, float]) -> Any:
    """``@pytest.mark.parametrize("size", sizes(...))``: a fast variant and a ``soak``-marked one."""
    return [
        pytest.param(Size("fast", fast), id="fast", marks=pytest.mark.timeout(600)),
        pytest.param(Size("soak", soak), id="soak", marks=[pytest.mark.soak, pytest.mark.timeout(3600)]),
    ]
