"""webhook_endpoints: which event types the endpoint receives

``event_types`` is a JSON list of the outgoing types sent to the endpoint; ``NULL`` (every
endpoint before this) means all of them.

Revision ID: d4a6f1c8e2b9
Revises: b5d2e8f4a917
Create Date: 2026-12-06 03:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "d4a6f1c8e2b9"
down_revision = "b5d2e8f4a917"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.add_column(sa.Column("event_types", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.drop_column("event_types")
