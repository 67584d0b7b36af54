"""Regenerate the README's pictures in docs/: ``.venv/bin/python scripts/screenshots.py``.

Starts ``python -m webapp`` in embedded mode (SQLite in a temporary folder, the in-process worker,
the demo store) on a free port, signs in as the first admin it creates, makes tasks through the
API that end in several states, and has Chromium (``/usr/bin/chromium`` unless
``TASKDECK_CHROMIUM`` says otherwise) take:

    docs/screenshot.png   the tasks page, 1440×900
    docs/task.png         a bought task's page
    docs/queue.png        the queue page
    docs/purchases.png    the purchases page with its totals per store
    docs/bell.png         the bell's list after a failure and purchases
    docs/phone.png        the tasks page at 390×844, navigation folded into the menu
    docs/dark.png         the queue page in dark mode
    docs/login.png        the sign-in page

Nothing else is touched; the temporary folder is removed at the end.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Browser, Page, ViewportSize, async_playwright, expect

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
DESK: ViewportSize = {"width": 1440, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_webapp(folder: Path) -> tuple[subprocess.Popen[str], str, str]:
    """The web process, its URL and the first admin's password (printed once at first start)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env |= {"TASKDECK_PORT": str(port), "TASKDECK_ARTIFACTS_DIR": str(folder / "artifacts")}
    log = folder / "webapp.log"
    with log.open("w") as out:  # a file, not a pipe: an unread pipe would stall the server
        proc = subprocess.Popen(
            [sys.executable, "-m", "webapp"],
            cwd=folder,
            env=env | {"PYTHONPATH": str(ROOT)},
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    password = None
    for _ in range(600):
        text = log.read_text()
        if match := re.search(r"with password: (\S+)", text):
            password = match[1]
        if (password and "ready to go" in text) or proc.poll() is not None:
            break
        time.sleep(0.2)
    if password is None:
        proc.kill()
        raise SystemExit(f"screenshots: the webapp did not start:\n{log.read_text()[-3000:]}")
    for _ in range(300):
        try:
            if httpx.get(f"{url}/api/health").status_code == 200:
                break
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    return proc, url, password


async def sign_in(page: Page, url: str, password: str) -> None:
    await page.goto(f"{url}/login")
    await page.locator('input[name="email"]').fill("admin@localhost")
    await page.locator('input[name="password"]').fill(password)
    async with page.expect_navigation():
        await page.locator('button[type="submit"]').click()


def row(page: Page, name: str) -> Any:
    return page.locator("[data-testid=tasks-table] tbody tr").filter(
        has=page.get_by_role("link", name=name, exact=True)
    )


async def make_tasks(http: httpx.AsyncClient) -> list[dict[str, Any]]:
    async def create(name: str, product: str, **fields: Any) -> dict[str, Any]:
        body = {"name": name, "store": "demo", "product": product, "start": "now", **fields}
        response = await http.post("/api/tasks", json=body)
        response.raise_for_status()
        return dict(response.json())

    await http.put("/demo-store/api/products/sneaker-drop", json={"delayMs": 4000})
    done = [await create(n, "vinyl-box") for n in ("Vinyl box", "Vinyl box (gift)")]
    await create("Collector figure", "collector-figure", quantity=2)
    await create("GPU under $500", "gpu-founders", maxPrice=500, maxAttempts=1)
    soon = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    await create("Console at 9:00", "console-limited", start="at", priority=5, runAt=soon)
    await create("Console restock watch", "console-limited", start="later", mode="monitor", checkEvery=60)
    spare = await create("Vinyl box (spare)", "vinyl-box", start="later")
    await http.post(f"/api/tasks/{spare['id']}/cancel")
    return done


async def shoot(browser: Browser, url: str, password: str, http: httpx.AsyncClient) -> None:
    context = await browser.new_context(viewport=DESK, color_scheme="light", timezone_id="UTC")
    page = await context.new_page()
    await sign_in(page, url, password)
    done = await make_tasks(http)
    await page.goto(f"{url}/tasks")
    for task in done:
        await expect(row(page, task["name"]).get_by_test_id("status")).to_have_text(
            "completed", timeout=90_000
        )
    await expect(row(page, "GPU under $500").get_by_test_id("status")).to_have_text("failed", timeout=60_000)
    running = await http.post(
        "/api/tasks",
        json={"name": "Sneaker drop", "store": "demo", "product": "sneaker-drop", "priority": 10},
    )
    await expect(row(page, "Sneaker drop").get_by_test_id("status")).to_have_text("running", timeout=60_000)
    await expect(page.locator(".q-notification")).to_have_count(0, timeout=20_000)  # toasts gone
    await page.screenshot(path=DOCS / "screenshot.png")

    await page.get_by_test_id("bell").click()
    await expect(page.get_by_test_id("notification").first).to_be_visible()
    await page.wait_for_timeout(500)
    await page.screenshot(path=DOCS / "bell.png", clip={"x": 840, "y": 0, "width": 600, "height": 420})
    await page.keyboard.press("Escape")

    await page.goto(f"{url}/tasks/{done[0]['id']}")
    await expect(page.get_by_test_id("task-status")).to_have_text("completed", timeout=10_000)
    await expect(page.get_by_test_id("result")).not_to_be_empty(timeout=10_000)
    await page.wait_for_timeout(1000)
    await page.screenshot(path=DOCS / "task.png", full_page=True)

    await page.goto(f"{url}/queue")
    await expect(page.get_by_text("Workers").first).to_be_visible(timeout=10_000)
    await page.wait_for_timeout(2000)  # let the charts draw
    await page.screenshot(path=DOCS / "queue.png", full_page=True)

    await page.goto(f"{url}/purchases")
    await expect(page.get_by_test_id("store-totals").locator("tbody tr").first).to_be_visible()
    await page.wait_for_timeout(500)
    await page.screenshot(path=DOCS / "purchases.png")
    await expect(page).to_have_url(re.compile("/purchases"))
    assert running.status_code == 201
    await context.close()

    for name, options, path in (
        ("phone", {"viewport": PHONE, "is_mobile": True, "has_touch": True}, "/tasks"),
        ("dark", {"viewport": DESK, "color_scheme": "dark"}, "/queue"),
    ):
        context = await browser.new_context(timezone_id="UTC", **options)
        page = await context.new_page()
        await sign_in(page, url, password)
        await page.goto(f"{url}{path}")
        await expect(page.get_by_test_id("header")).to_be_visible()
        await page.wait_for_timeout(2000)
        await page.screenshot(path=DOCS / f"{name}.png")
        await context.close()

    context = await browser.new_context(viewport=DESK)
    page = await context.new_page()
    await page.goto(f"{url}/login")
    await expect(page.locator('input[name="email"]')).to_be_visible()
    await page.screenshot(path=DOCS / "login.png")
    await context.close()


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="taskdeck-shots-") as tmp:
        proc, url, password = start_webapp(Path(tmp))
        try:
            async with httpx.AsyncClient(base_url=url, timeout=30) as http:
                login = await http.post(
                    "/login", data={"email": "admin@localhost", "password": password, "next": "/tasks"}
                )
                assert login.status_code == 303, login.text
                async with async_playwright() as playwright:
                    chromium = os.environ.get("TASKDECK_CHROMIUM", "/usr/bin/chromium")
                    browser = await playwright.chromium.launch(executable_path=chromium)
                    try:
                        await shoot(browser, url, password, http)
                    finally:
                        await browser.close()
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
    print("screenshots: docs/{screenshot,task,queue,purchases,bell,phone,dark,login}.png written")


if __name__ == "__main__":
    asyncio.run(main())
