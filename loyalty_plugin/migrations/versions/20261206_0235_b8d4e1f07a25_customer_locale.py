"""customers: the locale the host sent (the portal's and e-mails' language)

Revision ID: b8d4e1f07a25
Revises: c3f1a8d92b47
Create Date: 2026-12-06 02:35:00
"""

from alembic import op
import sqlalchemy as sa


revision = "b8d4e1f07a25"
down_revision = "c3f1a8d92b47"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locale", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("locale")
