"""webhook_events: the high-load intake's queue (lane column, queue and lane indexes)

Revision ID: e7a3c9b15d42
Revises: b8d4e1f07a25
Create Date: 2026-12-06 05:10:00
"""

from alembic import op
import sqlalchemy as sa


revision = "e7a3c9b15d42"
down_revision = "b8d4e1f07a25"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lane", sa.String(length=160), nullable=True))
        batch_op.create_index("ix_webhook_events_queue", ["status", "id"], unique=False)
        batch_op.create_index("ix_webhook_events_lane", ["lane", "status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_events_lane")
        batch_op.drop_index("ix_webhook_events_queue")
        batch_op.drop_column("lane")
