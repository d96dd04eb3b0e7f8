"""merchant_settings.credit_coupons: customers may buy coupons with store credit (#19)

Revision ID: a4c8e2f6b9d1
Revises: f2a6c4e8b1d3
Create Date: 2026-12-07 04:20:00
"""

from alembic import op
import sqlalchemy as sa


revision = "a4c8e2f6b9d1"
down_revision = "f2a6c4e8b1d3"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("merchant_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("credit_coupons", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("merchant_settings", schema=None) as batch_op:
        batch_op.drop_column("credit_coupons")
