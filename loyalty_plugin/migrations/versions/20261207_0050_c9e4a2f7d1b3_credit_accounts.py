"""credit accounts: accounts, entries and lots carry a unit (points or a currency)

One account per (merchant, customer, unit). Existing rows are points (server default).
The reports' covering indexes gain the unit as their last column, so that a points-only
sum still reads the index alone.

Revision ID: c9e4a2f7d1b3
Revises: d5b9e3a7c1f4
Create Date: 2026-12-07 00:50:00
"""

from alembic import op
import sqlalchemy as sa


revision = "c9e4a2f7d1b3"
down_revision = "d5b9e3a7c1f4"
branch_labels = None
depends_on = None

ENTRIES_CREATED = ["merchant_id", "created_at", "kind", "points", "account_id"]
LOTS_OPEN = ["merchant_id", "expires_at", "earned_at", "remaining", "account_id"]
OPEN = dict(postgresql_where=sa.text("remaining > 0"), sqlite_where=sa.text("remaining > 0"))


def _unit() -> sa.Column:
    return sa.Column("unit", sa.String(length=8), nullable=False, server_default="points")


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(_unit())
        # The new key first: on MariaDB the old one backs the merchant's foreign key.
        batch_op.create_unique_constraint(
            "uq_accounts_merchant_id_customer_id_unit", ["merchant_id", "customer_id", "unit"]
        )
        batch_op.drop_constraint("uq_accounts_merchant_id_customer_id", type_="unique")
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.add_column(_unit())
    op.drop_index("ix_ledger_entries_created", table_name="ledger_entries")
    op.create_index("ix_ledger_entries_created", "ledger_entries", [*ENTRIES_CREATED, "unit"])
    with op.batch_alter_table("lots", schema=None) as batch_op:
        batch_op.add_column(_unit())
    op.drop_index("ix_lots_merchant_open", table_name="lots")
    op.create_index("ix_lots_merchant_open", "lots", [*LOTS_OPEN, "unit"], **OPEN)


def downgrade() -> None:
    credit = op.get_bind().execute(sa.text("SELECT COUNT(*) FROM accounts WHERE unit <> 'points'"))
    if credit.scalar():
        raise RuntimeError("store credit accounts exist: downgrading would lose their money")
    op.drop_index("ix_lots_merchant_open", table_name="lots")
    op.create_index("ix_lots_merchant_open", "lots", LOTS_OPEN, **OPEN)
    with op.batch_alter_table("lots", schema=None) as batch_op:
        batch_op.drop_column("unit")
    op.drop_index("ix_ledger_entries_created", table_name="ledger_entries")
    op.create_index("ix_ledger_entries_created", "ledger_entries", ENTRIES_CREATED)
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_column("unit")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            "uq_accounts_merchant_id_customer_id", ["merchant_id", "customer_id"]
        )
        batch_op.drop_constraint("uq_accounts_merchant_id_customer_id_unit", type_="unique")
        batch_op.drop_column("unit")
