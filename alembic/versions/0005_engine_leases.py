"""engine: a lease id per claim, SQLite event ids never reused

``task.lease`` is the current run's own id, set fresh by every claim; every write a run makes is
guarded by it. On SQLite ``task_event`` is recreated with AUTOINCREMENT, so an id is never handed
out twice after the newest events are deleted (with their task); Postgres sequences never reuse
ids, so nothing changes there.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _recreate_events(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table(
        "task_event", recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
    ):
        pass


def upgrade() -> None:
    with op.batch_alter_table("task") as batch:
        batch.add_column(sa.Column("lease", sa.Uuid(), nullable=True))
    _recreate_events(True)


def downgrade() -> None:
    _recreate_events(False)
    with op.batch_alter_table("task") as batch:
        batch.drop_column("lease")
