"""customer search indexes, and the one-time key of a staff adjustment

The admin customer search matches names and e-mail addresses by prefix, whatever their
case, and customer numbers and phones exactly. Each backend needs its own index for that
(see ``services/customers/search.py``): PostgreSQL an index on ``lower(column)`` with
``varchar_pattern_ops`` (so ``lower(x) LIKE 'ab%'`` is a range scan under any collation),
MariaDB a plain index (its ``utf8mb4_unicode_ci`` collation already ignores case), SQLite
an index with ``COLLATE NOCASE`` (what its ``LIKE`` optimisation needs). They are named in
``migrations/env_filters.SEARCH_INDEXES`` and left out of the models' comparison, since
one SQLAlchemy ``Index`` cannot say three different things.

Adjustments get ``idempotency_key`` (unique per merchant): a staff form's one-time key,
so a double submit asks once.

Revision ID: c6e2d8a4f1b7
Revises: 00de88855af1
Create Date: 2026-12-05 21:25:00
"""

import sqlalchemy as sa
from alembic import op

revision = "c6e2d8a4f1b7"
down_revision = "00de88855af1"
branch_labels = None
depends_on = None

#: Index name -> (column, how it is matched: ``prefix``, ``folded`` or ``exact``).
INDEXES = {
    "ix_customers_search_newest": ("id", "exact"),
    "ix_customers_search_first_name": ("first_name", "prefix"),
    "ix_customers_search_last_name": ("last_name", "prefix"),
    "ix_customers_search_email": ("email", "prefix"),
    "ix_customers_search_number": ("customer_number", "folded"),
    "ix_customers_search_phone": ("phone", "exact"),
}


def _column_sql(dialect: str, column: str, match: str) -> str:
    if match == "exact" or dialect in ("mysql", "mariadb"):
        return column
    if dialect == "postgresql":
        ops = " varchar_pattern_ops" if match == "prefix" else ""
        return f"lower({column}){ops}"
    return f"{column} COLLATE NOCASE"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for name, (column, match) in INDEXES.items():
        op.execute(
            f"CREATE INDEX {name} ON customers (merchant_id, {_column_sql(dialect, column, match)})"
        )
    with op.batch_alter_table("adjustments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("idempotency_key", sa.String(length=255), nullable=True))
        batch_op.create_unique_constraint(
            "uq_adjustments_merchant_id_idempotency_key", ["merchant_id", "idempotency_key"]
        )


def downgrade() -> None:
    with op.batch_alter_table("adjustments", schema=None) as batch_op:
        batch_op.drop_constraint("uq_adjustments_merchant_id_idempotency_key", type_="unique")
        batch_op.drop_column("idempotency_key")
    for name in INDEXES:
        op.drop_index(name, table_name="customers")
