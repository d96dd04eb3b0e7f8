"""audit trail: one row per change made by staff, an API key, the CLI or the host

Revision ID: 00de88855af1
Revises: a4d7c3e9f210
Create Date: 2026-12-05 21:20:00
"""

import sqlalchemy as sa
from alembic import op

from loyalty_plugin.models.base import UTCDateTime

revision = "00de88855af1"
down_revision = "a4d7c3e9f210"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_entries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("merchant_id", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.String(length=128), nullable=False),
        sa.Column("actor_name", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target_type", sa.String(length=64), nullable=False),
        sa.Column("target_id", sa.String(length=128), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("address", sa.String(length=45), nullable=True),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_audit_entries_merchant_id_merchants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entries")),
    )
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.create_index("ix_audit_entries_merchant", ["merchant_id", "id"], unique=False)
        batch_op.create_index(
            "ix_audit_entries_occurred", ["merchant_id", "occurred_at"], unique=False
        )
        batch_op.create_index(
            "ix_audit_entries_actor", ["merchant_id", "actor_kind", "actor_id", "id"], unique=False
        )
        batch_op.create_index(
            "ix_audit_entries_action", ["merchant_id", "action", "id"], unique=False
        )
        batch_op.create_index(
            "ix_audit_entries_target",
            ["merchant_id", "target_type", "target_id", "id"],
            unique=False,
        )


def downgrade() -> None:
    op.drop_table("audit_entries")
