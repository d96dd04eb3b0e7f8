"""covering indexes for the reports: entries by time with kind, points and account; open lots

At 1,000,000 entries the dashboard read every entry of its period from the table and every
lot of the merchant. With kind, points and account in the entries' time index, and the
open lots (remaining > 0; all lots on MariaDB, which has no partial index) indexed by
merchant with expiry, earning time, remaining and account, those sums read indexes alone.

Revision ID: 9b4e2d7f1c6a
Revises: 5e7c1a9b3d42
Create Date: 2026-12-05 22:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "9b4e2d7f1c6a"
down_revision = "5e7c1a9b3d42"
branch_labels = None
depends_on = None

OPEN = sa.text("remaining > 0")


def upgrade() -> None:
    op.drop_index("ix_ledger_entries_created", table_name="ledger_entries")
    op.create_index(
        "ix_ledger_entries_created",
        "ledger_entries",
        ["merchant_id", "created_at", "kind", "points", "account_id"],
    )
    op.create_index(
        "ix_lots_merchant_open",
        "lots",
        ["merchant_id", "expires_at", "earned_at", "remaining", "account_id"],
        postgresql_where=OPEN,
        sqlite_where=OPEN,
    )


def downgrade() -> None:
    op.drop_index("ix_lots_merchant_open", table_name="lots")
    op.drop_index("ix_ledger_entries_created", table_name="ledger_entries")
    op.create_index("ix_ledger_entries_created", "ledger_entries", ["merchant_id", "created_at"])
