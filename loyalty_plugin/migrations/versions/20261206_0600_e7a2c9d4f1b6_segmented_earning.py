"""segmented earning: customer tags, store groups, the moment an invoice was paid

Revision ID: e7a2c9d4f1b6
Revises: f2c8b4e6a9d1
Create Date: 2026-12-06 06:00:00
"""

from alembic import op
import sqlalchemy as sa

import loyalty_plugin.models.base


revision = "e7a2c9d4f1b6"
down_revision = "f2c8b4e6a9d1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tags", sa.JSON(), nullable=True))
    with op.batch_alter_table("merchant_settings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("store_groups", sa.JSON(), nullable=True))
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "paid_occurred_at", loyalty_plugin.models.base.UTCDateTime(), nullable=True
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_column("paid_occurred_at")
    with op.batch_alter_table("merchant_settings", schema=None) as batch_op:
        batch_op.drop_column("store_groups")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("tags")
