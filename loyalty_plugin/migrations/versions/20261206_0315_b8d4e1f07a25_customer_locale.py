"""customers: the locale the host sent (the portal's and e-mails' language)

Revision ID: b8d4e1f07a25
Revises: 4c8d2e6a1f3b
Create Date: 2026-12-06 03:15:00
"""

from alembic import op
import sqlalchemy as sa


revision = "b8d4e1f07a25"
down_revision = "4c8d2e6a1f3b"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locale", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("locale")
