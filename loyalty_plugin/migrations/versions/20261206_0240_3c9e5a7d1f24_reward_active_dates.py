"""rewards: optional active dates (on offer from, until)

A reward is offered, and can be bought, only between ``active_from`` (included) and
``active_until`` (excluded), where set; both empty is always, as before.

Revision ID: 3c9e5a7d1f24
Revises: c3f1a8d92b47
Create Date: 2026-12-06 02:40:00
"""

import sqlalchemy as sa
from alembic import op

import loyalty_plugin.models.base

revision = "3c9e5a7d1f24"
down_revision = "c3f1a8d92b47"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("rewards") as batch:
        batch.add_column(
            sa.Column("active_from", loyalty_plugin.models.base.UTCDateTime(), nullable=True)
        )
        batch.add_column(
            sa.Column("active_until", loyalty_plugin.models.base.UTCDateTime(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("rewards") as batch:
        batch.drop_column("active_until")
        batch.drop_column("active_from")
