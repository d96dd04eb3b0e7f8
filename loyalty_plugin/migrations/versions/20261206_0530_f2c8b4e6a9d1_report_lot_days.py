"""reports: points left per earning and expiry day, for the aging report's totals

Kept by the ``roll-up-reports`` job with the daily totals (same watermark), from the lots
created and the allocations written up to it, by the lots' own days. The aging report adds
up its totals from it (plus the live tail, less the lots past their expiry) instead of
reading every open lot. Existing merchants' watermarks are reset so that the next run
fills the new table from the first entry.

Revision ID: f2c8b4e6a9d1
Revises: a7e3c5d9b1f2
Create Date: 2026-12-06 05:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "f2c8b4e6a9d1"
down_revision = "a7e3c5d9b1f2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_lot_days",
        sa.Column("merchant_id", sa.String(64), sa.ForeignKey("merchants.id"), nullable=False),
        sa.Column("earned_on", sa.Date(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "merchant_id", "earned_on", "expires_on", name="pk_report_lot_days"
        ),
    )
    # Rolled up before this table existed: start again from the first entry.
    for table in ("report_account_points", "report_account_months", "report_days"):
        op.execute(f"DELETE FROM {table}")  # noqa: S608 (the names above, no input)
    op.execute("DELETE FROM report_rollups")


def downgrade() -> None:
    op.drop_table("report_lot_days")
