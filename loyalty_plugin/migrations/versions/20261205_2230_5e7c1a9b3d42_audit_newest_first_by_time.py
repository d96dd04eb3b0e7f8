"""audit trail: search indexes end in (occurred_at, id), the order the lists are read in

Lists were read by id, which the primary key also gives: PostgreSQL's generic plan for a
prepared search walked the primary key backwards through every newer row of every other
merchant. By (occurred_at, id), only the merchant's own indexes give the order, and a date
range is a range of the same index.

Revision ID: 5e7c1a9b3d42
Revises: e2a9c4b7d013
Create Date: 2026-12-05 22:30:00
"""

from alembic import op

revision = "5e7c1a9b3d42"
down_revision = "e2a9c4b7d013"
branch_labels = None
depends_on = None

NEW = {
    "ix_audit_entries_merchant": ["merchant_id", "occurred_at", "id"],
    "ix_audit_entries_actor": ["merchant_id", "actor_kind", "actor_id", "occurred_at", "id"],
    "ix_audit_entries_action": ["merchant_id", "action", "occurred_at", "id"],
    "ix_audit_entries_target": ["merchant_id", "target_type", "target_id", "occurred_at", "id"],
}
OLD = {
    "ix_audit_entries_merchant": ["merchant_id", "id"],
    "ix_audit_entries_occurred": ["merchant_id", "occurred_at"],
    "ix_audit_entries_actor": ["merchant_id", "actor_kind", "actor_id", "id"],
    "ix_audit_entries_action": ["merchant_id", "action", "id"],
    "ix_audit_entries_target": ["merchant_id", "target_type", "target_id", "id"],
}


def _replace(drop: dict[str, list[str]], create: dict[str, list[str]]) -> None:
    # One at a time: MariaDB refuses to drop the last index that starts with merchant_id
    # (its foreign key needs one), and at every step another one is there.
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        for name in drop:
            if name in create:
                batch_op.drop_index(name)
                batch_op.create_index(name, create[name], unique=False)
        for name in drop.keys() - create.keys():
            batch_op.drop_index(name)
        for name in create.keys() - drop.keys():
            batch_op.create_index(name, create[name], unique=False)


def upgrade() -> None:
    _replace(OLD, NEW)


def downgrade() -> None:
    _replace(NEW, OLD)
