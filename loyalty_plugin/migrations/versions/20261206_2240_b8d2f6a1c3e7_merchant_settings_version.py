"""merchants: settings_version and settings_token, the stamp of the settings cache

Revision ID: b8d2f6a1c3e7
Revises: b7c3e9a1d5f2
Create Date: 2026-12-06 22:40:00
"""

import secrets

from alembic import op
import sqlalchemy as sa


revision = "b8d2f6a1c3e7"
down_revision = "b7c3e9a1d5f2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("settings_version", sa.Integer(), nullable=False, server_default="0")
        )
        # Empty (never cached) until filled below: SQLite cannot drop a default or make a
        # column NOT NULL without copying the table, which the foreign keys refuse.
        batch_op.add_column(
            sa.Column("settings_token", sa.String(length=32), nullable=False, server_default="")
        )
    connection = op.get_bind()
    merchants = sa.table("merchants", sa.column("id"), sa.column("settings_token"))
    for (merchant_id,) in connection.execute(sa.select(merchants.c.id)).all():
        connection.execute(
            merchants.update()
            .where(merchants.c.id == merchant_id)
            .values(settings_token=secrets.token_hex(16))
        )


def downgrade() -> None:
    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.drop_column("settings_token")
        batch_op.drop_column("settings_version")
