"""redemptions: the points the last cancellation returned, for its reinstatement

Revision ID: c4a1d7e9b3f5
Revises: e7a2c9d4f1b6
Create Date: 2026-12-06 22:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = "c4a1d7e9b3f5"
down_revision = "e7a2c9d4f1b6"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("redemptions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("cancel_returned", sa.BigInteger(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("redemptions", schema=None) as batch_op:
        batch_op.drop_column("cancel_returned")
