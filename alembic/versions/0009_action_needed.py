"""hand-off: the task state ``action_needed``

A bot that asks for a person (``ctx.needs_attention``) waits in ``action_needed``; its run keeps
the lease and the heartbeat. Its reason is the task's ``error`` while it waits (as for
``unknown``); no new column is needed.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
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
    "unknown",
)
AFTER = (*BEFORE, "action_needed")


def _statuses(states: Sequence[str]) -> str:
    return "status IN ({})".format(", ".join(f"'{s}'" for s in states))


CHILDREN = ("task_event", "task_attempt", "purchase")  # rows that point at a task


def _replace_check(states: Sequence[str]) -> None:
    # SQLite rebuilds the table (render_as_batch); dropping the old one runs the ON DELETE actions
    # of the rows pointing at it (foreign keys are on, and cannot be switched off in a
    # transaction), so those rows are kept aside and put back
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        for table in CHILDREN:
            op.execute(f"CREATE TEMP TABLE _keep_{table} AS SELECT * FROM {table}")
    with op.batch_alter_table("task") as batch:
        batch.drop_constraint("task_status_valid", type_="check")
        batch.create_check_constraint("task_status_valid", _statuses(states))
    if sqlite:
        for table in CHILDREN:
            op.execute(f"DELETE FROM {table}")
            op.execute(f"INSERT INTO {table} SELECT * FROM _keep_{table}")
            op.execute(f"DROP TABLE _keep_{table}")


compat = sa.table("schema_compat", sa.column("revision", sa.String), sa.column("oldest_code", sa.String))


def upgrade() -> None:
    _replace_check(AFTER)
    op.bulk_insert(compat, [{"revision": revision, "oldest_code": down_revision}])  # expand


def downgrade() -> None:
    op.execute(compat.delete().where(compat.c.revision == revision))
    op.execute("UPDATE task SET status = 'running' WHERE status = 'action_needed'")
    _replace_check(BEFORE)
