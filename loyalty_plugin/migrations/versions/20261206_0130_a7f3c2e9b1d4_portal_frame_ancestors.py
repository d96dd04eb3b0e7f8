"""merchant setting: host origins allowed to frame the customer portal

Revision ID: a7f3c2e9b1d4
Revises: 9b4e2d7f1c6a
Create Date: 2026-12-06 01:30:00
"""

from alembic import op
import sqlalchemy as sa


revision = "a7f3c2e9b1d4"
down_revision = "9b4e2d7f1c6a"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL for existing merchants reads as "no origin": the portal keeps refusing frames.
    with op.batch_alter_table("merchant_settings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("portal_frame_ancestors", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("merchant_settings", schema=None) as batch_op:
        batch_op.drop_column("portal_frame_ancestors")
