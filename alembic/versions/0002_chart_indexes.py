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
    op.create_index("ix_task_event_at", "task_event", ["at"], unique=False)
    op.create_index("ix_task_finished", "task", ["status", "finished_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_task_finished", table_name="task")
    op.drop_index("ix_task_event_at", table_name="task_event")
