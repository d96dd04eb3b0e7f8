"""Bonus campaigns filed by what they condition on: the same bonuses as testing them all."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest

from loyalty_plugin.domain.bonus_campaigns import (
    BonusCampaignDefinition,
    campaign_conditions,
    wanted_points,
)
from loyalty_plugin.domain.programs import evaluate_invoice
from loyalty_plugin.domain.rules import Conversion, CustomerView
from loyalty_plugin.domain.rules.conditions import ConditionContext
from loyalty_plugin.services.earning.bonus_campaigns import _wanted, filed
from tests.unit.domain.test_earning_golden import (
    AT,
    CATEGORIES,
    MERCHANT,
    PRODUCTS,
    _invoice,
    _program,
)


def _campaign(rng: random.Random, number: int) -> BonusCampaignDefinition:
    gates: list[dict[str, Any]] = [
        {},
        {"channels": ["app"]},
        {"where": {"store_groups": ["north"]}},
        {"who": {"levels": ["gold"]}},
        {"what": {"products": rng.sample(PRODUCTS, 4)}},
        {"what": {"categories": [rng.choice(list(CATEGORIES))]}, "who": {"levels": ["gold"]}},
        {"what": {"categories": [rng.choice(list(CATEGORIES))], "tags": ["sale"]}},
    ]
    multiplier = rng.choice([None, "1.5", "3"])
    return BonusCampaignDefinition(
        id=number,
        key=f"b{number}",
        name=f"B{number}",
        program=None,
        conditions=campaign_conditions(rng.choice(gates)),
        starts_at=AT,
        ends_at=AT,
        multiplier=None if multiplier is None else Decimal(multiplier),
        points=None if multiplier else 10,
    )


@pytest.mark.parametrize("seed", range(30))
def test_filed_campaigns_want_what_testing_every_one_wants(seed: int) -> None:
    """Every campaign the index leaves out wants nothing; the others want the same points
    with the same matched conditions (the lines named in invoice order)."""
    rng = random.Random(seed)
    program = _program(rng, 0)
    for _ in range(8):
        invoice = _invoice(rng)
        customer = CustomerView(id="c", level=rng.choice([None, "gold"]))
        earning = evaluate_invoice(
            program, invoice=invoice, customer=customer,
            conversion=Conversion.identity("EUR"), merchant=MERCHANT,
        )  # fmt: skip
        if earning is None:
            continue
        campaigns = [_campaign(rng, number) for number in range(12)]
        got = _wanted([filed(c) for c in campaigns], [earning], invoice, customer, MERCHANT)
        ctx = ConditionContext(
            customer=customer, at=invoice.occurred_at, channel=invoice.channel,
            store_id=invoice.store_id, merchant=MERCHANT, lines=invoice.lines,
            categories=program.categories,
        )  # fmt: skip
        every = [
            wanted_points(
                c, awards=earning.awards, multiplier=earning.multiplier,
                rounding=program.earning.rounding, ctx=ctx, categories=program.categories,
            )
            for c in campaigns
        ]  # fmt: skip
        expected = [(0, w) for w in every if w is not None and w.points > 0]
        assert [(i, w.campaign.key, w.points, w.note, w.check) for i, w in got] == [
            (i, w.campaign.key, w.points, w.note, w.check) for i, w in expected
        ]
