"""Store credit expiry (#19): the merchant's credit_expiry_months and the switches of the
credit_expiring and credit_expired e-mails

Revision ID: f3a7c1e9d5b2
Revises: e1f5a3c8b6d2
Create Date: 2026-12-07 04:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = "f3a7c1e9d5b2"
down_revision = "e1f5a3c8b6d2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("merchant_settings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("credit_expiry_months", sa.Integer(), nullable=True))
    with op.batch_alter_table("notification_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("credit_expiring", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.add_column(
            sa.Column("credit_expired", sa.Boolean(), nullable=False, server_default=sa.true())
        )


def downgrade() -> None:
    with op.batch_alter_table("notification_settings", schema=None) as batch_op:
        batch_op.drop_column("credit_expired")
        batch_op.drop_column("credit_expiring")
    with op.batch_alter_table("merchant_settings", schema=None) as batch_op:
        batch_op.drop_column("credit_expiry_months")
