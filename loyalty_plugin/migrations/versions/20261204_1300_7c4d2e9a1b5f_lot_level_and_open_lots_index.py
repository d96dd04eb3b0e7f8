"""lot level (fallback redemption) and an index of open lots only

Revision ID: 7c4d2e9a1b5f
Revises: 2d7e2a2387b3
Create Date: 2026-12-04 13:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = "7c4d2e9a1b5f"
down_revision = "2d7e2a2387b3"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("lots", schema=None) as batch_op:
        batch_op.add_column(sa.Column("level", sa.String(length=64), nullable=True))
        # Created before the old index goes: MariaDB keeps an index on account_id for its
        # foreign key.
        batch_op.create_index(
            "ix_lots_account_open",
            ["account_id", "remaining"],
            unique=False,
            postgresql_where=sa.text("remaining > 0"),
            sqlite_where=sa.text("remaining > 0"),
        )
        batch_op.drop_index("ix_lots_account_spending")


def downgrade() -> None:
    with op.batch_alter_table("lots", schema=None) as batch_op:
        batch_op.create_index(
            "ix_lots_account_spending", ["account_id", "expires_at", "earned_at"], unique=False
        )
        batch_op.drop_index(
            "ix_lots_account_open",
            postgresql_where=sa.text("remaining > 0"),
            sqlite_where=sa.text("remaining > 0"),
        )
        batch_op.drop_column("level")
