"""The rule index leaves out only rules that could not earn: same awards with or without it."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest

from loyalty_plugin.domain.programs import definition_from_settings, evaluate_invoice
from loyalty_plugin.domain.rules import (
    CategoryTree,
    Conversion,
    CustomerView,
    InvoiceView,
    LineView,
)
from loyalty_plugin.domain.rules.conditions import (
    ConditionContext,
    Conditions,
    MerchantFacts,
    check_conditions,
)
from loyalty_plugin.domain.rules.index import condition_keys, invoice_keys

CATEGORIES = {f"c{i}": (f"c{i // 3}" if i >= 3 else None) for i in range(12)}
PRODUCTS = [f"P{i}" for i in range(30)]
MERCHANT = MerchantFacts(store_groups={"north": frozenset({"S1", "S2"})})


def _rule(rng: random.Random, index: int) -> dict[str, Any]:
    kinds = [
        {"kind": "per_amount", "points": "1", "per": "10"},
        {"kind": "product", "products": rng.sample(PRODUCTS, 2), "points_per_unit": "2"},
        {"kind": "category", "categories": [rng.choice(list(CATEGORIES))], "points": "3",
         "per": "10"},
        {"kind": "per_order", "points": 5},
    ]  # fmt: skip
    rule = rng.choice(kinds) | {"id": f"r{index}"}
    gate = rng.randrange(6)
    if gate == 1:
        rule["conditions"] = {"channels": [rng.choice(["app", "pos"])]}
    elif gate == 2:
        rule["conditions"] = {"where": {"store_groups": ["north"], "stores": ["S9"]}}
    elif gate == 3:
        rule["conditions"] = {"who": {"levels": [rng.choice(["gold", "silver"])]}}
    elif gate == 4:
        rule["conditions"] = {"what": {"products": rng.sample(PRODUCTS, 3)}}
    elif gate == 5:
        rule["conditions"] = {"what": {"categories": [rng.choice(list(CATEGORIES))]}}
    return rule


def _invoice(rng: random.Random) -> InvoiceView:
    lines = tuple(
        LineView(
            id=f"L{i}",
            qty=Decimal(rng.randint(1, 3)),
            amount=Decimal(rng.randint(100, 9000)) / 100,
            product_id=rng.choice(PRODUCTS),
            sku=rng.choice([None, rng.choice(PRODUCTS)]),
            category_id=rng.choice([None, *CATEGORIES]),
        )
        for i in range(rng.randint(1, 6))
    )
    return InvoiceView(
        id="I",
        currency="EUR",
        total=sum((line.amount for line in lines), Decimal(0)),
        lines=lines,
        channel=rng.choice([None, "app", "pos"]),
        store_id=rng.choice([None, "S1", "S2", "S3", "S9"]),
    )


@pytest.mark.parametrize("seed", range(40))
def test_the_index_gives_the_same_awards_as_every_rule(seed: int) -> None:
    """Random rules and invoices: the indexed evaluation equals the full one."""
    rng = random.Random(seed)
    settings = {
        "currency": "EUR",
        "categories": CATEGORIES,
        "conflicts": rng.choice(["add", "most_specific", "best"]),
        "rules": [_rule(rng, i) for i in range(30)],
    }
    program = definition_from_settings(settings, key="p", name="P")
    assert program.rule_index.keyed, "the random rules should be indexed"
    for _ in range(10):
        customer = CustomerView(id="c", level=rng.choice([None, "gold", "silver"]))
        invoice = _invoice(rng)
        both = [
            evaluate_invoice(
                program, invoice=invoice, customer=customer, merchant=MERCHANT,
                conversion=Conversion.identity("EUR"), use_index=use_index,
            )
            for use_index in (True, False)
        ]  # fmt: skip
        indexed, full = (e.awards if e else None for e in both)
        assert indexed == full
        assert both[0].points == both[1].points  # type: ignore[union-attr]


def _conditions(rng: random.Random) -> dict[str, Any]:
    """Random campaign conditions: one to three gates of every kind a campaign can set."""
    gates = [
        lambda: {"channels": [rng.choice(["app", "pos"])]},
        lambda: {"where": {"store_groups": ["north"]}},
        lambda: {"where": {"stores": [rng.choice(["S1", "S3", "S9"])]}},
        lambda: {"who": {"levels": [rng.choice(["gold", "silver"])]}},
        lambda: {"what": {"products": rng.sample(PRODUCTS, 2)}},
        lambda: {"what": {"categories": [rng.choice(list(CATEGORIES))]}},
        lambda: {"when": {"weekdays": ["sat"]}},
    ]
    found: dict[str, Any] = {}
    for gate in rng.sample(gates, rng.randint(0, 3)):
        for key, value in gate().items():
            found[key] = found.get(key, {}) | value if isinstance(value, dict) else value
    return found


@pytest.mark.parametrize("seed", range(20))
def test_conditions_the_index_leaves_out_could_not_hold(seed: int) -> None:
    """A bonus campaign is tested only when the invoice has one of its keys: every one
    left out fails its conditions, and some kept ones hold (#18)."""
    rng = random.Random(seed)
    tree = CategoryTree(CATEGORIES)
    held = 0
    for _ in range(200):
        conditions = Conditions.from_config(_conditions(rng))
        invoice = _invoice(rng)
        customer = CustomerView(id="c", level=rng.choice([None, "gold", "silver"]))
        ctx = ConditionContext(
            customer=customer, channel=invoice.channel, store_id=invoice.store_id,
            merchant=MERCHANT, lines=invoice.lines, categories=tree,
        )  # fmt: skip
        ok = check_conditions(conditions, ctx).ok
        filed = condition_keys(conditions)
        keys = invoice_keys(invoice, customer=customer, categories=tree, merchant=MERCHANT)
        if filed and filed.isdisjoint(keys):
            assert not ok
        held += ok
    assert held > 10
