"""job runs scoped to one merchant: the merchant and who asked for the run

A merchant's owner may run a job now for their shop alone (the admin's Jobs screen,
``loyalty jobs run NAME --merchant M``); the run records the merchant and the person.

Revision ID: 4c8d2e6a1f3b
Revises: d4a6f1c8e2b9
Create Date: 2026-12-06 03:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "4c8d2e6a1f3b"
down_revision = "d4a6f1c8e2b9"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("job_runs") as batch:
        batch.add_column(sa.Column("merchant_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("started_by", sa.String(length=200), nullable=True))
    op.create_index("ix_job_runs_merchant", "job_runs", ["merchant_id", "job"])


def downgrade() -> None:
    op.drop_index("ix_job_runs_merchant", table_name="job_runs")
    with op.batch_alter_table("job_runs") as batch:
        batch.drop_column("started_by")
        batch.drop_column("merchant_id")
