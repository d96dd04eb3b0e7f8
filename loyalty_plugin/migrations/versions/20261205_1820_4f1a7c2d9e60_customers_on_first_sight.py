"""customers on first sight: merchant settings and the customer's pending profile

Revision ID: 4f1a7c2d9e60
Revises: a7d3c5e91b24
Create Date: 2026-12-05 18:20:00
"""

from alembic import op
import sqlalchemy as sa


revision = "4f1a7c2d9e60"
down_revision = "a7d3c5e91b24"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("merchant_settings", schema=None) as batch_op:
        # On for existing merchants too (issue 13): unknown customers stop waiting for ever.
        batch_op.add_column(
            sa.Column(
                "create_unknown_customers", sa.Boolean(), nullable=False, server_default=sa.true()
            )
        )
        batch_op.add_column(
            sa.Column("auto_enrol", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.add_column(
            sa.Column("waiting_report_hours", sa.Integer(), nullable=False, server_default="24")
        )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("profile_pending", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("profile_pending")
    with op.batch_alter_table("merchant_settings", schema=None) as batch_op:
        batch_op.drop_column("waiting_report_hours")
        batch_op.drop_column("auto_enrol")
        batch_op.drop_column("create_unknown_customers")
