"""watches: one product watched at several stores, bought once

``watch``, ``watch_listing`` (one monitor task per store and product) and ``watch_observation``
(a listing's price and stock whenever either changed); ``purchase.watch_id`` with a partial unique
index, so a watch never has two purchases whatever the code does.

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from models.types import UTCDateTime

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = ("watching", "buying", "bought", "unknown", "expired", "cancelled")

compat = sa.table("schema_compat", sa.column("revision", sa.String), sa.column("oldest_code", sa.String))


def upgrade() -> None:
    op.create_table(
        "watch",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("name", sqlmodel.AutoString(length=200), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("profile_id", sa.Uuid(), nullable=True),
        sa.Column("check_every", sa.Float(), nullable=False),
        sa.Column("until", UTCDateTime(), nullable=True),
        sa.Column("status", sqlmodel.AutoString(length=16), nullable=False),
        sa.Column("claimed_by", sa.Uuid(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "status IN ({})".format(", ".join(f"'{s}'" for s in STATUSES)), name="watch_status_valid"
        ),
        sa.CheckConstraint("quantity >= 1", name="watch_quantity_positive"),
        sa.CheckConstraint("check_every > 0", name="watch_check_every_positive"),
        sa.CheckConstraint("status <> 'buying' OR claimed_by IS NOT NULL", name="watch_buying_claimed"),
        sa.ForeignKeyConstraint(["owner_id"], ["user.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["profile_id"], ["profile.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_watch_owner_id", "watch", ["owner_id"])
    op.create_table(
        "watch_listing",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("watch_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("store", sqlmodel.AutoString(length=64), nullable=False),
        sa.Column("product", sqlmodel.AutoString(length=500), nullable=False),
        sa.Column("max_price", sa.Numeric(12, 2), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=True),
        sa.Column("last_price", sa.Numeric(12, 2), nullable=True),
        sa.Column("in_stock", sa.Boolean(), nullable=True),
        sa.Column("changed_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint("max_price >= 0", name="watch_listing_max_price_nonneg"),
        sa.ForeignKeyConstraint(["watch_id"], ["watch.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["task_id"], ["task.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("task_id"),
        sa.UniqueConstraint("watch_id", "store", "product", name="watch_listing_once"),
    )
    op.create_index("ix_watch_listing_watch_id", "watch_listing", ["watch_id"])
    op.create_table(
        "watch_observation",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("listing_id", sa.Uuid(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("price", sa.Numeric(12, 2), nullable=True),
        sa.Column("in_stock", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["listing_id"], ["watch_listing.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_watch_observation_listing", "watch_observation", ["listing_id", "id"])
    with op.batch_alter_table("purchase") as batch:
        batch.add_column(sa.Column("watch_id", sa.Uuid(), nullable=True))
        batch.create_foreign_key("purchase_watch_id_fkey", "watch", ["watch_id"], ["id"], ondelete="SET NULL")
    op.create_index(
        "uq_purchase_watch",
        "purchase",
        ["watch_id"],
        unique=True,
        postgresql_where=sa.text("watch_id IS NOT NULL"),
        sqlite_where=sa.text("watch_id IS NOT NULL"),
    )
    op.bulk_insert(compat, [{"revision": revision, "oldest_code": down_revision}])  # expand


def downgrade() -> None:
    op.execute(compat.delete().where(compat.c.revision == revision))
    op.drop_index("uq_purchase_watch", table_name="purchase")
    with op.batch_alter_table("purchase") as batch:
        batch.drop_constraint("purchase_watch_id_fkey", type_="foreignkey")
        batch.drop_column("watch_id")
    op.drop_index("ix_watch_observation_listing", table_name="watch_observation")
    op.drop_table("watch_observation")
    op.drop_index("ix_watch_listing_watch_id", table_name="watch_listing")
    op.drop_table("watch_listing")
    op.drop_index("ix_watch_owner_id", table_name="watch")
    op.drop_table("watch")
