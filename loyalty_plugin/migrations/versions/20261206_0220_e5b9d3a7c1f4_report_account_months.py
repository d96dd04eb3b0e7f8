"""reports: points issued per account and month, for the dashboard's top customers

Kept by the ``roll-up-reports`` job with the daily totals (same watermark). The top
customers read the first accounts of each month's ranking and sum them exactly, instead of
summing every account active in the period. Existing merchants' watermarks are reset so
that the next run fills the new table from the first entry.

Revision ID: e5b9d3a7c1f4
Revises: c3f8a1d6e2b7
Create Date: 2026-12-06 02:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "e5b9d3a7c1f4"
down_revision = "c3f8a1d6e2b7"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_account_months",
        sa.Column("merchant_id", sa.String(64), sa.ForeignKey("merchants.id"), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column(
            "account_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.ForeignKey("accounts.id"),
            nullable=False,
        ),
        sa.Column("issued", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "merchant_id", "month", "account_id", name="pk_report_account_months"
        ),
    )
    op.create_index(
        "ix_report_account_months_rank",
        "report_account_months",
        ["merchant_id", "month", "issued"],
    )
    # Rolled up before this table existed: start again from the first entry.
    op.execute("DELETE FROM report_days")
    op.execute("DELETE FROM report_rollups")


def downgrade() -> None:
    op.drop_index("ix_report_account_months_rank", table_name="report_account_months")
    op.drop_table("report_account_months")
