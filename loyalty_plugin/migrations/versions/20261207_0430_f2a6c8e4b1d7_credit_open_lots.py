"""ix_lots_credit_open: the dashboard's outstanding store credit per currency (#19)

A partial index of the credit lots still holding credit (PostgreSQL and SQLite), so
the dashboard sums them without reading a points lot; MariaDB has no partial index and
indexes every lot.

Revision ID: f2a6c8e4b1d7
Revises: a4c8e2f6b9d1
Create Date: 2026-12-07 04:30:00
"""

from alembic import op
import sqlalchemy as sa


revision = "f2a6c8e4b1d7"
down_revision = "a4c8e2f6b9d1"
branch_labels = None
depends_on = None

CREDIT_OPEN = "remaining > 0 AND unit <> 'points'"


def upgrade() -> None:
    op.create_index(
        "ix_lots_credit_open",
        "lots",
        ["merchant_id", "unit", "expires_at", "remaining"],
        postgresql_where=sa.text(CREDIT_OPEN),
        sqlite_where=sa.text(CREDIT_OPEN),
    )


def downgrade() -> None:
    op.drop_index("ix_lots_credit_open", table_name="lots")
