"""merchant setting: the birthday-greetings job gives the birthday bonus

Revision ID: b3e81f6d2a47
Revises: 7c4d2e9a1b5f
Create Date: 2026-12-04 14:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = "b3e81f6d2a47"
down_revision = "7c4d2e9a1b5f"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("merchant_settings", schema=None) as batch_op:
        # On for existing merchants too: their customers get the bonus the e-mail promises.
        batch_op.add_column(
            sa.Column(
                "birthday_bonus_by_job", sa.Boolean(), nullable=False, server_default=sa.true()
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("merchant_settings", schema=None) as batch_op:
        batch_op.drop_column("birthday_bonus_by_job")
