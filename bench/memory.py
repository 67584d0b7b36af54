"""Memory: one worker process running M demo-store purchases vs a bare Chromium with one page.

The webapp (demo store included) runs as in ``api``; the demo store is reset and its product
given enough stock. One ``taskiq worker workers.broker:broker --workers 1`` runs with
``TASKDECK_BROWSER_RECYCLE_AFTER=20`` (a fresh Chromium every 20 tasks) and the default
concurrency. M tasks are created through ``POST /api/tasks``. PSS (proportional set size: shared
pages counted once) is summed over the worker's whole process tree — taskiq's supervisor, the
worker process, the Playwright driver and every Chromium process — idle after start (Chromium is
launched lazily, on the first task), sampled every second during the run (peak), and after the
run.

Baseline: this process launches the same Chromium through Playwright with the same flags, opens
one page on the demo store, and measures its Playwright driver + Chromium tree the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import Counter
from typing import Any

import asyncpg
import httpx
import psutil
from playwright.async_api import async_playwright

from bench import purchase_profile
from bench.harness import BenchEnv, BenchError, Result, cpu_seconds, pss_mib, wait_until
from workers.browser import BASE_ARGS, find_chromium

PRODUCT = "sneaker-drop"
RECYCLE_AFTER = 20
CONCURRENCY = 4
SAMPLE_EVERY = 2.0  # reading smaps costs CPU the run needs


async def run(env: BenchEnv, *, purchases: int) -> Result:
    result = Result(
        "memory",
        f"1 worker process, {purchases} demo-store purchases, concurrency {CONCURRENCY}, "
        f"browser recycled every {RECYCLE_AFTER} tasks",
        params={"purchases": purchases, "concurrency": CONCURRENCY, "recycleAfter": RECYCLE_AFTER},
    )
    chromium = find_chromium(os.environ.get("TASKDECK_BROWSER_PATH"))
    if chromium is None:
        raise BenchError("no Chromium: run `make install` or set TASKDECK_BROWSER_PATH")
    queue = env.queue("memory")
    webapp = await env.start_webapp(queue)
    store = f"{webapp.url}/demo-store"
    conn = await asyncpg.connect(env.asyncpg_dsn)
    try:
        async with httpx.AsyncClient(timeout=30, headers=env.api_headers) as client:
            (await client.post(f"{store}/api/reset", json={})).raise_for_status()
            (
                await client.put(f"{store}/api/products/{PRODUCT}", json={"stock": purchases + 10})
            ).raise_for_status()
            baseline = await _bare_chromium(chromium, f"{store}/products/{PRODUCT}")

            pooled = await _worker_run(
                env, webapp, queue, conn, client, store, purchases, RECYCLE_AFTER, label="pooled"
            )
            # the same purchases with a fresh Chromium for every task: what the pool saves
            (
                await client.put(f"{store}/api/products/{PRODUCT}", json={"stock": purchases + 10})
            ).raise_for_status()
            launching = await _worker_run(
                env, webapp, queue, conn, client, store, max(8, purchases // 4), 1, label="launching"
            )
    finally:
        await conn.close()
        await env.stop(webapp, grace=10)
    idle, peak, after = pooled["idle"], pooled["peak"], pooled["after"]
    seconds, statuses, orders = pooled["seconds"], pooled["statuses"], pooled["orders"]

    per_minute = purchases / seconds * 60
    launch_per_minute = launching["n"] / launching["seconds"] * 60
    result.add(
        "purchases per minute", "/min", per_minute, launch_per_minute, "launch-per-task (recycle after 1)"
    )
    per_context = max(0.0, peak["chromium"] - baseline["chromium"]) / CONCURRENCY
    result.add(
        "Chromium PSS per concurrent context",
        "MiB",
        per_context,
        baseline["chromium"],
        "bare Chromium, 1 page",
    )

    name = "Playwright + bare Chromium, 1 page"
    result.add("worker tree PSS, idle after start", "MiB", idle["total"], baseline["total"], name)
    result.add("worker tree PSS, peak during run", "MiB", peak["total"], baseline["total"], name)
    result.add(
        f"worker tree PSS, after {purchases} purchases", "MiB", after["total"], baseline["total"], name
    )
    result.add(
        "Chromium PSS, peak during run",
        "MiB",
        peak["chromium"],
        baseline["chromium"],
        "bare Chromium, 1 page",
    )
    result.notes.append(
        f"per concurrent context: (Chromium peak − bare Chromium with one page) / {CONCURRENCY}; "
        "targets (issue 9): ≥ 60 purchases/min per worker process at concurrency "
        f"{CONCURRENCY}, pooled ≥ 5 × launch-per-task, ≤ 100 MiB per context"
    )
    result.notes.append(
        f"launch-per-task: {launching['n']} purchases in {launching['seconds']:.1f} s "
        f"({dict(launching['statuses'])})"
    )
    result.notes.append(
        f"{statuses.get('completed', 0)}/{purchases} completed ({dict(statuses)}), "
        f"{orders} orders in the store, {seconds:.1f} s ({purchases / seconds:.2f} purchases/s); "
        f"peak sample had {peak['processes']:.0f} processes"
    )
    for label, parts in (("idle", idle), ("after", after), ("baseline", baseline)):
        result.notes.append(
            f"{label}: Python {parts['python']:.0f} MiB, Playwright driver {parts['driver']:.0f} MiB, "
            f"Chromium {parts['chromium']:.0f} MiB ({parts['browsers']:.0f} browser processes)"
        )
    result.notes.append(
        "Chromium starts on the first task and is retired after its "
        f"{RECYCLE_AFTER}th context, so the tree idle and after a multiple of {RECYCLE_AFTER} tasks "
        "may hold no Chromium at all"
    )
    result.notes.append("DESIGN.md measured here: Chromium ≈ 280 MiB idle, ≈ 620 MiB with 5 contexts")
    for name, run_ in (("pooled", pooled), ("launch-per-task", launching)):
        result.notes += purchase_profile.notes(name, run_["n"], run_["seconds"], run_["cpu"], run_["steps"])
    return result


async def _worker_run(
    env: BenchEnv,
    webapp: Any,
    queue: str,
    conn: asyncpg.Connection,
    client: httpx.AsyncClient,
    store: str,
    purchases: int,
    recycle_after: int,
    *,
    label: str,
) -> dict[str, Any]:
    """One worker process (concurrency ``CONCURRENCY``) runs ``purchases`` demo purchases made
    through the API; PSS idle, sampled (peak) and after; the worker is stopped at the end."""
    up_before = await conn.fetchval("SELECT count(*) FROM worker WHERE status = 'up'")
    worker = env.taskiq_worker(
        "demo-worker",
        "workers.broker:broker",
        workers=1,
        env=env.child_env(
            DATABASE_URL=env.db_url,
            REDIS_URL=env.redis_url,
            TASKDECK_QUEUE_NAME=queue,
            TASKDECK_DEMO_STORE_URL=store,
            TASKDECK_BROWSER_RECYCLE_AFTER=recycle_after,
            TASKDECK_WORKER_CONCURRENCY=CONCURRENCY,
        ),
    )
    try:

        async def worker_up() -> bool:
            # this run's worker (the previous run's row may still say up for a while)
            return bool(await conn.fetchval("SELECT count(*) FROM worker WHERE status = 'up'") > up_before)

        await wait_until(worker_up, timeout=60, what="the demo worker", procs=[worker], interval=0.1)
        await asyncio.sleep(2)  # let start-up settle
        idle = await asyncio.to_thread(breakdown, worker.tree())
        peak = {"total": 0.0, "chromium": 0.0, "processes": 0.0}
        stop_sampling = asyncio.Event()

        async def sample() -> None:
            while not stop_sampling.is_set():
                tree = worker.tree()
                parts = await asyncio.to_thread(breakdown, tree)
                peak["chromium"] = max(peak["chromium"], parts["chromium"])
                if parts["total"] > peak["total"]:
                    peak.update(total=parts["total"], processes=len(tree))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop_sampling.wait(), SAMPLE_EVERY)

        done_before = await conn.fetchval(
            "SELECT count(*) FROM task WHERE status IN ('completed', 'failed', 'cancelled')"
        )
        sampler = asyncio.create_task(sample())
        cpu_before = await asyncio.to_thread(purchase_profile.cpu_by_kind, worker.tree())
        web_before = await asyncio.to_thread(cpu_seconds, webapp.tree())
        started = time.perf_counter()
        try:
            for n in range(purchases):
                body = {"name": f"memory {label} {n}", "store": "demo", "product": PRODUCT, "quantity": 1}
                response = await client.post(f"{webapp.url}/api/tasks", json=body)
                if response.status_code != 201:
                    raise BenchError(f"POST /api/tasks answered {response.status_code}: {response.text}")

            async def all_done() -> bool:
                n = await conn.fetchval(
                    "SELECT count(*) FROM task WHERE status IN ('completed', 'failed', 'cancelled')"
                )
                return bool(n - done_before >= purchases)

            await wait_until(
                all_done,
                timeout=max(300, purchases * 15),  # a loaded machine is slow
                what=f"{purchases} demo purchases",
                procs=[worker, webapp],
                interval=0.25,
            )
            seconds = time.perf_counter() - started
            cpu = purchase_profile.cpu_delta(
                cpu_before, await asyncio.to_thread(purchase_profile.cpu_by_kind, worker.tree())
            )
            cpu["webapp"] = await asyncio.to_thread(cpu_seconds, webapp.tree()) - web_before
        finally:
            stop_sampling.set()
            await sampler
        await asyncio.sleep(2)  # contexts closed, retired browsers gone
        after = await asyncio.to_thread(breakdown, worker.tree())
        statuses = Counter(
            r["status"]
            for r in await conn.fetch("SELECT status FROM task WHERE name LIKE $1", f"memory {label} %")
        )
        orders = len((await client.get(f"{store}/api/orders")).json())
    finally:
        await env.stop(worker, grace=10)
    return {
        "n": purchases,
        "idle": idle,
        "peak": peak,
        "after": after,
        "seconds": seconds,
        "statuses": statuses,
        "orders": orders,
        "cpu": cpu,
        "steps": await purchase_profile.steps(conn, name_like=f"memory {label} %"),
    }


def breakdown(processes: list[psutil.Process]) -> dict[str, float]:
    """PSS in MiB by kind: Python (taskiq), the Playwright driver (node), Chromium. Blocking."""
    kinds: dict[str, list[psutil.Process]] = {"python": [], "driver": [], "chromium": []}
    for proc in processes:
        try:
            name = proc.name().lower()
        except psutil.Error:
            continue
        kind = "driver" if name.startswith("node") else "chromium" if "chrom" in name else "python"
        kinds[kind].append(proc)
    parts = {kind: pss_mib(procs) for kind, procs in kinds.items()}
    parts["total"] = sum(parts.values())
    parts["browsers"] = float(len(kinds["chromium"]))
    return parts


async def _bare_chromium(executable: str, url: str) -> dict[str, float]:
    """PSS of a Playwright driver + Chromium with one page loaded from ``url``."""
    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}
    as_root = hasattr(os, "geteuid") and os.geteuid() == 0
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=list(BASE_ARGS), chromium_sandbox=not as_root
        )
        try:
            page = await browser.new_page()
            await page.goto(url, timeout=30_000)
            await asyncio.sleep(2)  # same settling time as the worker's figures
            tree = [p for p in me.children(recursive=True) if p.pid not in before]
            return await asyncio.to_thread(breakdown, tree)
        finally:
            await browser.close()
