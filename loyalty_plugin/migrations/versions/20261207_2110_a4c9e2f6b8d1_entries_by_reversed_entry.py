"""ledger_entries.reverses_entry_id indexed: a refund or reversal finds what already undid
an entry without reading the whole ledger

Revision ID: a4c9e2f6b8d1
Revises: d5e1a7c3f9b2
Create Date: 2026-12-07 21:10:00
"""

import sqlalchemy as sa
from alembic import op


revision = "a4c9e2f6b8d1"
down_revision = "d5e1a7c3f9b2"
branch_labels = None
depends_on = None

INDEX = "ix_ledger_entries_reverses"
FOREIGN_KEY = "fk_ledger_entries_reverses_entry_id_ledger_entries"
ONLY_REVERSALS = sa.text("reverses_entry_id IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        INDEX,
        "ledger_entries",
        ["reverses_entry_id"],
        postgresql_where=ONLY_REVERSALS,
        sqlite_where=ONLY_REVERSALS,
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "mysql":
        # MariaDB dropped the foreign key's own index for this one, and will not drop this
        # one under the key: the key is made again, with an index of its own.
        op.drop_constraint(FOREIGN_KEY, "ledger_entries", type_="foreignkey")
        op.drop_index(INDEX, table_name="ledger_entries")
        op.create_foreign_key(
            FOREIGN_KEY, "ledger_entries", "ledger_entries", ["reverses_entry_id"], ["id"]
        )
        return
    op.drop_index(INDEX, table_name="ledger_entries")
