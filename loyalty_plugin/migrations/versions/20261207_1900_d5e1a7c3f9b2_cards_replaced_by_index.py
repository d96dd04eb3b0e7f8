"""cards.replaced_by_id indexed: a card's page finds the card it replaced without reading
every card of the merchant (#20)

Revision ID: d5e1a7c3f9b2
Revises: b7d3f1a9c5e2
Create Date: 2026-12-07 19:00:00
"""

from alembic import op


revision = "d5e1a7c3f9b2"
down_revision = "b7d3f1a9c5e2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cards", schema=None) as batch_op:
        batch_op.create_index("ix_cards_replaced_by", ["replaced_by_id"], unique=False)


FOREIGN_KEY = "fk_cards_replaced_by_id_cards"


def downgrade() -> None:
    if op.get_bind().dialect.name == "mysql":
        # MariaDB dropped the foreign key's own index for this one, and will not drop this
        # one under the key: the key is made again, with an index of its own.
        op.drop_constraint(FOREIGN_KEY, "cards", type_="foreignkey")
        op.drop_index("ix_cards_replaced_by", table_name="cards")
        op.create_foreign_key(FOREIGN_KEY, "cards", "cards", ["replaced_by_id"], ["id"])
        return
    with op.batch_alter_table("cards", schema=None) as batch_op:
        batch_op.drop_index("ix_cards_replaced_by")
