"""cards and card batches: loyalty card numbers, generated or imported, given to customers

Revision ID: c4a8d1e7f302
Revises: c3e8a1f5b7d2
Create Date: 2026-12-05 21:35:00
"""

import sqlalchemy as sa
from alembic import op

from loyalty_plugin.models.base import UTCDateTime

revision = "c4a8d1e7f302"
down_revision = "c3e8a1f5b7d2"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _status(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=16)


def upgrade() -> None:
    op.create_table(
        "card_batches",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("merchant_id", sa.String(length=64), nullable=False),
        sa.Column("source", _status("cardsource", "generated", "imported"), nullable=False),
        sa.Column("prefix", sa.String(length=12), nullable=False),
        sa.Column("length", sa.Integer(), nullable=True),
        sa.Column("check_digit", sa.String(length=16), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("request_key", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_card_batches_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_batches")),
        sa.UniqueConstraint(
            "merchant_id", "request_key", name=op.f("uq_card_batches_merchant_id_request_key")
        ),
    )
    op.create_table(
        "cards",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("merchant_id", sa.String(length=64), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column(
            "status",
            _status("cardstatus", "available", "assigned", "blocked", "replaced"),
            nullable=False,
        ),
        sa.Column("batch_id", BIG_ID, nullable=False),
        sa.Column("customer_id", BIG_ID, nullable=True),
        sa.Column("replaced_by_id", BIG_ID, nullable=True),
        sa.Column("block_reason", sa.String(length=200), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("assigned_at", UTCDateTime(), nullable=True),
        sa.Column("blocked_at", UTCDateTime(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["card_batches.id"], name=op.f("fk_cards_batch_id_card_batches")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_cards_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_cards_merchant_id_merchants")
        ),
        sa.ForeignKeyConstraint(
            ["replaced_by_id"], ["cards.id"], name=op.f("fk_cards_replaced_by_id_cards")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cards")),
        sa.UniqueConstraint("merchant_id", "number", name=op.f("uq_cards_merchant_id_number")),
    )
    op.create_index("ix_cards_batch", "cards", ["merchant_id", "batch_id", "id"])
    op.create_index("ix_cards_status", "cards", ["merchant_id", "status", "id"])
    op.create_index("ix_cards_customer", "cards", ["merchant_id", "customer_id"])


def downgrade() -> None:
    op.drop_index("ix_cards_customer", table_name="cards")
    op.drop_index("ix_cards_status", table_name="cards")
    op.drop_index("ix_cards_batch", table_name="cards")
    op.drop_table("cards")
    op.drop_table("card_batches")
