"""merchant_settings.points_to_credit_*: customers may turn points into store credit (#19)

Revision ID: b7d3f1a9c5e2
Revises: f2a6c8e4b1d7
Create Date: 2026-12-07 04:40:00
"""

from alembic import op
import sqlalchemy as sa

import loyalty_plugin.models.base


revision = "b7d3f1a9c5e2"
down_revision = "f2a6c8e4b1d7"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("merchant_settings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("points_to_credit_points", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "points_to_credit_amount",
                loyalty_plugin.models.base.Money(precision=20, scale=4),
                nullable=False,
                server_default="1.00",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("merchant_settings", schema=None) as batch_op:
        batch_op.drop_column("points_to_credit_amount")
        batch_op.drop_column("points_to_credit_points")
