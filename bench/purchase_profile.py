"""Where a demo purchase's time and CPU go: step gaps from its events, CPU by process kind.

``steps`` reads the task events of a run's purchases (each stamped by the worker when written)
and names every gap between two consecutive events by what happened in it, e.g.
``claimed → progress:open product`` is context + page + first page load. ``CpuMeter`` reads the
CPU time of a process tree by kind (Python, the Playwright driver, Chromium), counting the time of
processes that exited during the run through their parents (``children_user``/``_system``: a
retired Chromium's CPU is in the driver's, and is counted as Chromium's).
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Sequence
from itertools import pairwise
from statistics import median
from typing import Any

import asyncpg
import psutil

KINDS = ("python", "driver", "chromium")


def kind_of(proc: psutil.Process) -> str:
    name = proc.name().lower()
    return "driver" if name.startswith("node") else "chromium" if "chrom" in name else "python"


def cpu_by_kind(processes: Sequence[psutil.Process]) -> dict[str, float]:
    """CPU seconds (user + system) by kind, reaped children included. Blocking."""
    parts = dict.fromkeys(KINDS, 0.0)
    for proc in processes:
        with contextlib.suppress(psutil.Error):
            kind = kind_of(proc)
            times = proc.cpu_times()
            parts[kind] += times.user + times.system
            # a reaped child's time: the driver's children are Chromium, Chromium's are Chromium
            reaped = "chromium" if kind in ("driver", "chromium") else "driver"
            parts[reaped] += times.children_user + times.children_system
    return parts


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {kind: max(0.0, after.get(kind, 0.0) - before.get(kind, 0.0)) for kind in before}


def _label(row: asyncpg.Record) -> str:
    kind, step = row["kind"], row["step"]
    if kind == "artifact":
        return "screenshot"
    if kind in ("progress", "checkpoint") and step:
        return f"{kind}:{step}"
    if kind == "log":
        message = row["message"] or ""
        return "log:" + ("placing the order" if message == "placing the order" else "in stock")
    return kind


async def steps(conn: asyncpg.Connection, *, name_like: str) -> list[tuple[str, float, int]]:
    """(gap label, p50 ms, how many) over the completed tasks named like ``name_like``, in the
    order the gaps happen. The first gap starts at the claim (``started_at``), the last ends at
    ``finished_at``."""
    tasks = await conn.fetch(
        "SELECT id, started_at, finished_at FROM task WHERE name LIKE $1 AND status = 'completed'",
        name_like,
    )
    rows = await conn.fetch(
        "SELECT e.task_id, e.at, e.kind, e.status, e.step, e.message FROM task_event e "
        "JOIN task t ON t.id = e.task_id WHERE t.name LIKE $1 AND t.status = 'completed' "
        "ORDER BY e.task_id, e.at, e.id",
        name_like,
    )
    by_task: dict[Any, list[asyncpg.Record]] = defaultdict(list)
    for row in rows:
        by_task[row["task_id"]].append(row)
    gaps: dict[str, list[float]] = defaultdict(list)
    order: dict[str, float] = {}
    for task in tasks:
        if task["started_at"] is None or task["finished_at"] is None:
            continue
        stamps = [("claimed", task["started_at"])]
        stamps += [
            (_label(r), r["at"])
            for r in by_task[task["id"]]
            if task["started_at"] < r["at"] < task["finished_at"]
        ]
        stamps.append(("finished", task["finished_at"]))
        for n, ((before, t0), (after, t1)) in enumerate(pairwise(stamps)):
            label = f"{before} → {after}"
            gaps[label].append((t1 - t0).total_seconds() * 1000)
            order[label] = min(order.get(label, n), n)
    return [
        (label, median(values), len(values))
        for label, values in sorted(gaps.items(), key=lambda item: order[item[0]])
    ]


def notes(
    name: str, n: int, seconds: float, cpu: dict[str, float], gaps: list[tuple[str, float, int]]
) -> list[str]:
    """The run's CPU per purchase by part and its step gaps (p50), as printable lines."""
    total = sum(cpu.values())
    parts = ", ".join(f"{kind} {cpu[kind] / n * 1000:.0f}" for kind in (*KINDS, "webapp") if kind in cpu)
    lines = [
        f"{name}: CPU per purchase {total / n * 1000:.0f} ms ({parts}); "
        f"{total / seconds:.2f} cores busy on average over {seconds:.1f} s"
    ]
    if gaps:
        lines.append(
            f"{name}: p50 gaps between a purchase's events (ms): "
            + "; ".join(f"{label} {ms:.0f}" for label, ms, _ in gaps)
        )
    return lines
