"""How ``make test TEST_WORKERS=2`` spreads the suite over two pytest-xdist processes (``--dist loadfile``).

Every test module is one unit of work: its tests run in one process, one after another, with
what they share (the in-process API app, a module's webapp: ``module_procs``). The modules in
``SERIAL`` are one unit together: they run in one process, one after another, never beside each
other. Each asserts something a starved CPU breaks although the feature works: dashboards that
stay live and give their memory back within a settle time, screencast frames counted while a tab
watches, paging through a live table and catching up after a Postgres outage, a Chromium killed
and replaced. Side by side (two Chromiums driving NiceGUI pages, each with its webapp and
workers) they flaked under ``-n 2`` and passed alone; one after another, each has a core while
the other process runs the lighter modules.

Not ``--dist loadgroup`` with ``xdist_group`` marks: pytest-xdist 3.8 groups by rewriting
``item._nodeid``, which pytest 9 no longer reads (``nodeid`` comes from ``item._id``), so the marks
are silently ignored and every test becomes its own unit. A scheduler of our own says the same
thing through xdist's ``pytest_xdist_make_scheduler`` hook, read in the controlling process.
"""

from __future__ import annotations

from typing import Any

import pytest
from xdist.scheduler import LoadFileScheduling

SERIAL_UNIT = "serial-browsers"
SERIAL = frozenset(
    {
        "tests/reliability/test_load.py",  # 5 dashboards under traffic; memory back after a settle
        "tests/test_live_e2e.py",  # screencast frames while a tab watches, none after it leaves
        "tests/webapp/test_dashboard.py",  # paging and live catch-up, beside a Postgres outage
        "tests/test_browser_e2e.py",  # a purchase watched live in the dashboard
        "tests/workers/test_browser_health.py",  # Chromium killed and replaced; 20 monitor checks
    }
)


class SerialBrowsersScheduling(LoadFileScheduling):
    """``--dist loadfile``, with the modules of ``SERIAL`` in one unit."""

    def _split_scope(self, nodeid: str) -> str:
        module = super()._split_scope(nodeid)
        return SERIAL_UNIT if module in SERIAL else module


@pytest.hookimpl(tryfirst=True)  # before xdist's own choice from --dist
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> LoadFileScheduling | None:
    if config.getvalue("dist") != "loadfile":
        return None  # another --dist asked for on the command line: xdist's own
    return SerialBrowsersScheduling(config, log)
