"""How ``/tasks`` follows the live hub: changed cells to the browser, re-reads only when needed.

A change's payload carries the task's new status, step and progress. A row on the page takes
them at once and only that row's changed cells go to the browser (``patch_rows``: a few hundred
bytes, where ``table.update()`` would send the whole table, ≈ 20 KB for 25 rows). Nothing is read
from the database for that.

What a payload does not carry is read again, throttled (at most one read per interval, however
many changes arrive):

- the counts (chips and summary): one ``GROUP BY`` after any state change, creation or deletion;
- a shown row that settled (a status other than queued or running: its error, attempts or a
  monitor's next check may have changed with it): that row alone (``rows_to_reread``);
- the whole page, only when the set of tasks on it may change: a task created or deleted, an
  edit of a shown task, or a state change while the view filters or sorts by something a run
  changes (``follows_runs``: the status filter or sort, the worker filter, a search that finds
  order numbers).

Patches and whole-table updates are ordered by a per-row stamp (``v``): a full update read after
a change wins over that change's patch if the two reach the browser in the other order.
"""

from __future__ import annotations

import json
from typing import Any

from nicegui import ui

from models.states import FRESH_RUN_FROM, TaskStatus
from webapp.pages import offered
from webapp.pages.tasks_filters import TasksQuery

S = TaskStatus
MOVING = frozenset({S.QUEUED.value, S.RUNNING.value})  # a row in these needs nothing but the payload

# Applied in the browser to the table's own reactive rows (NiceGUI keeps each element's props in
# ``mounted_app.elements``): Vue redraws only the cells whose values changed.
PATCH_JS = """
(() => {
  const rows = mounted_app.elements[%d]?.props?.rows;
  if (!rows) return;
  const byId = new Map(rows.map((r) => [r.id, r]));
  for (const p of %s) {
    const row = byId.get(p.id);
    if (row && !(row.v > p.v)) Object.assign(row, p);
  }
})()
"""


def follows_runs(query: TasksQuery) -> bool:
    """May a task's run (a state change) change which tasks this view shows, or their order?"""
    return bool(query.status or query.worker or query.q or query.sort == "status")


def apply_change(row: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
    """Take a ``state`` or ``progress`` payload into ``row`` (in place); returns the changed fields."""
    before = dict(row)
    status = payload.get("status")
    if status and status != row["status"]:
        if "check" not in row:  # attempts of the current run (a monitor's claim is a check)
            if status == S.QUEUED and row["status"] in FRESH_RUN_FROM:  # a retry: a new run of the budget
                row["attempt"] = 0
            elif status == S.RUNNING:  # a claim uses an attempt
                row["attempt"] = min(row["attempt"] + 1, row["max_attempts"])
            row["attempts"] = f"{row['attempt']}/{row['max_attempts']}"
        row["status"] = status
        row["was_started"] = row.get("was_started") or status not in (S.PENDING, S.PAUSED)
        row["actions"] = ",".join(offered.offered(status, was_started=row["was_started"]))
        row["tips"] = offered.tips(status, was_started=row["was_started"])
    if payload.get("progress") is not None:
        row["progress"] = payload["progress"]
    if payload.get("kind") == "progress" or status == S.RUNNING:
        row["step"] = payload.get("step") or ""
    return {k: v for k, v in row.items() if before.get(k) != v}


def settled(payload: dict[str, Any]) -> bool:
    """A state change after which the row may hold more than the payload says (error, checks)."""
    return payload.get("kind") == "state" and payload.get("status") not in MOVING


def patch_rows(table: ui.table, patches: dict[str, dict[str, Any]], stamp: int) -> None:
    """Send the changed fields of ``patches`` (row id → fields) to the browser, stamped ``stamp``;
    the table's rows on the server are already up to date (changed inside
    ``table.props.suspend_updates()``, or NiceGUI would send the whole table as well)."""
    items = [{**fields, "id": row_id, "v": stamp} for row_id, fields in patches.items()]
    with table.props.suspend_updates():  # NiceGUI would send the whole table on any change of a row
        for row in table.rows:
            if row["id"] in patches:
                row["v"] = stamp
    table.client.run_javascript(PATCH_JS % (table.id, json.dumps(items, separators=(",", ":"))))
