"""queue pause: processing held for the whole queue or one store

A new table only (nothing live is locked). While a row stands the claim takes no queued task it
covers; running tasks finish. Old code ignores the table (it claims as before), so it still runs
on this schema.

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.types

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

compat = sa.table("schema_compat", sa.column("revision", sa.String), sa.column("oldest_code", sa.String))


def upgrade() -> None:
    op.create_table(
        "queue_pause",
        sa.Column("store", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("paused_by", sa.Uuid(), nullable=True),
        sa.Column("paused_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["paused_by"], ["user.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("store"),
    )
    op.bulk_insert(compat, [{"revision": revision, "oldest_code": down_revision}])  # expand


def downgrade() -> None:
    op.execute(compat.delete().where(compat.c.revision == revision))
    op.drop_table("queue_pause")
