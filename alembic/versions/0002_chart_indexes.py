"""indexes for throughput charts: task_event by time, task by status and finish time

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Both tables are live while this runs (old processes keep serving): on Postgres the indexes
    # are built CONCURRENTLY, which cannot run inside a transaction, hence the autocommit block.
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_task_event_at", "task_event", ["at"], unique=False, postgresql_concurrently=True, if_not_exists=True
        )
        op.create_index(
            "ix_task_finished",
            "task",
            ["status", "finished_at"],
            unique=False,
            postgresql_concurrently=True,
            if_not_exists=True,
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index("ix_task_finished", table_name="task", postgresql_concurrently=True, if_exists=True)
        op.drop_index("ix_task_event_at", table_name="task_event", postgresql_concurrently=True, if_exists=True)
