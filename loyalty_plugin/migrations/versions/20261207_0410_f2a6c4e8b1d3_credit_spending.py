"""Spending store credit (#19, phase 2): the credit cap setting and a redemption per unit

``merchant_settings.credit_max_invoice_share``: the share of an invoice payable with store
credit. ``redemptions.unit``: ``points`` or the currency of the credit a row holds (in
minor units); ``redemptions.lead_id``: the redemption a credit row is part of (the one the
host names), ``NULL`` for that one.

Revision ID: f2a6c4e8b1d3
Revises: f3a7c1e9d5b2
Create Date: 2026-12-07 04:10:00
"""

from alembic import op
import sqlalchemy as sa

import loyalty_plugin.models.base


revision = "f2a6c4e8b1d3"
down_revision = "f3a7c1e9d5b2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("merchant_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "credit_max_invoice_share",
                loyalty_plugin.models.base.Money(precision=20, scale=4),
                nullable=False,
                server_default="100",
            )
        )
    with op.batch_alter_table("redemptions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("unit", sa.String(length=8), nullable=False, server_default="points")
        )
        batch_op.add_column(
            sa.Column(
                "lead_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
            )
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_redemptions_lead_id_redemptions"), "redemptions", ["lead_id"], ["id"]
        )
        batch_op.create_index(batch_op.f("ix_redemptions_lead_id"), ["lead_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("redemptions", schema=None) as batch_op:
        # MariaDB keeps the index while the foreign key needs it: the key goes first.
        batch_op.drop_constraint(
            batch_op.f("fk_redemptions_lead_id_redemptions"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_redemptions_lead_id"))
        batch_op.drop_column("lead_id")
        batch_op.drop_column("unit")
    with op.batch_alter_table("merchant_settings", schema=None) as batch_op:
        batch_op.drop_column("credit_max_invoice_share")
