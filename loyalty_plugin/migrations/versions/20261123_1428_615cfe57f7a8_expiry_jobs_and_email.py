"""expiry, jobs and email: job runs, expiry and notification settings, reminders, e-mail

Revision ID: 615cfe57f7a8
Revises: 10e5706a8d2e
Create Date: 2026-11-23 14:28:09.590744
"""

from alembic import op
import sqlalchemy as sa
import loyalty_plugin.models.base
from sqlalchemy.dialects import mysql

revision = '615cfe57f7a8'
down_revision = '10e5706a8d2e'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('job_runs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('job', sa.String(length=64), nullable=False),
    sa.Column('scheduled_for', loyalty_plugin.models.base.UTCDateTime(), nullable=False),
    sa.Column('trigger', sa.String(length=16), nullable=False),
    sa.Column('status', sa.Enum('running', 'succeeded', 'failed', 'abandoned', name='runstatus', native_enum=False, length=16), nullable=False),
    sa.Column('owner', sa.String(length=200), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('started_at', loyalty_plugin.models.base.UTCDateTime(), nullable=False),
    sa.Column('lease_until', loyalty_plugin.models.base.UTCDateTime(), nullable=False),
    sa.Column('finished_at', loyalty_plugin.models.base.UTCDateTime(), nullable=True),
    sa.Column('rows', sa.BigInteger(), nullable=False),
    sa.Column('total', sa.BigInteger(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_runs')),
    sa.UniqueConstraint('job', 'scheduled_for', name=op.f('uq_job_runs_job_scheduled_for'))
    )
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.create_index('ix_job_runs_status_lease', ['status', 'lease_until'], unique=False)

    op.create_table('job_leases',
    sa.Column('job', sa.String(length=64), nullable=False),
    sa.Column('owner', sa.String(length=200), nullable=False),
    sa.Column('run_id', sa.BigInteger(), nullable=True),
    sa.Column('lease_until', loyalty_plugin.models.base.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('job', name=op.f('pk_job_leases'))
    )
    op.create_table('expiry_settings',
    sa.Column('merchant_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.Enum('never', 'days_after_earning', 'end_of_month', 'end_of_year', 'fixed_date', name='expirykind', native_enum=False, length=24), nullable=False),
    sa.Column('days', sa.Integer(), nullable=True),
    sa.Column('extra_months', sa.Integer(), nullable=False),
    sa.Column('fixed_date', sa.Date(), nullable=True),
    sa.Column('inactivity_months', sa.Integer(), nullable=True),
    sa.Column('reminder_days', sa.JSON(), nullable=False),
    sa.Column('updated_at', loyalty_plugin.models.base.UTCDateTime(), nullable=False),
    sa.Column('updated_by', sa.String(length=128), nullable=True),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_expiry_settings_merchant_id_merchants')),
    sa.PrimaryKeyConstraint('merchant_id', name=op.f('pk_expiry_settings'))
    )

    op.create_table('notification_settings',
    sa.Column('merchant_id', sa.String(length=64), nullable=False),
    sa.Column('points_earned', sa.Boolean(), nullable=False),
    sa.Column('points_expiring', sa.Boolean(), nullable=False),
    sa.Column('points_expired', sa.Boolean(), nullable=False),
    sa.Column('level_changed', sa.Boolean(), nullable=False),
    sa.Column('coupon_expiring', sa.Boolean(), nullable=False),
    sa.Column('birthday', sa.Boolean(), nullable=False),
    sa.Column('welcome', sa.Boolean(), nullable=False),
    sa.Column('service_needs_consent', sa.Boolean(), nullable=False),
    sa.Column('coupon_reminder_days', sa.Integer(), nullable=False),
    sa.Column('locale', sa.String(length=16), nullable=False),
    sa.Column('reply_to', sa.String(length=254), nullable=True),
    sa.Column('updated_at', loyalty_plugin.models.base.UTCDateTime(), nullable=False),
    sa.Column('updated_by', sa.String(length=128), nullable=True),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_notification_settings_merchant_id_merchants')),
    sa.PrimaryKeyConstraint('merchant_id', name=op.f('pk_notification_settings'))
    )

    op.create_table('email_templates',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('merchant_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('subject', sa.String(length=500), nullable=False),
    sa.Column('body_text', sa.Text().with_variant(mysql.MEDIUMTEXT(), 'mariadb').with_variant(mysql.MEDIUMTEXT(), 'mysql'), nullable=False),
    sa.Column('body_html', sa.Text().with_variant(mysql.MEDIUMTEXT(), 'mariadb').with_variant(mysql.MEDIUMTEXT(), 'mysql'), nullable=False),
    sa.Column('updated_at', loyalty_plugin.models.base.UTCDateTime(), nullable=False),
    sa.Column('updated_by', sa.String(length=128), nullable=True),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_email_templates_merchant_id_merchants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_email_templates')),
    sa.UniqueConstraint('merchant_id', 'name', name=op.f('uq_email_templates_merchant_id_name'))
    )

    op.create_table('email_messages',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('merchant_id', sa.String(length=64), nullable=False),
    sa.Column('template', sa.String(length=32), nullable=False),
    sa.Column('dedupe_key', sa.String(length=160), nullable=False),
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('to_address', sa.String(length=254), nullable=True),
    sa.Column('sms_to', sa.String(length=32), nullable=True),
    sa.Column('context', sa.JSON(), nullable=False),
    sa.Column('message_id', sa.String(length=200), nullable=True),
    sa.Column('status', sa.Enum('queued', 'sent', 'failed', name='emailstatus', native_enum=False, length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', loyalty_plugin.models.base.UTCDateTime(), nullable=False),
    sa.Column('claimed_until', loyalty_plugin.models.base.UTCDateTime(), nullable=True),
    sa.Column('subject', sa.String(length=500), nullable=True),
    sa.Column('body_text', sa.Text().with_variant(mysql.MEDIUMTEXT(), 'mariadb').with_variant(mysql.MEDIUMTEXT(), 'mysql'), nullable=True),
    sa.Column('body_html', sa.Text().with_variant(mysql.MEDIUMTEXT(), 'mariadb').with_variant(mysql.MEDIUMTEXT(), 'mysql'), nullable=True),
    sa.Column('sms_done', sa.Boolean(), nullable=False),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('created_at', loyalty_plugin.models.base.UTCDateTime(), nullable=False),
    sa.Column('sent_at', loyalty_plugin.models.base.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_email_messages_customer_id_customers')),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_email_messages_merchant_id_merchants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_email_messages')),
    sa.UniqueConstraint('merchant_id', 'dedupe_key', name=op.f('uq_email_messages_merchant_id_dedupe_key'))
    )
    with op.batch_alter_table('email_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_email_messages_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index('ix_email_messages_due', ['status', 'next_attempt_at'], unique=False)

    op.create_table('email_attempts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('merchant_id', sa.String(length=64), nullable=False),
    sa.Column('email_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('attempted_at', loyalty_plugin.models.base.UTCDateTime(), nullable=False),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('succeeded', sa.Boolean(), nullable=False),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['email_id'], ['email_messages.id'], name=op.f('fk_email_attempts_email_id_email_messages')),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_email_attempts_merchant_id_merchants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_email_attempts'))
    )
    with op.batch_alter_table('email_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_email_attempts_email_id'), ['email_id'], unique=False)

    op.create_table('expiry_reminders',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('merchant_id', sa.String(length=64), nullable=False),
    sa.Column('lot_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('offset_days', sa.Integer(), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('email_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('sent_at', loyalty_plugin.models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['email_id'], ['email_messages.id'], name=op.f('fk_expiry_reminders_email_id_email_messages')),
    sa.ForeignKeyConstraint(['lot_id'], ['lots.id'], name=op.f('fk_expiry_reminders_lot_id_lots')),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_expiry_reminders_merchant_id_merchants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_expiry_reminders')),
    sa.UniqueConstraint('merchant_id', 'lot_id', 'offset_days', name=op.f('uq_expiry_reminders_merchant_id_lot_id_offset_days'))
    )
    with op.batch_alter_table('expiry_reminders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_expiry_reminders_lot_id'), ['lot_id'], unique=False)


def downgrade() -> None:
    op.drop_table('expiry_reminders')
    op.drop_table('email_attempts')
    op.drop_table('email_messages')
    op.drop_table('email_templates')
    op.drop_table('notification_settings')
    op.drop_table('expiry_settings')
    op.drop_table('job_leases')
    op.drop_table('job_runs')
