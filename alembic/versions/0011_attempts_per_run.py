"""retry continues the attempt numbering: ``task.attempts_per_run``

A retry keeps ``attempt`` (the next attempt is #N+1) and raises ``max_attempts`` by the task's
attempts per run, remembered here (NULL: never retried, ``max_attempts`` is that number). A
nullable column added (no rewrite, no lock held for long); old code ignores it.

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

compat = sa.table("schema_compat", sa.column("revision", sa.String), sa.column("oldest_code", sa.String))


def upgrade() -> None:
    op.add_column("task", sa.Column("attempts_per_run", sa.Integer(), nullable=True))
    op.bulk_insert(compat, [{"revision": revision, "oldest_code": down_revision}])  # expand


def downgrade() -> None:
    op.execute(compat.delete().where(compat.c.revision == revision))
    # a plain DROP COLUMN on both (SQLite ≥ 3.35): no table rebuild, the task's children stay
    op.execute("ALTER TABLE task DROP COLUMN attempts_per_run")
