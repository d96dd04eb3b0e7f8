"""Earning gives the same breakdown, award by award, as the code it was made faster from.

The digests below were recorded from the implementation before issue 18's speed work
(settlement in ``Decimal`` with an ``Award`` per rule and line). Each seed builds random
programs of every invoice kind (odd ratios, exclusions, conditions, conflicts, rounding
modes and scopes, level multipliers) and random invoices, and hashes everything an entry
stores: the breakdown by rule and line, the level bonus, and what a partly paid and
refunded invoice keeps. A change that moves one point or one shown decimal fails here.
"""

from __future__ import annotations

import hashlib
import json
import random
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from loyalty_plugin.domain.programs import (
    breakdown,
    combine,
    definition_from_settings,
    evaluate_invoice,
)
from loyalty_plugin.domain.rules import (
    Conversion,
    CustomerView,
    InvoiceState,
    InvoiceView,
    LineView,
    targets,
)
from loyalty_plugin.domain.rules.conditions import MerchantFacts

CATEGORIES = {f"c{i}": (f"c{i // 3}" if i >= 3 else None) for i in range(15)}
PRODUCTS = [f"P{i}" for i in range(25)]
MERCHANT = MerchantFacts(store_groups={"north": frozenset({"S1", "S2"})})
RATIOS = [("1", "10"), ("1", "3"), ("1.5", "3.33"), ("2", "7"), ("0.25", "1"), ("3", "9.99")]
AT = datetime(2026, 12, 5, 15, 30, tzinfo=UTC)  # a Saturday


def _ratio(rng: random.Random) -> dict[str, str]:
    points, per = rng.choice(RATIOS)
    return {"points": points, "per": per}


def _kind(rng: random.Random) -> dict[str, Any]:
    cats = list(CATEGORIES)
    makers = [
        lambda: {"kind": "per_amount", **_ratio(rng)},
        lambda: {"kind": "product", "products": rng.sample(PRODUCTS, 3),
                 "points_per_unit": rng.choice(["1", "2.5", "0.3"])},
        lambda: {"kind": "product", "products": rng.sample(PRODUCTS, 3), **_ratio(rng)},
        lambda: {"kind": "category", "categories": [rng.choice(cats)], **_ratio(rng)},
        lambda: {"kind": "category", "categories": [rng.choice(cats)], "points_per_unit": "2"},
        lambda: {"kind": "per_order", "points": rng.randint(1, 9)},
        lambda: {"kind": "first_purchase", "points": 50},
        lambda: {"kind": "transaction_fee", **_ratio(rng)},
        lambda: {"kind": "progressive", "brackets": [
            {"up_to": "50", **_ratio(rng)}, {"up_to": None, **_ratio(rng)}]},
        lambda: {"kind": "segmented", "brackets": [
            {"from": "0", "to": "100", "points": 7}, {"from": "100", "points": 40}]},
    ]  # fmt: skip
    return rng.choice(makers)()


def _rule(rng: random.Random, index: int) -> dict[str, Any]:
    rule = _kind(rng) | {"id": f"r{index}", "group": rng.choice(["", "", "g"])}
    gate = rng.randrange(9)
    if gate == 1:
        rule["conditions"] = {"channels": [rng.choice(["app", "pos"])]}
    elif gate == 2:
        rule["conditions"] = {"where": {"store_groups": ["north"], "stores": ["S9"]}}
    elif gate == 3:
        rule["conditions"] = {"who": {"levels": [rng.choice(["gold", "silver"])]}}
    elif gate == 4:
        rule["conditions"] = {"what": {"products": rng.sample(PRODUCTS, 4)}}
    elif gate == 5:
        rule["conditions"] = {"what": {"categories": [rng.choice(list(CATEGORIES))]}}
    elif gate == 6:
        rule["conditions"] = {"when": {"weekdays": [rng.choice(["sat", "mon"])]}}
    if rng.random() < 0.2:
        rule["exclude"] = {"products": rng.sample(PRODUCTS, 5), "tags": ["sale"]}
    return rule


def _program(rng: random.Random, number: int) -> Any:
    settings = {
        "currency": "EUR",
        "categories": CATEGORIES,
        "priority": rng.randint(0, 2),
        "combination": rng.choice(["stack", "stack", "best"]),
        "conflicts": rng.choice(["add", "most_specific", "best"]),
        "earning": {
            "rounding": rng.choice(["down", "nearest", "up"]),
            "rounding_scope": rng.choice(["invoice", "invoice", "line"]),
            "include_tax": rng.random() < 0.3,
            "include_shipping": rng.random() < 0.3,
            "deduct_discounts": rng.random() < 0.8,
        },
        "level_multipliers": {"gold": rng.choice(["1.25", "1.5", "2", "1.1"])},
        "rules": [_rule(rng, i) for i in range(rng.randint(1, 25))],
    }
    return definition_from_settings(settings, key=f"p{number}", name=f"P{number}")


def _invoice(rng: random.Random) -> InvoiceView:
    lines = tuple(
        LineView(
            id=f"L{i}",
            qty=Decimal(rng.randint(1, 4)),
            amount=Decimal(rng.randint(0, 20000)) / 100,
            discount=Decimal(rng.choice([0, 0, 0, rng.randint(1, 300)])) / 100,
            product_id=rng.choice(PRODUCTS),
            sku=rng.choice([None, rng.choice(PRODUCTS)]),
            category_id=rng.choice([None, *CATEGORIES]),
            tags=rng.choice([frozenset(), frozenset(), frozenset({"sale"})]),
        )
        for i in range(rng.randint(0, 40))
    )
    subtotal = sum((line.amount for line in lines), Decimal(0))
    tax = Decimal(rng.randint(0, 5000)) / 100
    return InvoiceView(
        id="INV",
        currency="EUR",
        total=subtotal + tax + Decimal(5),
        subtotal=subtotal if lines else Decimal(rng.randint(1, 9000)) / 7,
        lines=lines,
        tax_total=tax,
        shipping_total=Decimal(5),
        discount_total=Decimal(rng.randint(0, 1000)) / 100,
        transaction_fee=Decimal(rng.randint(0, 2000)) / 100,
        occurred_at=AT,
        channel=rng.choice([None, "app", "pos"]),
        store_id=rng.choice([None, "S1", "S2", "S3", "S9"]),
    )


def _state(rng: random.Random, invoice: InvoiceView) -> InvoiceState:
    refunded_lines = {
        line.id: Decimal(rng.randint(1, int(line.qty)))
        for line in invoice.lines
        if rng.random() < 0.2
    }
    refunded = Decimal(rng.randint(0, 3000)) / 100
    return InvoiceState(
        total=invoice.total,
        paid=invoice.total * Decimal(rng.choice(["1", "0.5", "0.37", "1.1"])),
        refunded=refunded,
        refunded_unassigned=refunded / 2,
        refunded_lines=refunded_lines,
        line_qty={line.id: line.qty for line in invoice.lines},
    )


def outcomes(seed: int, *, use_index: bool = True) -> list[Any]:
    """Everything stored about a seed's invoices, as JSON-able values."""
    rng = random.Random(seed)
    programs = [_program(rng, number) for number in range(rng.randint(1, 4))]
    found: list[Any] = []
    for _ in range(6):
        invoice = _invoice(rng)
        customer = CustomerView(
            id="c", level=rng.choice([None, "gold", "silver"]), first_purchase=rng.random() < 0.3
        )
        conversion = rng.choice(
            [
                Conversion.identity("EUR"),
                Conversion(
                    rate=Decimal("1.0837"), source="host", from_currency="USD", to_currency="EUR"
                ),
            ]
        )
        earnings = [
            evaluate_invoice(
                program, invoice=invoice, customer=customer, conversion=conversion,
                merchant=MERCHANT, use_index=use_index,
            )
            for program in programs
        ]  # fmt: skip
        counted = combine([e for e in earnings if e is not None])
        state = _state(rng, invoice)
        for earning in earnings:
            if earning is None:
                found.append(None)
                continue
            settings = earning.program.earning
            kept = targets(
                earning.awards, state, rounding=settings.rounding,
                scope=settings.rounding_scope, multiplier=earning.multiplier,
            )  # fmt: skip
            part = earning.settle(state.earn_factor)
            found.append(
                {
                    "points": earning.points,
                    "entry": breakdown(earning, earning.settlement),
                    "later": breakdown(earning, earning.settlement, before=part),
                    "targets": [kept.earned, kept.reversed],
                    "part": [part.points, [(i.award.rule, str(i.exact), i.points)
                                           for i in part.items]],
                }
            )  # fmt: skip
        found.append([e.program.key for e in counted])
    return found


def digest(seed: int, *, use_index: bool = True) -> str:
    text = json.dumps(outcomes(seed, use_index=use_index), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


#: Recorded from the implementation before the speed work (see the module docstring).
RECORDED: dict[int, str] = {
    0: "bd18e438a7bfeb35",
    1: "0434d82e14cb4821",
    2: "43576389c1ce16c5",
    3: "572c9efe3f5ec392",
    4: "3cd2f813f40bcb32",
    5: "aabf27bf50c1189c",
    6: "11bb664abd0e66a5",
    7: "bf150afadc84e687",
    8: "d99a23fff8ddbf34",
    9: "96d0e693874961e4",
    10: "24328340aa35e2dd",
    11: "141757003e8281fc",
    12: "5914a018f87a0e6b",
    13: "7257702183732446",
    14: "c8b71545d1beee27",
    15: "6dd6d3b8bc101cc5",
    16: "d0435f45b349412f",
    17: "f2b3db2927e86dc9",
    18: "b92577c5a8c0493a",
    19: "23e4571cad47686f",
    20: "75509ae1e09c1db6",
    21: "a8643cc1e3502235",
    22: "7b74d84b42bd08ed",
    23: "6a24036c2729aba1",
    24: "7c74d2aefe579369",
    25: "49bf04551adbab0f",
    26: "bd07dbe7368a69ce",
    27: "5d1a3d76920f9f43",
    28: "d0deb1232c867869",
    29: "052d8b7a28db01f4",
    30: "c5b1d51a1b442bd5",
    31: "3f9bf4a6d4ff4d6c",
    32: "d57403edface33fc",
    33: "a7482c55c30ac4fe",
    34: "60a523cbd093cf20",
    35: "057f2e1e74843ead",
    36: "e4fdf6f6a16d5466",
    37: "c1ef619948e61959",
    38: "62af8ae370c85449",
    39: "63a73af5ad90e342",
    40: "88afef23d383d1fd",
    41: "9baab8330179db41",
    42: "28b56210fb13d179",
    43: "0594006b3219abfe",
    44: "438ada4d4fbbb4c6",
    45: "d7ec46c5c84e16e1",
    46: "eb84aa39ba763c69",
    47: "d5237226f0c913a3",
    48: "5f71966aeeaa01e7",
    49: "59e6e35b565955b7",
    50: "93d4bb423e2a5c17",
    51: "621e312d4c3d575d",
    52: "4221648dbae6e094",
    53: "011bd0cb5d95f330",
    54: "e01fc3ae8c0e7f32",
    55: "d00c6d7552399e93",
    56: "a1bef2b17cb6c466",
    57: "161871058bc1b8ed",
    58: "8b95f0d352331aeb",
    59: "392118ff3e36425e",
}


@pytest.mark.parametrize("seed", sorted(RECORDED))
def test_breakdowns_are_unchanged(seed: int) -> None:
    """Every stored breakdown, level bonus and refund target equals the recorded one."""
    assert digest(seed) == RECORDED[seed]


@pytest.mark.parametrize("seed", range(0, 60, 6))
def test_the_index_changes_no_breakdown(seed: int) -> None:
    """With the rule index or without it, the same breakdowns."""
    assert outcomes(seed, use_index=True) == outcomes(seed, use_index=False)
