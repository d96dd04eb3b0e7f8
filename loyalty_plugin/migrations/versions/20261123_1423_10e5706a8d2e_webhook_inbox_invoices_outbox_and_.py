"""webhook inbox, invoices, outbox and signing secrets

Revision ID: 10e5706a8d2e
Revises: 31bd1eddd9c0
Create Date: 2026-11-23 14:23:39.999217
"""

from alembic import op
import sqlalchemy as sa
import loyalty_plugin.models.base
from sqlalchemy.dialects import mysql

revision = '10e5706a8d2e'
down_revision = '31bd1eddd9c0'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('outbox_messages',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('merchant_id', sa.String(length=64), nullable=False),
    sa.Column('message_id', sa.String(length=64), nullable=False),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('status', sa.Enum('pending', 'delivered', 'dead', name='outboxstatus', native_enum=False, length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', loyalty_plugin.models.base.UTCDateTime(), nullable=True),
    sa.Column('created_at', loyalty_plugin.models.base.UTCDateTime(), nullable=False),
    sa.Column('delivered_at', loyalty_plugin.models.base.UTCDateTime(), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_outbox_messages_merchant_id_merchants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_messages')),
    sa.UniqueConstraint('message_id', name=op.f('uq_outbox_messages_message_id'))
    )
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_messages_due', ['status', 'next_attempt_at'], unique=False)

    op.create_table('webhook_endpoints',
    sa.Column('merchant_id', sa.String(length=64), nullable=False),
    sa.Column('url', sa.String(length=500), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', loyalty_plugin.models.base.UTCDateTime(), nullable=False),
    sa.Column('updated_at', loyalty_plugin.models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_webhook_endpoints_merchant_id_merchants')),
    sa.PrimaryKeyConstraint('merchant_id', name=op.f('pk_webhook_endpoints'))
    )
    op.create_table('webhook_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('merchant_id', sa.String(length=64), nullable=False),
    sa.Column('webhook_id', sa.String(length=255), nullable=False),
    sa.Column('event_type', sa.String(length=64), nullable=True),
    sa.Column('status', sa.Enum('processed', 'pending', 'waiting', 'rejected', 'dead', name='inboxstatus', native_enum=False, length=16), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('headers', sa.JSON(), nullable=False),
    sa.Column('body', sa.Text().with_variant(mysql.MEDIUMTEXT(), 'mariadb').with_variant(mysql.MEDIUMTEXT(), 'mysql'), nullable=False),
    sa.Column('body_sha256', sa.String(length=64), nullable=False),
    sa.Column('occurred_at', loyalty_plugin.models.base.UTCDateTime(), nullable=True),
    sa.Column('received_at', loyalty_plugin.models.base.UTCDateTime(), nullable=False),
    sa.Column('processed_at', loyalty_plugin.models.base.UTCDateTime(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', loyalty_plugin.models.base.UTCDateTime(), nullable=True),
    sa.Column('waiting_for', sa.String(length=160), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_webhook_events_merchant_id_merchants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_events')),
    sa.UniqueConstraint('merchant_id', 'webhook_id', name=op.f('uq_webhook_events_merchant_id_webhook_id'))
    )
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_events_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_webhook_events_received', ['received_at'], unique=False)
        batch_op.create_index('ix_webhook_events_waiting', ['merchant_id', 'waiting_for'], unique=False)

    op.create_table('webhook_secrets',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('merchant_id', sa.String(length=64), nullable=False),
    sa.Column('secret', sa.String(length=100), nullable=False),
    sa.Column('label', sa.String(length=100), nullable=True),
    sa.Column('created_at', loyalty_plugin.models.base.UTCDateTime(), nullable=False),
    sa.Column('revoked_at', loyalty_plugin.models.base.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_webhook_secrets_merchant_id_merchants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_secrets'))
    )
    with op.batch_alter_table('webhook_secrets', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_secrets_active', ['merchant_id', 'revoked_at'], unique=False)

    op.create_table('event_keys',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('merchant_id', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('event_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', loyalty_plugin.models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['webhook_events.id'], name=op.f('fk_event_keys_event_id_webhook_events')),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_event_keys_merchant_id_merchants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_keys')),
    sa.UniqueConstraint('merchant_id', 'key', name=op.f('uq_event_keys_merchant_id_key'))
    )
    op.create_table('outbox_attempts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('message_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('url', sa.String(length=500), nullable=False),
    sa.Column('attempted_at', loyalty_plugin.models.base.UTCDateTime(), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['outbox_messages.id'], name=op.f('fk_outbox_attempts_message_id_outbox_messages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_attempts'))
    )
    with op.batch_alter_table('outbox_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_attempts_message_id'), ['message_id'], unique=False)

    op.create_table('invoices',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('merchant_id', sa.String(length=64), nullable=False),
    sa.Column('host_invoice_id', sa.String(length=64), nullable=False),
    sa.Column('number', sa.String(length=64), nullable=True),
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('status', sa.Enum('open', 'paid', 'cancelled', name='invoicestatus', native_enum=False, length=16), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('total', loyalty_plugin.models.base.Money(precision=20, scale=4), nullable=False),
    sa.Column('merchant_total', loyalty_plugin.models.base.Money(precision=20, scale=4), nullable=False),
    sa.Column('paid_total', loyalty_plugin.models.base.Money(precision=20, scale=4), nullable=False),
    sa.Column('refunded_total', loyalty_plugin.models.base.Money(precision=20, scale=4), nullable=False),
    sa.Column('points_earned', sa.BigInteger(), nullable=False),
    sa.Column('earn_entry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('items', sa.JSON(), nullable=False),
    sa.Column('paid_at', loyalty_plugin.models.base.UTCDateTime(), nullable=True),
    sa.Column('cancelled_at', loyalty_plugin.models.base.UTCDateTime(), nullable=True),
    sa.Column('created_at', loyalty_plugin.models.base.UTCDateTime(), nullable=False),
    sa.Column('updated_at', loyalty_plugin.models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_invoices_customer_id_customers')),
    sa.ForeignKeyConstraint(['earn_entry_id'], ['ledger_entries.id'], name=op.f('fk_invoices_earn_entry_id_ledger_entries')),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_invoices_merchant_id_merchants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoices')),
    sa.UniqueConstraint('merchant_id', 'host_invoice_id', name=op.f('uq_invoices_merchant_id_host_invoice_id'))
    )


def downgrade() -> None:
    # Dropping a table drops its indexes; MariaDB refuses to drop an index a foreign key uses.
    for table in (
        "invoices",
        "outbox_attempts",
        "event_keys",
        "webhook_secrets",
        "webhook_events",
        "webhook_endpoints",
        "outbox_messages",
    ):
        op.drop_table(table)
