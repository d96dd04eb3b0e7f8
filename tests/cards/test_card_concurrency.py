"""Generations racing on separate connections never give one number twice."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.cards import NumberScheme
from loyalty_plugin.models import Card, CardBatch
from loyalty_plugin.services.cards import batches
from tests.conftest import make_engine
from tests.services.test_concurrency import race


@pytest.fixture
def wide_engine(clean_engine: sa.Engine, database_url: str):
    engine = make_engine(database_url, pool_size=10)
    yield engine
    engine.dispose()


def test_four_generations_at_once_give_distinct_numbers(
    session, shop, actor, now, wide_engine
) -> None:
    """Four threads draw 2,000 numbers each from a scheme of 10,000: they collide for sure,
    the losers retry with fresh numbers, and every number ends up on one card."""
    small = NumberScheme(prefix="123", length=8, check_digit="luhn")

    calls = []

    def generate(s: Session) -> int:
        calls.append(1)
        batch = batches.generate_cards(
            s, merchant_id="shop", scheme=small, count=2_000, actor=actor, now=now
        )
        return batch.id

    outcomes = race(wide_engine, 4, generate)
    assert all(isinstance(o, int) for o in outcomes), outcomes
    assert session.scalar(select(func.count()).select_from(CardBatch)) == 4
    assert session.scalar(select(func.count()).select_from(Card)) == 8_000
    assert session.scalar(select(func.count(func.distinct(Card.number)))) == 8_000
    if session.bind.dialect.name != "sqlite":
        # The race happened: some generation lost on the unique key and ran again. (SQLite
        # has one writer at a time, so there the second one starts after the first.)
        assert len(calls) > 4
    per_batch = session.execute(select(Card.batch_id, func.count()).group_by(Card.batch_id))
    assert sorted(n for _, n in per_batch) == [2_000] * 4
