"""Rules in plain words (domain/rules/summary.py), one sentence per kind."""

from __future__ import annotations

import pytest

from loyalty_plugin.domain.rules.summary import amount, describe_rule, points

NONE = {"products": [], "categories": [], "tags": [], "groups": []}


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"kind": "per_amount", "points": "2", "per": "1",
          "exclude": {**NONE, "tags": ["gift_card"]}},
         "2 points per €1 spent, not on gift cards"),
        ({"kind": "category", "categories": ["shoes"], "points": "2", "per": "1.00",
          "exclude": {**NONE, "products": ["gift-25"]}},
         "2 points per €1 on Shoes and its sub-categories, not on Gift card 25"),
        ({"kind": "product", "products": ["SKU-42", "SKU-43"], "points_per_unit": "5"},
         "5 points per unit on SKU-42 and SKU-43"),
        ({"kind": "transaction_fee", "points": "1", "per": "1"},
         "1 point per €1 of the transaction fee"),
        ({"kind": "per_order", "points": 20}, "20 points on every order"),
        ({"kind": "first_purchase", "points": 100}, "100 points on a customer's first order"),
        ({"kind": "progressive", "brackets": [{"up_to": "1000", "points": "1", "per": "10"},
                                              {"up_to": None, "points": "2", "per": "10"}]},
         "1 point per €10 up to €1,000, then 2 points per €10 of the order"),
        ({"kind": "segmented", "brackets": [{"from": "0", "to": "500", "points": 10},
                                            {"from": "500", "to": None, "points": 80}]},
         "10 points for an order from €0 to under €500; 80 points for an order from €500 up"),
        ({"kind": "registration", "points": 50, "limit": None},
         "50 points when a customer registers (once ever)"),
        ({"kind": "birthday", "points": 100, "limit": {"count": 1, "per": "year"}},
         "100 points on the customer's birthday (once a year)"),
        ({"kind": "custom_event", "name": "review", "when": {"stars": 5}, "points": 30,
          "limit": {"count": 2, "per": "month"}},
         "30 points for a “review” event with stars = 5 (at most 2 times a month)"),
        ({"kind": "per_amount", "points": "1", "per": "10",
          "exclude": {**NONE, "categories": ["outlet"], "groups": ["staff"]}},
         "1 point per €10 spent, not on outlet and its sub-categories; not for customers in staff"),
    ],
)  # fmt: skip
def test_each_kind_reads_as_a_sentence(rule, expected) -> None:
    labels = {"shoes": "Shoes", "gift-25": "Gift card 25"}
    assert describe_rule(rule, currency="EUR", labels=labels) == expected


def test_amounts_and_points() -> None:
    assert amount("1234.5", "EUR") == "€1,234.50"
    assert amount("10.00", "USD") == "$10"
    assert amount("10", "RON") == "10 RON"
    assert points("1.50") == "1.5 points"
    assert points("1") == "1 point"


def test_a_plugin_kind_is_named() -> None:
    assert describe_rule({"kind": "channel_bonus"}, currency="EUR") == (
        "a channel_bonus rule (from a plugin)"
    )


def test_a_store_credit_reward_is_part_of_the_sentence() -> None:
    """5% back as well as points, or a fixed amount instead of them (#19)."""
    ratio = {"kind": "per_amount", "points": "1", "per": "10"}
    assert describe_rule(ratio | {"reward": {"credit_percent": "5"}}, currency="EUR") == (
        "1 point per €10 spent, and 5% back in store credit"
    )
    fixed = {"credit_amount": "2.50", "instead_of_points": True}
    assert describe_rule(ratio | {"reward": fixed}, currency="EUR") == (
        "€2.50 of store credit instead of 1 point per €10 spent"
    )
