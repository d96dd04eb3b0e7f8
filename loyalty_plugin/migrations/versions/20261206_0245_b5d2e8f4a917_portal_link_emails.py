"""portal link by e-mail: the merchant's switch and the expired-link page's requests

Revision ID: b5d2e8f4a917
Revises: 3c9e5a7d1f24
Create Date: 2026-12-06 02:45:00
"""

import sqlalchemy as sa
from alembic import op

import loyalty_plugin.models.base

revision = "b5d2e8f4a917"
down_revision = "3c9e5a7d1f24"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notification_settings", schema=None) as batch_op:
        # On for existing merchants too, like every other message.
        batch_op.add_column(
            sa.Column("portal_link", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    op.create_table(
        "portal_link_requests",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("merchant_id", sa.String(length=64), nullable=False),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("address_hash", sa.String(length=64), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("at", loyalty_plugin.models.base.UTCDateTime(), nullable=False),
        sa.Column("sent", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_portal_link_requests_merchant_id_merchants"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_portal_link_requests_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_link_requests")),
    )
    op.create_index(
        "ix_portal_link_requests_customer", "portal_link_requests", ["customer_id", "at"]
    )
    op.create_index(
        "ix_portal_link_requests_address", "portal_link_requests", ["address_hash", "at"]
    )
    op.create_index("ix_portal_link_requests_client", "portal_link_requests", ["client", "at"])


def downgrade() -> None:
    # Dropping the table drops its indexes (MariaDB refuses to drop the customer index
    # alone: the foreign key needs it).
    op.drop_table("portal_link_requests")
    with op.batch_alter_table("notification_settings", schema=None) as batch_op:
        batch_op.drop_column("portal_link")
