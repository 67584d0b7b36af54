"""unknown outcomes (money in doubt): the task state ``unknown``

A task past its place-order checkpoint whose store could not say whether the order exists waits
in ``unknown`` for a person. Its reason is the task's ``error``; no new column is needed.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = (
    "pending",
    "scheduled",
    "queued",
    "running",
    "retrying",
    "paused",
    "completed",
    "failed",
    "cancelled",
)
AFTER = (*BEFORE, "unknown")


def _statuses(states: Sequence[str]) -> str:
    return "status IN ({})".format(", ".join(f"'{s}'" for s in states))


def _replace_check(states: Sequence[str]) -> None:
    with op.batch_alter_table("task") as batch:  # SQLite: a table copy (render_as_batch)
        batch.drop_constraint("task_status_valid", type_="check")
        batch.create_check_constraint("task_status_valid", _statuses(states))


def upgrade() -> None:
    _replace_check(AFTER)


def downgrade() -> None:
    op.execute("UPDATE task SET status = 'failed' WHERE status = 'unknown'")
    _replace_check(BEFORE)
