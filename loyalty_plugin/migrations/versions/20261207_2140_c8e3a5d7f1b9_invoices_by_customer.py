"""invoices indexed by customer: an invoice event asks whether the customer paid one
before without reading every invoice of the merchant

Revision ID: c8e3a5d7f1b9
Revises: a4c9e2f6b8d1
Create Date: 2026-12-07 21:40:00
"""

from alembic import op


revision = "c8e3a5d7f1b9"
down_revision = "a4c9e2f6b8d1"
branch_labels = None
depends_on = None

INDEX = "ix_invoices_customer"
FOREIGN_KEY = "fk_invoices_customer_id_customers"


def upgrade() -> None:
    op.create_index(INDEX, "invoices", ["customer_id", "status"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "mysql":
        # MariaDB dropped the foreign key's own index for this one, and will not drop this
        # one under the key: the key is made again, with an index of its own.
        op.drop_constraint(FOREIGN_KEY, "invoices", type_="foreignkey")
        op.drop_index(INDEX, table_name="invoices")
        op.create_foreign_key(FOREIGN_KEY, "invoices", "customers", ["customer_id"], ["id"])
        return
    op.drop_index(INDEX, table_name="invoices")
