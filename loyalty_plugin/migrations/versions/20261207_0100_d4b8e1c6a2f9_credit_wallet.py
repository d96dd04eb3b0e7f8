"""merchant_settings.credit_currencies: the store credit wallet (#19)

Revision ID: d4b8e1c6a2f9
Revises: c9e4a2f7d1b3
Create Date: 2026-12-07 01:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = "d4b8e1c6a2f9"
down_revision = "c9e4a2f7d1b3"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("merchant_settings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("credit_currencies", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("merchant_settings", schema=None) as batch_op:
        batch_op.drop_column("credit_currencies")
