"""A card's page finds the card it replaced through an index, however many cards there are.

``card_story`` asks which card a card replaced (``replaced_by_id`` pointing at it). With no
index on that column, PostgreSQL read every card of the merchant for it (228 pages at
20,000 cards), on each card's page.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from loyalty_plugin.models import CardBatch
from loyalty_plugin.models.card import CardSource
from loyalty_plugin.services.cards.listing import card_story
from loyalty_plugin.services.merchants.registration import create_merchant
from tests.plans import heavy_statements, selects_of

pytestmark = pytest.mark.backends("postgresql")

CARDS = 20_000


@pytest.fixture(autouse=True)
def _truncated_afterwards(session: Session) -> Iterator[None]:
    """The cards emptied by ``TRUNCATE``, not deleted one by one."""
    yield
    session.rollback()
    session.execute(text("TRUNCATE cards, card_batches CASCADE"))
    session.commit()


def test_a_cards_page_reads_few_pages_among_many_cards(session: Session) -> None:
    """No statement of a card's story scans the merchant's cards."""
    create_merchant(session, merchant_id="shop", name="Shop", currency="EUR")
    batch = CardBatch(merchant_id="shop", source=CardSource.IMPORTED, check_digit="none",
                      count=CARDS, created_by="test")  # fmt: skip
    session.add(batch)
    session.flush()
    session.execute(
        text(
            "INSERT INTO cards (merchant_id, number, status, batch_id, created_at, updated_at) "
            "SELECT 'shop', 'N' || n, 'available', :batch, now(), now() "
            "FROM generate_series(1, :count) AS n"
        ),
        {"batch": batch.id, "count": CARDS},
    )
    session.execute(
        text(
            "UPDATE cards SET status = 'blocked', replaced_by_id = "
            "(SELECT id FROM cards WHERE number = 'N2') WHERE number = 'N1'"
        )
    )
    session.commit()
    session.execute(text("ANALYZE cards"))
    session.commit()
    with selects_of(session) as statements:
        story = card_story(session, "shop", "N2")
    assert story.replaces is not None and story.replaces.number == "N1"
    heavy = heavy_statements(session, statements)
    assert not heavy, "\n".join(heavy)
