"""ledger entries indexed by account alone: the customer page's points log

An account's entries were indexed as (merchant_id, account_id, id), so a query naming
only the account (the desk's and the portal's points log: how many entries, and the
entry a page starts at) could not seek in it: on PostgreSQL it read the whole index, or
walked the primary key backwards, 0.1 to 0.7 s per customer page at 1,000,000 entries
(bench/admin.py). An account belongs to one merchant, so (account_id, id) serves the
queries that name the merchant too, and replaces the old index.

Revision ID: e2a9c4b7d013
Revises: ef9884928d4c
Create Date: 2026-12-05 21:50:00
"""

from alembic import op

revision = "e2a9c4b7d013"
down_revision = "ef9884928d4c"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Created before the old one goes: MariaDB needs an index on account_id for its
    # foreign key.
    op.create_index("ix_ledger_entries_account", "ledger_entries", ["account_id", "id"])
    op.drop_index("ix_ledger_entries_account_newest", table_name="ledger_entries")


def downgrade() -> None:
    if op.get_bind().dialect.name in ("mysql", "mariadb"):
        # MariaDB dropped the index it had made for the foreign key when the new one came,
        # and refuses to drop the new one without another on account_id.
        op.create_index("fk_ledger_entries_account_id_accounts", "ledger_entries", ["account_id"])
    op.create_index(
        "ix_ledger_entries_account_newest", "ledger_entries", ["merchant_id", "account_id", "id"]
    )
    op.drop_index("ix_ledger_entries_account", table_name="ledger_entries")
