"""users, API tokens, and an owner on tasks, purchases, profiles and accounts

Rows that exist before this revision have no owner: only admins see them.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.types

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OWNED = ("task", "purchase", "profile", "account")


def upgrade() -> None:
    op.create_table(
        "user",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("password_hash", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", models.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email"),
    )
    op.create_table(
        "api_token",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", models.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["owner_id"], ["user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_api_token_owner_id", "api_token", ["owner_id"], unique=False)
    for table in OWNED:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("owner_id", sa.Uuid(), nullable=True))
            batch.create_index(f"ix_{table}_owner_id", ["owner_id"], unique=False)
            batch.create_foreign_key(
                f"{table}_owner_id_fkey", "user", ["owner_id"], ["id"], ondelete="CASCADE"
            )
            if table == "account":
                batch.drop_constraint("account_store_login_key", type_="unique")
                batch.create_unique_constraint(
                    "account_owner_store_login_key", ["owner_id", "store", "login"]
                )


def downgrade() -> None:
    for table in reversed(OWNED):
        with op.batch_alter_table(table) as batch:
            if table == "account":
                batch.drop_constraint("account_owner_store_login_key", type_="unique")
                batch.create_unique_constraint("account_store_login_key", ["store", "login"])
            batch.drop_constraint(f"{table}_owner_id_fkey", type_="foreignkey")
            batch.drop_index(f"ix_{table}_owner_id")
            batch.drop_column("owner_id")
    op.drop_index("ix_api_token_owner_id", table_name="api_token")
    op.drop_table("api_token")
    op.drop_table("user")
