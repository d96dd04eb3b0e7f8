"""invoice_earnings: the store credit a program gave on an invoice (#19)

Revision ID: e1f5a3c8b6d2
Revises: d4b8e1c6a2f9
Create Date: 2026-12-07 01:10:00
"""

from alembic import op
import sqlalchemy as sa


revision = "e1f5a3c8b6d2"
down_revision = "d4b8e1c6a2f9"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("invoice_earnings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("credit_unit", sa.String(length=8), nullable=True))
        batch_op.add_column(
            sa.Column("credit_earned", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("credit_reversed", sa.BigInteger(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("invoice_earnings", schema=None) as batch_op:
        batch_op.drop_column("credit_reversed")
        batch_op.drop_column("credit_earned")
        batch_op.drop_column("credit_unit")
