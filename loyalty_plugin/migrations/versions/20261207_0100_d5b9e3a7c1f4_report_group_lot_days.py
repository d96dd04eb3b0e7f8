"""reports: points left per customer group, earning and expiry day, for aging by group

Kept by the ``roll-up-reports`` job with the other totals (same watermark). Each customer's
points count in the group the job filed them under (``customers.report_group``); the
customers whose group changed since are found through a partial index on PostgreSQL and
SQLite (MariaDB has no partial index: it reads the merchant's customers), and PostgreSQL
keeps statistics on that condition so that it plans for the few it finds. Existing
merchants' watermarks are reset so that the next run fills the new table from the first
entry.

Revision ID: d5b9e3a7c1f4
Revises: b8d2f6a1c3e7
Create Date: 2026-12-07 01:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "d5b9e3a7c1f4"
down_revision = "b8d2f6a1c3e7"
branch_labels = None
depends_on = None

#: Not declared on the model (a partial index on two backends only): see env_filters.
INDEX = "ix_customers_report_group_moved"
STATISTICS = "st_customers_report_group_moved"


def upgrade() -> None:
    op.create_table(
        "report_group_lot_days",
        sa.Column("merchant_id", sa.String(64), sa.ForeignKey("merchants.id"), nullable=False),
        sa.Column("grouped", sa.Boolean(), nullable=False),
        sa.Column("customer_group", sa.String(64), nullable=False),
        sa.Column("earned_on", sa.Date(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "merchant_id",
            "grouped",
            "customer_group",
            "earned_on",
            "expires_on",
            name="pk_report_group_lot_days",
        ),
    )
    op.add_column("customers", sa.Column("report_group", sa.String(64), nullable=True))
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.create_index(
            INDEX,
            "customers",
            ["merchant_id"],
            postgresql_where=sa.text("(customer_group IS DISTINCT FROM report_group) IS TRUE"),
        )
        if bind.dialect.server_version_info >= (14,):
            # Statistics on the expression: the planner then knows how few customers match
            # (without them it guesses 99.5 % and joins every account and customer).
            op.execute(
                f"CREATE STATISTICS {STATISTICS} ON"
                " ((customer_group IS DISTINCT FROM report_group)) FROM customers"
            )
    elif bind.dialect.name == "sqlite":
        op.create_index(
            INDEX,
            "customers",
            ["merchant_id"],
            sqlite_where=sa.text("(customer_group IS NOT report_group) IS 1"),
        )
    # Rolled up before this table existed: start again from the first entry.
    for table in (
        "report_lot_days",
        "report_account_points",
        "report_account_months",
        "report_days",
    ):
        op.execute(f"DELETE FROM {table}")  # noqa: S608 (the names above, no input)
    op.execute("DELETE FROM report_rollups")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(f"DROP STATISTICS IF EXISTS {STATISTICS}")
    if dialect in ("postgresql", "sqlite"):
        op.drop_index(INDEX, table_name="customers")
    op.drop_column("customers", "report_group")
    op.drop_table("report_group_lot_days")
