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
    op.execute(BACKFILL_LEVELS)


#: Lots earned before this migration get the level their history says the customer held
#: just before (strictly: an earning that crossed a threshold was earned at the old
#: level), in the account's first program with levels. Lots earned before any history
#: row keep NULL, which counts as the lowest level.
BACKFILL_LEVELS = sa.text(
    """
    UPDATE lots SET level = (
        SELECT h.to_level FROM level_history h
        WHERE h.account_id = lots.account_id
          AND h.program_id = (
              SELECT MIN(first.program_id) FROM level_history first
              WHERE first.account_id = lots.account_id)
          AND h.at < lots.earned_at
        ORDER BY h.at DESC, h.id DESC
        LIMIT 1)
    WHERE lots.level IS NULL
      AND EXISTS (SELECT 1 FROM level_history any_h WHERE any_h.account_id = lots.account_id)
    """
)


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
