"""reports' daily totals rolled up from a watermark; accounts in debt indexed

``report_days`` holds each merchant's points per day (in its time zone), kind and sign of
the ledger entries up to ``report_rollups.entry_id``; the dashboard adds the entries after
that watermark at each read. Only the ``roll-up-reports`` job writes them. The open points
are the sum of every entry plus the debts, less the lots past expiry not yet expired, so
the accounts owing points get a small index. The repeat orders read the paid invoices'
index alone (it now carries status and customer), and the non-members through a small
index of their own (members are the rest).

Revision ID: c3f8a1d6e2b7
Revises: a7f3c2e9b1d4
Create Date: 2026-12-06 01:40:00
"""

import sqlalchemy as sa
from alembic import op

import loyalty_plugin.models.base

revision = "c3f8a1d6e2b7"
down_revision = "a7f3c2e9b1d4"
branch_labels = None
depends_on = None

KINDS = (
    "earn",
    "redeem",
    "expire",
    "adjust",
    "reverse",
    "migration",
    "hold",
    "release",
    "transfer",
    "transfer_in",
    "merge_out",
    "merge_in",
)
IN_DEBT = sa.text("debt > 0")
NOT_ENROLLED = sa.text("NOT enrolled")


def upgrade() -> None:
    op.create_table(
        "report_rollups",
        sa.Column("merchant_id", sa.String(64), sa.ForeignKey("merchants.id"), nullable=False),
        sa.Column("zone", sa.String(64), nullable=False),
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", loyalty_plugin.models.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("merchant_id", name="pk_report_rollups"),
    )
    op.create_table(
        "report_days",
        sa.Column("merchant_id", sa.String(64), sa.ForeignKey("merchants.id"), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(*KINDS, name="entrykind", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("credit", sa.Boolean(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("entries", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("merchant_id", "day", "kind", "credit", name="pk_report_days"),
    )
    op.create_index(
        "ix_accounts_debt",
        "accounts",
        ["merchant_id", "debt"],
        postgresql_where=IN_DEBT,
        sqlite_where=IN_DEBT,
    )
    op.create_index(
        "ix_customers_not_enrolled",
        "customers",
        ["merchant_id", "enrolled"],
        postgresql_where=NOT_ENROLLED,
        sqlite_where=NOT_ENROLLED,
    )
    op.drop_index("ix_invoices_paid", table_name="invoices")
    op.create_index(
        "ix_invoices_paid", "invoices", ["merchant_id", "paid_at", "status", "customer_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_invoices_paid", table_name="invoices")
    op.create_index("ix_invoices_paid", "invoices", ["merchant_id", "paid_at"])
    op.drop_index("ix_customers_not_enrolled", table_name="customers")
    op.drop_index("ix_accounts_debt", table_name="accounts")
    op.drop_table("report_days")
    op.drop_table("report_rollups")
