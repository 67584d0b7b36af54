"""schema_compat: each revision says which code still runs on it (rollbacks can start);
worker rows carry their browser's open contexts and memory (for /metrics)

Every revision from here on inserts its row: ``oldest_code`` is the oldest code revision that
runs on the schema it leaves. An *expand* revision (adds tables, nullable columns, indexes)
names its ``down_revision``: the code before it still runs, so a rollback starts. A *contract*
revision (drops or renames what old code reads) names itself. See docs/operations.md.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

compat = sa.table("schema_compat", sa.column("revision", sa.String), sa.column("oldest_code", sa.String))


def upgrade() -> None:
    op.create_table(
        "schema_compat",
        sa.Column("revision", sa.String(length=32), primary_key=True),
        sa.Column("oldest_code", sa.String(length=32), nullable=False),
    )
    with op.batch_alter_table("worker") as batch:  # for /metrics: the browser of each worker
        batch.add_column(sa.Column("browser_contexts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("browser_memory_mb", sa.Float(), nullable=True))
    op.bulk_insert(compat, [{"revision": revision, "oldest_code": "0005"}])  # expand: 0005's code runs


def downgrade() -> None:
    with op.batch_alter_table("worker") as batch:
        batch.drop_column("browser_memory_mb")
        batch.drop_column("browser_contexts")
    op.drop_table("schema_compat")
