"""reports: points left per account, for the aging report's ranking

Kept by the ``roll-up-reports`` job with the daily totals (same watermark), from the lots
created and the allocations written up to it. The aging report ranks accounts by it (plus
the live tail, less the lots past their expiry) instead of summing every open lot.
Existing merchants' watermarks are reset so that the next run fills the new table from
the first entry.

Revision ID: a7e3c5d9b1f2
Revises: e7a3c9b15d42
Create Date: 2026-12-06 05:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "a7e3c5d9b1f2"
down_revision = "e7a3c9b15d42"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_account_points",
        sa.Column("merchant_id", sa.String(64), sa.ForeignKey("merchants.id"), nullable=False),
        sa.Column(
            "account_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.ForeignKey("accounts.id"),
            nullable=False,
        ),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("merchant_id", "account_id", name="pk_report_account_points"),
    )
    op.create_index(
        "ix_report_account_points_rank",
        "report_account_points",
        ["merchant_id", sa.text("points DESC"), "account_id"],
    )
    # Rolled up before this table existed: start again from the first entry.
    op.execute("DELETE FROM report_account_months")
    op.execute("DELETE FROM report_days")
    op.execute("DELETE FROM report_rollups")


def downgrade() -> None:
    op.drop_index("ix_report_account_points_rank", table_name="report_account_points")
    op.drop_table("report_account_points")
