"""programs versions rates claims invoice earnings and account debt

Revision ID: f6e9a0016f6b
Revises: 615cfe57f7a8
Create Date: 2026-11-23 14:32:20.612787
"""

from alembic import op
import sqlalchemy as sa
import loyalty_plugin.models.base
import loyalty_plugin.models.program


revision = 'f6e9a0016f6b'
down_revision = '615cfe57f7a8'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('exchange_rates',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('merchant_id', sa.String(length=64), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('rate', loyalty_plugin.models.program.Rate(precision=24, scale=12), nullable=False),
    sa.Column('valid_from', loyalty_plugin.models.base.UTCDateTime(), nullable=False),
    sa.Column('created_at', loyalty_plugin.models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_exchange_rates_merchant_id_merchants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exchange_rates')),
    sa.UniqueConstraint('merchant_id', 'currency', 'valid_from', name=op.f('uq_exchange_rates_merchant_id_currency_valid_from'))
    )
    op.create_table('programs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('merchant_id', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('status', sa.Enum('draft', 'active', 'archived', name='programstatus', native_enum=False, length=16), nullable=False),
    sa.Column('created_at', loyalty_plugin.models.base.UTCDateTime(), nullable=False),
    sa.Column('updated_at', loyalty_plugin.models.base.UTCDateTime(), nullable=False),
    sa.Column('activated_at', loyalty_plugin.models.base.UTCDateTime(), nullable=True),
    sa.Column('archived_at', loyalty_plugin.models.base.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_programs_merchant_id_merchants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_programs')),
    sa.UniqueConstraint('merchant_id', 'key', name=op.f('uq_programs_merchant_id_key'))
    )
    op.create_table('program_versions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('merchant_id', sa.String(length=64), nullable=False),
    sa.Column('program_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('effective_from', loyalty_plugin.models.base.UTCDateTime(), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('settings_hash', sa.String(length=64), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('created_at', loyalty_plugin.models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_program_versions_merchant_id_merchants')),
    sa.ForeignKeyConstraint(['program_id'], ['programs.id'], name=op.f('fk_program_versions_program_id_programs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_program_versions')),
    sa.UniqueConstraint('merchant_id', 'program_id', 'number', name=op.f('uq_program_versions_merchant_id_program_id_number'))
    )
    with op.batch_alter_table('program_versions', schema=None) as batch_op:
        batch_op.create_index('ix_program_versions_in_force', ['program_id', 'effective_from'], unique=False)

    op.create_table('invoice_earnings',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('merchant_id', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('invoice_id', sa.String(length=64), nullable=False),
    sa.Column('program_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('program_version_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('total', loyalty_plugin.models.base.Money(precision=20, scale=4), nullable=False),
    sa.Column('paid', loyalty_plugin.models.base.Money(precision=20, scale=4), nullable=False),
    sa.Column('refunded', loyalty_plugin.models.base.Money(precision=20, scale=4), nullable=False),
    sa.Column('refunded_unassigned', loyalty_plugin.models.base.Money(precision=20, scale=4), nullable=False),
    sa.Column('refunded_lines', sa.JSON(), nullable=False),
    sa.Column('counted', sa.JSON(), nullable=False),
    sa.Column('evaluation', sa.JSON(), nullable=False),
    sa.Column('earned', sa.BigInteger(), nullable=False),
    sa.Column('reversed', sa.BigInteger(), nullable=False),
    sa.Column('cancelled_at', loyalty_plugin.models.base.UTCDateTime(), nullable=True),
    sa.Column('created_at', loyalty_plugin.models.base.UTCDateTime(), nullable=False),
    sa.Column('updated_at', loyalty_plugin.models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_invoice_earnings_account_id_accounts')),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_invoice_earnings_merchant_id_merchants')),
    sa.ForeignKeyConstraint(['program_id'], ['programs.id'], name=op.f('fk_invoice_earnings_program_id_programs')),
    sa.ForeignKeyConstraint(['program_version_id'], ['program_versions.id'], name=op.f('fk_invoice_earnings_program_version_id_program_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_earnings')),
    sa.UniqueConstraint('merchant_id', 'invoice_id', 'program_id', name=op.f('uq_invoice_earnings_merchant_id_invoice_id_program_id'))
    )
    with op.batch_alter_table('invoice_earnings', schema=None) as batch_op:
        batch_op.create_index('ix_invoice_earnings_account', ['merchant_id', 'account_id'], unique=False)

    op.create_table('rule_claims',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('merchant_id', sa.String(length=64), nullable=False),
    sa.Column('program_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('rule_id', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('period', sa.String(length=16), nullable=False),
    sa.Column('slot', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', loyalty_plugin.models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_rule_claims_customer_id_customers')),
    sa.ForeignKeyConstraint(['entry_id'], ['ledger_entries.id'], name=op.f('fk_rule_claims_entry_id_ledger_entries')),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_rule_claims_merchant_id_merchants')),
    sa.ForeignKeyConstraint(['program_id'], ['programs.id'], name=op.f('fk_rule_claims_program_id_programs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rule_claims')),
    sa.UniqueConstraint('merchant_id', 'program_id', 'rule_id', 'customer_id', 'period', 'slot', name='uq_rule_claims_slot')
    )
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('debt', sa.BigInteger(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_column('debt')
    op.drop_table('rule_claims')
    op.drop_table('invoice_earnings')
    op.drop_table('program_versions')
    op.drop_table('programs')
    op.drop_table('exchange_rates')
