"""customer merges: a merged customer and its account name their survivor

Revision ID: d71b3f9a5c28
Revises: c4a8d1e7f302
Create Date: 2026-12-05 21:40:00
"""

from alembic import op
import sqlalchemy as sa

from loyalty_plugin.models.base import UTCDateTime


revision = "d71b3f9a5c28"
down_revision = "c4a8d1e7f302"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("merged_into_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True))
        batch_op.add_column(sa.Column("merged_at", UTCDateTime(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_customers_merged_into_id_customers"), "customers", ["merged_into_id"], ["id"]
        )
        batch_op.create_index(batch_op.f("ix_customers_merged_into_id"), ["merged_into_id"])
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("merged_into_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_accounts_merged_into_id_accounts"), "accounts", ["merged_into_id"], ["id"]
        )
        batch_op.create_index(batch_op.f("ix_accounts_merged_into_id"), ["merged_into_id"])


def downgrade() -> None:
    # The foreign key first: MariaDB will not drop the index a foreign key uses.
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_accounts_merged_into_id_accounts"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_accounts_merged_into_id"))
        batch_op.drop_column("merged_into_id")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_customers_merged_into_id_customers"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_customers_merged_into_id"))
        batch_op.drop_column("merged_at")
        batch_op.drop_column("merged_into_id")
