"""every customer group the host puts a customer in (customer.groups), beside the first

Revision ID: c3f1a8d92b47
Revises: e5b9d3a7c1f4
Create Date: 2026-12-06 02:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "c3f1a8d92b47"
down_revision = "e5b9d3a7c1f4"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("customers", sa.Column("customer_groups", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("customers", "customer_groups")
