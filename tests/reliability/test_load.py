"""Load: many API clients at once, and many open dashboards under steady traffic.

- API: ``clients`` concurrent clients, each creating a noop task and executing it, again and
  again, for ``seconds``: every request answered 201/202, every task run to ``completed``; the
  p95 latency of each route is printed in the summary (``python -m bench api --concurrency 200``
  measures the same route beside a baseline).
- Dashboards: ``pages`` open ``/tasks`` pages while tasks run for ``seconds``: every page shows
  the last task completed and its live badge on, no page logs a websocket or script error, and the
  webapp's memory after the pages close is back near what it was after a first round of the same
  pages (a per-page leak would grow it by the round). A page whose connection was lost for
  longer than NiceGUI's ``reconnect_timeout`` (3 s) is reloaded by NiceGUI's own script; that is
  counted and printed, not failed: on this shared 2-core machine (load average near 30) it happens.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import psutil
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect
from sqlalchemy import func, select

from bench.harness import percentile
from models.db import Database
from models.tables import Task
from tests.conftest import REDIS_URL, Proc, chromium_path, wait_for
from tests.reliability.conftest import Promise, SignIn
from tests.reliability.soak import Size, sizes

pytestmark = pytest.mark.slow


@pytest.fixture
async def loaded(
    db: Database,
    pg_url: str,
    redis_queue: str,
    start_webapp: Any,
    start_worker: Any,
    api_headers: dict[str, str],
) -> AsyncIterator[tuple[Proc, httpx.AsyncClient]]:
    env = {"DATABASE_URL": pg_url, "REDIS_URL": REDIS_URL, "TASKDECK_QUEUE_NAME": redis_queue}
    web = await start_webapp(**env)
    start_worker(**env, TASKDECK_WORKER_CONCURRENCY=8)
    limits = httpx.Limits(max_connections=400, max_keepalive_connections=400)
    async with httpx.AsyncClient(
        base_url=web.url or "", timeout=60, limits=limits, headers=api_headers
    ) as http:
        yield web, http


async def count(db: Database, **where: Any) -> int:
    async with db.session() as session:
        stmt = select(func.count()).select_from(Task)
        for key, value in where.items():
            stmt = stmt.where(getattr(Task, key) == value)
        return await session.scalar(stmt) or 0


@pytest.mark.parametrize(
    "size", sizes(fast={"clients": 20, "seconds": 10}, soak={"clients": 200, "seconds": 60})
)
async def test_api_clients(
    size: Size, loaded: tuple[Proc, httpx.AsyncClient], db: Database, promise: Promise
) -> None:
    _, http = loaded
    latencies: dict[str, list[float]] = {"create": [], "execute": []}
    errors: Counter[str] = Counter()
    ids: list[str] = []
    stop = time.monotonic() + size["seconds"]

    async def timed(
        route: str, method: str, url: str, body: dict[str, Any], ok: int
    ) -> dict[str, Any] | None:
        t0 = time.perf_counter()
        try:
            r = await http.request(method, url, json=body)
        except httpx.HTTPError as exc:
            errors[f"{route}: {type(exc).__name__}"] += 1
            return None
        latencies[route].append((time.perf_counter() - t0) * 1000)
        if r.status_code != ok:
            errors[f"{route}: HTTP {r.status_code} {r.text[:120]}"] += 1
            return None
        return r.json()  # type: ignore[no-any-return]

    async def client(n: int) -> None:
        i = 0
        while time.monotonic() < stop:
            body = {"name": f"load {n}.{i}", "store": "noop", "product": "noop", "start": "later"}
            task = await timed("create", "POST", "/api/tasks", body, 201)
            if task is not None:
                ids.append(task["id"])
                await timed("execute", "POST", "/api/tasks/execute", {"taskId": task["id"]}, 202)
            i += 1

    await asyncio.gather(*(client(n) for n in range(size["clients"])))
    assert not errors, f"{sum(errors.values())} failed requests under load: {dict(errors)}"

    async def all_completed() -> bool:
        return await count(db, status="completed") == len(ids)

    await wait_for(all_completed, timeout=120, interval=0.5, what=f"{len(ids)} load tasks completed")
    p95 = {route: percentile(values, 95) for route, values in latencies.items()}
    promise(
        "no task lost",
        f"{size['clients']} API clients for {size['seconds']} s: {len(ids)} tasks created, executed and "
        f"completed, 0 errors; p95 create {p95['create']:.0f} ms, execute {p95['execute']:.0f} ms",
    )


def tree_rss_mb(pid: int) -> float:
    total = 0
    for proc in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            continue
    return total / 2**20


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=chromium_path(), headless=True)
        yield chromium
        await chromium.close()


@pytest.mark.parametrize("size", sizes(fast={"pages": 5, "seconds": 15}, soak={"pages": 50, "seconds": 600}))
async def test_open_dashboards(
    size: Size,
    loaded: tuple[Proc, httpx.AsyncClient],
    db: Database,
    browser: Browser,
    promise: Promise,
    sign_in_page: SignIn,
) -> None:
    web, http = loaded
    problems: list[str] = []
    reloads: list[str] = []
    t0 = time.monotonic()

    async def open_pages() -> list[Page]:
        pages = []
        for n in range(size["pages"]):
            context = await browser.new_context(viewport={"width": 1280, "height": 800})
            page = await context.new_page()
            await sign_in_page(page, web.url or "")
            page.on("pageerror", lambda exc, n=n: problems.append(f"page {n}: {exc}"))
            page.on(
                "console",
                lambda m, n=n: problems.append(f"page {n}: {m.text}") if m.type == "error" else None,
            )
            page.on(
                "websocket", lambda ws, n=n: ws.on("socketerror", lambda e: problems.append(f"page {n}: {e}"))
            )
            await page.goto(f"{web.url}/tasks")
            await expect(page.get_by_test_id("live")).to_contain_text("Live")
            await page.evaluate("window.__marker = 'still here'")
            page.on(
                "framenavigated",
                lambda f, n=n: reloads.append(
                    f"page {n} navigated to {f.url} at {time.monotonic() - t0:.1f}s"
                ),
            )
            pages.append(page)
        return pages

    async def close(pages: list[Page]) -> None:
        for page in pages:
            await page.context.close()

    async def settle() -> float:
        """The webapp's memory once NiceGUI has dropped the closed pages' clients."""
        await asyncio.sleep(8)  # NiceGUI deletes a disconnected client after its reconnect timeout
        return tree_rss_mb(web.pid)

    await close(await open_pages())  # a first round: imports, caches and pools warm up
    baseline = await settle()
    pages = await open_pages()
    with_pages = tree_rss_mb(web.pid)
    stop, sent = time.monotonic() + size["seconds"], 0
    while time.monotonic() < stop:  # steady traffic: 4 tasks a second
        body = {"name": f"steady {sent}", "store": "noop", "product": "noop", "start": "now"}
        r = await http.post("/api/tasks", json=body)
        assert r.status_code == 201, r.text
        sent += 1
        await asyncio.sleep(0.25)
    last = f"steady {sent - 1}"
    for page in pages:
        status = page.locator("[data-testid=tasks-table] tbody tr").filter(
            has=page.get_by_role("link", name=last, exact=True)
        )
        await expect(status.get_by_test_id("status")).to_have_text("completed", timeout=30_000)
        await expect(page.get_by_test_id("live")).to_contain_text("Live")
    await close(pages)
    after = await settle()
    assert not problems, "errors on the open dashboards:\n" + "\n".join(problems[:20])
    grown = after - baseline
    assert grown < max(40.0, baseline * 0.15), (
        f"webapp memory {baseline:.0f} MiB before, {with_pages:.0f} with {size['pages']} pages, "
        f"{after:.0f} after they closed: {grown:.0f} MiB not given back"
    )
    promise(
        "no outcome hidden",
        f"{size['pages']} dashboards for {size['seconds']} s of traffic ({sent} tasks): every page live, "
        f"0 websocket errors, {len(reloads)} reloads by NiceGUI after a lost connection; "
        f"webapp {baseline:.0f} → {with_pages:.0f} → {after:.0f} MiB",
    )
