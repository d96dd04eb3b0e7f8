"""merchant setting: customers may turn points into coupons

Revision ID: e5c1a9d07b3f
Revises: b3e81f6d2a47
Create Date: 2026-12-04 15:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = "e5c1a9d07b3f"
down_revision = "b3e81f6d2a47"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("merchant_settings", schema=None) as batch_op:
        # On for existing merchants too: converting was always allowed before this switch.
        batch_op.add_column(
            sa.Column("coupon_conversion", sa.Boolean(), nullable=False, server_default=sa.true())
        )


def downgrade() -> None:
    with op.batch_alter_table("merchant_settings", schema=None) as batch_op:
        batch_op.drop_column("coupon_conversion")
