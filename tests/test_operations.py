"""Operations on the real stack: /healthz, /readyz, /metrics, `python -m workers check`, the worker's
start-up browser check and `python -m workers drain` (issue 13, Operations and Deployment)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from models import migrations
from models.db import Database
from tests.conftest import REDIS_URL, TEST_SECRET_KEY, AuthUser, Procs, child_env, free_port, wait_for
from tests.stack import Stack
from tests.test_outages import private_redis  # noqa: F401  (fixture)

pytestmark = pytest.mark.slow
METRICS_TOKEN = "scrape-me-3f9a1c"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text exposition, parsed by prometheus-client's own parser."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(figures: dict[Any, float], name: str, **labels: str) -> float:
    return figures.get((name, tuple(sorted(labels.items()))), 0.0)


async def scrape(url: str, token: str = METRICS_TOKEN) -> dict[Any, float]:
    async with httpx.AsyncClient(timeout=15) as http:
        r = await http.get(f"{url}/metrics", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return samples(r.text)


async def test_probes_and_metrics_follow_tasks_as_they_run(
    db: Database,
    pg_url: str,
    redis_queue: str,
    start_webapp: Any,
    start_worker: Any,
    auth_headers: dict[str, str],
    admin_user: AuthUser,
) -> None:
    env = {"DATABASE_URL": pg_url, "REDIS_URL": REDIS_URL, "TASKDECK_QUEUE_NAME": redis_queue}
    web = await start_webapp(**env, TASKDECK_METRICS_TOKEN=METRICS_TOKEN)
    async with httpx.AsyncClient(timeout=15) as http:
        assert (await http.get(f"{web.url}/healthz")).json() == {"ok": True}
        ready = await http.get(f"{web.url}/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": True, "schema": True, "redis": True}
        # closed to strangers and to users who are not admins; open to the scraper's token and admins
        assert (await http.get(f"{web.url}/metrics")).status_code == 401
        assert (
            await http.get(f"{web.url}/metrics", headers={"Authorization": "Bearer nope"})
        ).status_code == 401
        assert (await http.get(f"{web.url}/metrics", headers=auth_headers)).status_code == 404
        admin = {"Authorization": f"Bearer {admin_user.token}"}
        assert (await http.get(f"{web.url}/metrics", headers=admin)).status_code == 200

    before = await scrape(web.url)
    assert value(before, "taskdeck_tasks", state="completed") == 0
    assert value(before, "taskdeck_workers", status="up") == 0

    worker = start_worker(**env, TASKDECK_DEMO_STORE_URL=f"{web.url}/demo-store")
    async with httpx.AsyncClient(timeout=15, headers=auth_headers) as http:
        s = Stack(web.url or "", http)
        await s.reset_store()
        task = await s.create(start="now")
        done = await s.wait(task["id"], "completed", "failed", timeout=90)
        assert done["status"] == "completed", done
    after = await wait_for(
        lambda: _scraped_with_worker(web.url or ""),
        timeout=30,
        what="a worker row with its browser in /metrics",
    )
    assert value(after, "taskdeck_tasks", state="completed") == 1
    assert value(after, "taskdeck_attempts_total", store="demo", outcome="completed") == 1
    assert value(after, "taskdeck_purchases_total", currency="USD") == 1
    assert value(after, "taskdeck_money_spent_total", currency="USD") > 0
    assert value(after, "taskdeck_task_run_seconds_count") == 1
    assert value(after, "taskdeck_task_wait_seconds_count") == 1
    assert value(after, "taskdeck_workers", status="up") == 1
    memory = [v for (name, _), v in after.items() if name == "taskdeck_chromium_memory_bytes"]
    assert memory and memory[0] > 10 * 2**20  # a launched Chromium
    assert any(name == "taskdeck_live_hub_lag_seconds_count" and v >= 1 for (name, _), v in after.items())
    assert ("taskdeck_queue", (("what", "stream_length"),)) in after
    assert worker.popen.poll() is None


async def _scraped_with_worker(url: str) -> dict[Any, float] | None:
    figures = await scrape(url)
    if any(name == "taskdeck_chromium_memory_bytes" for name, _ in figures):
        return figures
    return None


async def test_readyz_is_red_while_redis_is_down(
    db: Database,
    pg_url: str,
    private_redis: Any,  # noqa: F811
    start_webapp: Any,
) -> None:
    web = await start_webapp(DATABASE_URL=pg_url, REDIS_URL=private_redis.url)
    async with httpx.AsyncClient(timeout=15) as http:
        assert (await http.get(f"{web.url}/readyz")).status_code == 200
        private_redis.kill()
        down = await http.get(f"{web.url}/readyz")
        assert down.status_code == 503
        assert down.json()["checks"] == {"database": True, "schema": True, "redis": False}
        assert "127.0.0.1" not in down.text  # no addresses or errors for strangers
        assert (await http.get(f"{web.url}/healthz")).status_code == 200  # the process still answers


def run_check(*args: str, **env: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workers", "check", *args],
        capture_output=True,
        text=True,
        env=child_env(TASKDECK_SECRET_KEY=TEST_SECRET_KEY, **env),
        timeout=120,
        check=False,
    )


async def test_workers_check(db: Database, pg_url: str, tmp_path: Path) -> None:
    ok = run_check("--browser", DATABASE_URL=pg_url, REDIS_URL=REDIS_URL)
    assert ok.returncode == 0, ok.stderr

    dead = run_check(DATABASE_URL=pg_url, REDIS_URL=f"redis://:hunter2@127.0.0.1:{free_port()}/0")
    assert dead.returncode == 1
    assert dead.stderr.count("\n") == 1 and dead.stderr.startswith("taskdeck worker: not ready: redis:")
    assert "hunter2" not in dead.stderr  # never a password

    empty = Database(f"sqlite+aiosqlite:///{tmp_path / 'behind.db'}")
    await migrations.upgrade(empty, "0004")
    await empty.dispose()
    behind = run_check(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'behind.db'}", REDIS_URL=REDIS_URL)
    assert behind.returncode == 1 and "schema: the database schema is at 0004" in behind.stderr
    assert behind.stderr.count("\n") == 1

    no_browser = run_check(
        "--browser", DATABASE_URL=pg_url, REDIS_URL=REDIS_URL, TASKDECK_BROWSER_PATH="/bin/false"
    )
    assert no_browser.returncode == 1 and "browser:" in no_browser.stderr


async def test_a_worker_whose_chromium_cannot_start_exits_with_one_clear_line(
    db: Database, pg_url: str, redis_queue: str, procs: Procs, tmp_path: Path
) -> None:
    env = child_env(
        DATABASE_URL=pg_url,
        REDIS_URL=REDIS_URL,
        TASKDECK_QUEUE_NAME=redis_queue,
        TASKDECK_SECRET_KEY=TEST_SECRET_KEY,
        TASKDECK_ARTIFACTS_DIR=tmp_path / "artifacts",
        TASKDECK_BROWSER_PATH="/bin/false",
    )
    taskiq = str(Path(sys.executable).parent / "taskiq")
    worker = procs.spawn(
        "worker", [taskiq, "worker", "workers.broker:broker", "--workers", "1", "--max-fails", "1"], env
    )
    code = await wait_for(lambda: worker.popen.poll(), timeout=90, what="the worker to exit")
    assert code != 0
    assert "refusing to start: Chromium at /bin/false failed to start" in worker.log()


async def test_drain_lets_the_running_task_finish_then_the_worker_exits(
    db: Database,
    pg_url: str,
    redis_queue: str,
    start_webapp: Any,
    start_worker: Any,
    auth_headers: dict[str, str],
) -> None:
    env = {"DATABASE_URL": pg_url, "REDIS_URL": REDIS_URL, "TASKDECK_QUEUE_NAME": redis_queue}
    web = await start_webapp(**env)
    worker = start_worker(
        **env,
        TASKDECK_DEMO_STORE_URL=f"{web.url}/demo-store",
        TASKDECK_SHUTDOWN_GRACE=60,
        TASKDECK_LOG_FORMAT="json",
        shutdown_timeout=80,  # as `python -m workers run` passes: taskiq's own 5 s would cut the grace
    )
    async with httpx.AsyncClient(timeout=15, headers=auth_headers) as http:
        s = Stack(web.url or "", http)
        await s.reset_store()
        await s.product("sneaker-drop", delayMs=3000)  # slow enough to be running when the drain arrives
        task = await s.create(start="now")
        await s.wait(task["id"], "running", timeout=60)
        drained = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "workers", "drain", "--all"],
            capture_output=True,
            text=True,
            env=child_env(DATABASE_URL=pg_url, TASKDECK_SECRET_KEY=TEST_SECRET_KEY),
            timeout=60,
            check=False,
        )
        assert drained.returncode == 0 and drained.stdout.startswith("draining "), drained.stderr
        await wait_for(lambda: worker.popen.poll() is not None, timeout=90, what="the drained worker to exit")
        done = await s.task(task["id"])
        assert done["status"] == "completed", done  # it finished inside the grace, not handed back
        lines = [json.loads(line) for line in worker.log().splitlines() if line.startswith("{")]
        drain = [line for line in lines if "asked to drain" in line["message"]]
        assert drain and drain[0]["worker"] and drain[0]["level"] == "WARNING"  # TASKDECK_LOG_FORMAT=json
        later = await s.create(start="now", store="noop")
        assert (await s.task(later["id"]))["status"] == "queued"  # nobody took it: the worker is gone
