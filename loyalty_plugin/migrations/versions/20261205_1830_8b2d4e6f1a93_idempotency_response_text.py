"""idempotency records keep the first answer's exact text

Revision ID: 8b2d4e6f1a93
Revises: 4f1a7c2d9e60
Create Date: 2026-12-05 18:00:00
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql


revision = "8b2d4e6f1a93"
down_revision = "4f1a7c2d9e60"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("idempotency_records", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "response_text",
                sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb"),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("idempotency_records", schema=None) as batch_op:
        batch_op.drop_column("response_text")
