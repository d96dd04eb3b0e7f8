"""bonus campaigns: time-boxed extra points with budgets, and what each gave (#18)

Revision ID: b7c3e9a1d5f2
Revises: c4a1d7e9b3f5
Create Date: 2026-12-06 22:30:00
"""

import sqlalchemy as sa
from alembic import op

from loyalty_plugin.models.base import Money, UTCDateTime

revision = "b7c3e9a1d5f2"
down_revision = "c4a1d7e9b3f5"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "bonus_campaigns",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("merchant_id", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("program_key", sa.String(length=64), nullable=True),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("ends_at", UTCDateTime(), nullable=False),
        sa.Column("multiplier", Money(), nullable=True),
        sa.Column("points", sa.Integer(), nullable=True),
        sa.Column("budget", sa.BigInteger(), nullable=True),
        sa.Column("budget_per_customer", sa.BigInteger(), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("given", sa.BigInteger(), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_bonus_campaigns_merchant_id_merchants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bonus_campaigns")),
        sa.UniqueConstraint("merchant_id", "key", name=op.f("uq_bonus_campaigns_merchant_id_key")),
    )
    op.create_index("ix_bonus_campaigns_window", "bonus_campaigns", ["merchant_id", "ends_at"])
    op.create_table(
        "bonus_campaign_grants",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("merchant_id", sa.String(length=64), nullable=False),
        sa.Column("campaign_id", BIG_ID, nullable=False),
        sa.Column("account_id", BIG_ID, nullable=False),
        sa.Column("invoice_id", sa.String(length=64), nullable=False),
        sa.Column("wanted", sa.BigInteger(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_bonus_campaign_grants_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["bonus_campaigns.id"],
            name=op.f("fk_bonus_campaign_grants_campaign_id_bonus_campaigns"),
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_bonus_campaign_grants_merchant_id_merchants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bonus_campaign_grants")),
        sa.UniqueConstraint(
            "campaign_id",
            "invoice_id",
            name=op.f("uq_bonus_campaign_grants_campaign_id_invoice_id"),
        ),
    )
    op.create_index(
        "ix_bonus_campaign_grants_account", "bonus_campaign_grants", ["campaign_id", "account_id"]
    )
    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("bonus_campaigns_until", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.drop_column("bonus_campaigns_until")
    op.drop_index("ix_bonus_campaign_grants_account", table_name="bonus_campaign_grants")
    op.drop_table("bonus_campaign_grants")
    op.drop_index("ix_bonus_campaigns_window", table_name="bonus_campaigns")
    op.drop_table("bonus_campaigns")
