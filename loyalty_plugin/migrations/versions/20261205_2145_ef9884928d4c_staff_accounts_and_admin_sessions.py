"""staff accounts and admin sessions

Staff of the admin pages (issue #14): accounts, their role per merchant, stored sessions
(only a hash of each token), the nonces of admin links already opened, and sign-in attempts
for throttling.

Revision ID: ef9884928d4c
Revises: d71b3f9a5c28
Create Date: 2026-12-05 21:07:04
"""

from alembic import op
import sqlalchemy as sa
import loyalty_plugin.models.base


revision = 'ef9884928d4c'
down_revision = 'd71b3f9a5c28'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('admin_link_nonces',
    sa.Column('nonce', sa.String(length=64), nullable=False),
    sa.Column('used_at', loyalty_plugin.models.base.UTCDateTime(), nullable=False),
    sa.Column('expires_at', loyalty_plugin.models.base.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('nonce', name=op.f('pk_admin_link_nonces'))
    )
    with op.batch_alter_table('admin_link_nonces', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_admin_link_nonces_expires_at'), ['expires_at'], unique=False)

    op.create_table('admin_login_attempts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('at', loyalty_plugin.models.base.UTCDateTime(), nullable=False),
    sa.Column('succeeded', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_admin_login_attempts'))
    )
    with op.batch_alter_table('admin_login_attempts', schema=None) as batch_op:
        batch_op.create_index('ix_admin_login_attempts_address', ['address', 'at'], unique=False)
        batch_op.create_index('ix_admin_login_attempts_email', ['email', 'at'], unique=False)

    op.create_table('staff_members',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('created_at', loyalty_plugin.models.base.UTCDateTime(), nullable=False),
    sa.Column('last_sign_in_at', loyalty_plugin.models.base.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_members')),
    sa.UniqueConstraint('email', name=op.f('uq_staff_members_email'))
    )
    op.create_table('admin_sessions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('staff_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', loyalty_plugin.models.base.UTCDateTime(), nullable=False),
    sa.Column('last_seen_at', loyalty_plugin.models.base.UTCDateTime(), nullable=False),
    sa.Column('expires_at', loyalty_plugin.models.base.UTCDateTime(), nullable=False),
    sa.Column('revoked_at', loyalty_plugin.models.base.UTCDateTime(), nullable=True),
    sa.Column('csrf_secret', sa.String(length=64), nullable=False),
    sa.Column('flash', sa.String(length=500), nullable=True),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=True),
    sa.Column('user_agent', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_members.id'], name=op.f('fk_admin_sessions_staff_id_staff_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_admin_sessions')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_admin_sessions_token_hash'))
    )
    with op.batch_alter_table('admin_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_admin_sessions_staff', ['staff_id', 'revoked_at'], unique=False)

    op.create_table('staff_memberships',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('staff_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('merchant_id', sa.String(length=64), nullable=False),
    sa.Column('role', sa.Enum('staff', 'manager', 'owner', name='staffrole', native_enum=False, length=16), nullable=False),
    sa.Column('host_user_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', loyalty_plugin.models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_staff_memberships_merchant_id_merchants')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_members.id'], name=op.f('fk_staff_memberships_staff_id_staff_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_memberships')),
    sa.UniqueConstraint('merchant_id', 'host_user_id', name=op.f('uq_staff_memberships_merchant_id_host_user_id')),
    sa.UniqueConstraint('staff_id', 'merchant_id', name=op.f('uq_staff_memberships_staff_id_merchant_id'))
    )
    with op.batch_alter_table('staff_memberships', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_memberships_merchant_id'), ['merchant_id'], unique=False)



def downgrade() -> None:
    # Dropping a table drops its indexes (MariaDB refuses to drop one a foreign key uses).
    op.drop_table("staff_memberships")
    op.drop_table("admin_sessions")
    op.drop_table("staff_members")
    op.drop_table("admin_login_attempts")
    op.drop_table("admin_link_nonces")
