"""``/tasks`` follows the live hub with the changed cells only (``webapp/pages/tasks_live.py``).

In a real Chromium against a real ``python -m webapp`` (Postgres, embedded worker), with the
page's websocket messages recorded (socket.io's ``onAny``):

- a shown task that runs to the end turns running, then completed, and the chips count it, while
  no message carries the table's rows once the page shows them (not even QTable's echo of its
  pagination as it mounts, ``TasksTable``): each change goes as a patch of that row's cells;
  only a reconnect of the live hub re-reads the page (its log says so);
- a failed task's row shows its error (read again once it settled), still without the table;
- the other rows' cells stay the same DOM nodes throughout (``TasksTable`` compiles its cell
  templates once; NiceGUI's ``add_slot`` templates were mounted anew on every render);
- a new task appears (its payload says ``created``), and a task that leaves a status filter's view
  leaves the page: those re-read the page.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

import pytest
from playwright.async_api import Page, expect

from models.tables import Task
from tests.webapp.socket_probe import on_socket
from tests.webapp.test_dashboard import App, app, page, row
from webapp.live import RECONNECTED
from webapp.pages.tasks_live import apply_change
from webapp.pages.tasks_table import task_row

__all__ = ["app", "page"]
pytestmark = pytest.mark.timeout(240)

# Installed before the page loads (``add_init_script``): NiceGUI sets ``window.socket`` before it
# connects, so every message the page ever receives is seen, the first ones after connecting too.
RECORD = """
window.__tables = 0;  // messages that carried a table's rows while the page already showed them
window.__patches = 0;  // row patches (run_javascript)
""" + on_socket("""
      s.onAny((type, msg) => {  // runs before NiceGUI applies the message
        if (type === 'update') {
          for (const [id, el] of Object.entries(msg)) {
            const shown = mounted_app?.elements[id]?.props?.rows;
            if (el?.props && Array.isArray(el.props.rows) && shown?.length) window.__tables++;
          }
        }
        if (type === 'run_javascript' && msg.code.includes('Object.assign(row, p)')) window.__patches++;
      });""")


async def record(page: Page) -> None:
    """Count, from the next page's first message on, whole-table updates and row patches."""
    await page.add_init_script(RECORD)


async def counted(page: Page) -> dict[str, Any]:
    result: dict[str, Any] = await page.evaluate("({tables: window.__tables, patches: window.__patches})")
    return result


async def test_a_run_reaches_the_page_as_row_patches_not_whole_tables(app: App, page: Page) -> None:
    shown = await app.create("Patched drop")
    failing = await app.create("Too dear", maxPrice=1, maxAttempts=1)
    await app.create("Bystander")
    await record(page)
    await page.goto(f"{app.url}/tasks")
    await expect(page.get_by_test_id("live")).to_contain_text("Live")
    await expect(row(page, "Bystander").get_by_test_id("status")).to_have_text("pending")
    await page.evaluate(
        "() => { window.__cell = [...document.querySelectorAll('[data-testid=tasks-table] tbody tr')]"
        ".find((tr) => tr.textContent.includes('Bystander')).querySelector('[data-testid=status]') }"
    )

    await app.execute(shown["id"])
    await expect(row(page, "Patched drop").get_by_test_id("status")).to_have_text("completed", timeout=60_000)
    await expect(row(page, "Patched drop")).to_contain_text("1/3")
    await expect(page.get_by_test_id("chip-completed")).to_contain_text("1")  # the counts, read again
    await expect(page.get_by_test_id("summary")).to_contain_text("0 running")

    await app.execute(failing["id"])
    await expect(row(page, "Too dear").get_by_test_id("status")).to_have_text("failed", timeout=60_000)
    await expect(row(page, "Too dear")).to_contain_text("price", timeout=10_000)  # its error, read again
    await expect(page.get_by_test_id("chip-failed")).to_contain_text("1")

    assert await page.evaluate("document.contains(window.__cell)")  # not drawn again
    seen = await counted(page)
    assert seen["patches"] > 0
    # no change sent the whole table, nor did opening the page send it again once drawn; only a
    # reconnect of the live hub may (each is followed by one re-read of the page)
    reconnects = app.proc.log().count(RECONNECTED)
    assert seen["tables"] <= reconnects, (seen, reconnects)


async def test_a_new_task_and_one_leaving_a_filtered_view_re_read_the_page(app: App, page: Page) -> None:
    leaving = await app.create("Leaves the view")
    await app.create("Stays pending")
    await page.goto(f"{app.url}/tasks?status=pending")
    await expect(row(page, "Leaves the view").get_by_test_id("status")).to_have_text("pending")
    await expect(page.get_by_test_id("live")).to_contain_text("Live")

    await app.create("Newcomer")
    await expect(row(page, "Newcomer")).to_have_count(1, timeout=10_000)

    await app.execute(leaving["id"])  # no longer pending: not in this view
    await expect(row(page, "Leaves the view")).to_have_count(0, timeout=30_000)
    await expect(row(page, "Stays pending")).to_have_count(1)


def test_a_retried_row_counts_its_new_run_from_one_of_the_budget() -> None:
    """After a retry the row shows the new run's attempt of ``maxAttempts`` (issue 8), live as
    read: the database's ceiling (``max_attempts`` 6 after one retry of 3) is not the person's."""
    task = Task(name="t", store="demo", product="p", status="failed", attempt=3, max_attempts=3)
    shown = task_row(task, UTC)
    assert shown["attempts"] == "3/3"
    apply_change(shown, {"kind": "state", "status": "queued"})  # retry
    apply_change(shown, {"kind": "state", "status": "running"})
    assert shown["attempts"] == "1/3"
    task.attempt, task.max_attempts, task.attempts_per_run = 5, 6, 3  # read again, second of the run
    assert task_row(task, UTC)["attempts"] == "2/3"
