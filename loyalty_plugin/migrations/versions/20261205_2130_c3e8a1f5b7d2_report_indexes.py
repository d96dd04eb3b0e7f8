"""indexes for the reports: ledger entries by time, invoices by payment time

The dashboard sums a period's entries week by week and counts the invoices paid in it;
the journal filters entries by day. Both read a merchant's rows in a time range.

Revision ID: c3e8a1f5b7d2
Revises: c6e2d8a4f1b7
Create Date: 2026-12-05 21:30:00
"""

from alembic import op

revision = "c3e8a1f5b7d2"
down_revision = "c6e2d8a4f1b7"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_ledger_entries_created", "ledger_entries", ["merchant_id", "created_at"])
    op.create_index("ix_invoices_paid", "invoices", ["merchant_id", "paid_at"])


def downgrade() -> None:
    op.drop_index("ix_invoices_paid", table_name="invoices")
    op.drop_index("ix_ledger_entries_created", table_name="ledger_entries")
