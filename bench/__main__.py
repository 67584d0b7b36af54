"""``python -m bench [NAME ...] [--quick] [...]``: run the benchmarks, print, write JSON, clean up.

Every figure is printed next to a baseline measured in the same run on the same machine; nothing
here asserts a time. Exit status 1 when a benchmark failed to run (its error is printed), 2 when
Postgres or Redis cannot be reached.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from bench import api, dashboard, latency, memory, sequential, throughput
from bench.harness import DEFAULT_REDIS_URL, DEFAULT_SERVER_URL, ROOT, BenchEnv, Result

NAMES = ("throughput", "latency", "api", "sequential", "dashboard", "memory")
RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Taskdeck benchmarks, each next to a baseline measured in the same run.",
    )
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"which to run (default: all of {', '.join(NAMES)})"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, ~30 s; skips memory unless named")
    parser.add_argument(
        "--tasks", type=int, help="throughput: tasks per timed batch (default 2000, quick 300)"
    )
    parser.add_argument("--events", type=int, help="latency: events (default 200, quick 50)")
    parser.add_argument("--requests", type=int, help="api: requests per route (default 500, quick 200)")
    parser.add_argument(
        "--sequential", type=int, help="sequential: noop tasks run one at a time (default 500, quick 100)"
    )
    parser.add_argument(
        "--flow",
        type=int,
        help="dashboard: tasks flowing while the page is watched (default 1000, quick 300)",
    )
    parser.add_argument("--concurrency", type=int, default=8, help="api: requests in flight (default 8)")
    parser.add_argument("--purchases", type=int, default=40, help="memory: demo-store purchases (default 40)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TASKDECK_BENCH_DATABASE_URL")
        or os.environ.get("TASKDECK_TEST_DATABASE_URL")
        or DEFAULT_SERVER_URL,
        help="a Postgres server to create the bench database on (not DATABASE_URL: never the app's own)",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("TASKDECK_BENCH_REDIS_URL")
        or os.environ.get("TASKDECK_TEST_REDIS_URL")
        or DEFAULT_REDIS_URL,
        help="a Redis server (keys taskdeck-bench-<rand>* are created and deleted)",
    )
    parser.add_argument(
        "--json", type=Path, default=RESULTS, help=f"where to write results (default {RESULTS})"
    )
    parser.add_argument(
        "--keep-logs", action="store_true", help="keep the child processes' logs (printed path)"
    )
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in NAMES]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(NAMES)}")
    for option in ("tasks", "events", "requests", "purchases", "concurrency", "sequential", "flow"):
        value = getattr(args, option)
        if value is not None and value < 1:
            parser.error(f"--{option} must be at least 1")
    return args


def machine() -> dict[str, Any]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=5
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit, dirty = "", ""
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "memoryGiB": round(psutil.virtual_memory().total / 2**30, 1),
        "cpuModel": _cpu_model(),
        "python": platform.python_version(),
        "commit": f"{commit}{'+dirty' if dirty else ''}" or None,
        "loadAverage": _load(),
    }


def _load() -> list[float] | None:
    """1/5/15-minute load averages: other work on the machine shows in every wall-clock figure."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


async def main(args: argparse.Namespace) -> int:
    names = list(args.names) or [n for n in NAMES if not (args.quick and n == "memory")]
    quick = args.quick
    env = BenchEnv(server_url=args.database_url, redis_url=args.redis_url, keep_logs=args.keep_logs)
    info = machine()
    print(
        f"Taskdeck benchmarks {info['date']}  {info['host']}  {info['cpus']} cores ({info['cpuModel']}), "
        f"{info['memoryGiB']} GiB  Python {info['python']}  commit {info['commit']}  "
        f"load average {info['loadAverage']}"
        f"{'  --quick' if quick else ''}",
        flush=True,
    )
    results: dict[str, Result] = {}
    started = time.perf_counter()
    try:
        try:
            await env.create_database()
            client = env.redis()
            try:
                await client.ping()
            finally:
                await client.aclose()
        except Exception as exc:
            print(f"bench: cannot prepare Postgres ({args.database_url}) or Redis ({args.redis_url}): {exc}")
            return 2
        print(f"database {env.db_name}, stream keys {env.stream_prefix}-*\n", flush=True)
        for name in names:
            results[name] = await run_one(name, env, args, quick=quick)
            print(results[name].table(), flush=True)
        if quick and not args.names:
            results["memory"] = Result("memory", "", skipped="--quick (name it to run it: --quick memory)")
            print(results["memory"].table(), flush=True)
    finally:
        problems = await env.close()
        for problem in problems:
            print(f"bench: cleanup: {problem}", file=sys.stderr)
        if args.keep_logs:
            print(f"logs kept in {env.tmp}")
    total = time.perf_counter() - started
    info["loadAverageAfter"] = _load()
    print(f"total {total:.1f} s, load average now {info['loadAverageAfter']}")
    write_json(args.json, info, quick, total, results)
    return 1 if any(r.error for r in results.values()) else 0


async def run_one(name: str, env: BenchEnv, args: argparse.Namespace, *, quick: bool) -> Result:
    started = time.perf_counter()
    try:
        await env.reset_tables()
        if name == "throughput":
            tasks = args.tasks or (300 if quick else 2000)
            result = await throughput.run(env, tasks=tasks, warmup=30 if quick else 100)
        elif name == "latency":
            result = await latency.run(env, events=args.events or (50 if quick else 200))
        elif name == "api":
            result = await api.run(
                env, requests=args.requests or (200 if quick else 500), concurrency=args.concurrency
            )
        elif name == "dashboard":
            result = await dashboard.run(env, tasks=args.flow or (300 if quick else 1000))
        elif name == "sequential":
            result = await sequential.run(env, tasks=args.sequential or (100 if quick else 500))
        else:
            result = await memory.run(env, purchases=args.purchases)
    except Exception as exc:
        result = Result(name, "failed", error=f"{type(exc).__name__}: {exc}")
    result.seconds = time.perf_counter() - started
    return result


def write_json(
    path: Path, info: dict[str, Any], quick: bool, total: float, results: dict[str, Result]
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "machine": info,
        "quick": quick,
        "seconds": round(total, 1),
        "benchmarks": {name: r.as_json() for name, r in results.items()},
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    print(f"results written to {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
