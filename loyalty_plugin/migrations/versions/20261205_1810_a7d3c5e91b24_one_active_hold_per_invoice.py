"""one active hold per invoice: redemptions.active_invoice_id, unique per merchant

Revision ID: a7d3c5e91b24
Revises: e5c1a9d07b3f
Create Date: 2026-12-05 18:10:00
"""

from alembic import op
import sqlalchemy as sa


revision = "a7d3c5e91b24"
down_revision = "e5c1a9d07b3f"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("redemptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("active_invoice_id", sa.String(length=128), nullable=True))
    # The oldest hold of each invoice stays the active one; any later duplicate (made by the
    # race this closes) keeps NULL and is released by the stale-holds job as before.
    redemptions = sa.table(
        "redemptions",
        sa.column("id", sa.BigInteger),
        sa.column("merchant_id", sa.String),
        sa.column("invoice_id", sa.String),
        sa.column("status", sa.String),
        sa.column("active_invoice_id", sa.String),
    )
    oldest = (
        sa.select(sa.func.min(redemptions.c.id))
        .where(redemptions.c.status == "held")
        .group_by(redemptions.c.merchant_id, redemptions.c.invoice_id)
    )
    ids = [row[0] for row in op.get_bind().execute(oldest)]
    for start in range(0, len(ids), 500):
        op.execute(
            redemptions.update()
            .where(redemptions.c.id.in_(ids[start : start + 500]))
            .values(active_invoice_id=redemptions.c.invoice_id)
        )
    with op.batch_alter_table("redemptions", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            "uq_redemptions_merchant_id_active_invoice_id", ["merchant_id", "active_invoice_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("redemptions", schema=None) as batch_op:
        batch_op.drop_constraint("uq_redemptions_merchant_id_active_invoice_id", type_="unique")
        batch_op.drop_column("active_invoice_id")
