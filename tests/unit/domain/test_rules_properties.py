"""Properties of earning and reversal over random invoices, programs and refunds.

Every example runs with ``decimal.FloatOperation`` trapped: a float mixed into any
``Decimal`` construction or comparison raises, so passing proves the points never came
from float arithmetic.
"""

from __future__ import annotations

import decimal
from decimal import Decimal as D
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty_plugin.domain.programs import definition_from_settings, evaluate_invoice
from loyalty_plugin.domain.rules import (
    Conversion,
    CustomerView,
    InvoiceState,
    InvoiceView,
    LineView,
    targets,
)

money = st.decimals(min_value=0, max_value=5000, places=2, allow_nan=False, allow_infinity=False)
quantity = st.integers(1, 5).map(D)
tags = st.sampled_from([frozenset(), frozenset({"gift_card"}), frozenset({"promotional"})])


@st.composite
def invoices(draw: st.DrawFn) -> InvoiceView:
    lines = tuple(
        LineView(
            id=f"l{i}",
            qty=draw(quantity),
            amount=draw(money),
            product_id=draw(st.sampled_from(["P1", "P2", None])),
            category_id=draw(st.sampled_from(["shoes", "hats", None])),
            tags=draw(tags),
        )
        for i in range(draw(st.integers(1, 6)))
    )
    subtotal = sum((line.amount for line in lines), D(0))
    tax = draw(money)
    return InvoiceView(
        id="INV",
        currency="EUR",
        total=subtotal + tax,
        lines=lines,
        tax_total=tax,
        discount_total=draw(st.decimals(min_value=0, max_value=subtotal, places=2)),
        transaction_fee=draw(money),
    )


RULES: list[dict[str, Any]] = [
    {"kind": "per_amount", "points": "1", "per": "10"},
    {"kind": "per_amount", "points": "1.5", "per": "3.33"},
    {"kind": "transaction_fee", "points": "1", "per": "1"},
    {"kind": "product", "products": ["P1"], "points_per_unit": "2.5"},
    {"kind": "category", "categories": ["shoes"], "points": "1", "per": "7"},
    {"kind": "per_order", "points": 5},
    {
        "kind": "progressive",
        "brackets": [
            {"up_to": "100", "points": "1", "per": "10"},
            {"up_to": None, "points": "3", "per": "10"},
        ],
    },
    {
        "kind": "segmented",
        "brackets": [{"from": "0", "to": "300", "points": 7}, {"from": "300", "points": 40}],
    },
]


@st.composite
def programs(draw: st.DrawFn) -> Any:
    chosen = draw(st.lists(st.sampled_from(range(len(RULES))), min_size=1, max_size=4, unique=True))
    settings_ = {
        "currency": "EUR",
        "rules": [{"id": f"r{i}", **RULES[i]} for i in chosen],
        "earning": {
            "rounding": draw(st.sampled_from(["down", "nearest", "up"])),
            "rounding_scope": draw(st.sampled_from(["invoice", "line"])),
            "include_tax": draw(st.booleans()),
        },
        "level_multipliers": {"gold": "1.25"},
    }
    return definition_from_settings(settings_, key="p", name="P")


@st.composite
def refunds(draw: st.DrawFn, invoice: InvoiceView) -> list[tuple[D, dict[str, D]]]:
    """A sequence of refunds: by amount, or by lines (with the value of those lines)."""
    steps = []
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.booleans()):
            steps.append((draw(st.decimals(min_value=0, max_value=invoice.total, places=2)), {}))
        else:
            item = draw(st.sampled_from(invoice.lines))
            qty = D(draw(st.integers(1, int(item.qty))))
            steps.append((item.amount * qty / item.qty, {item.id: qty}))
    return steps


@settings(max_examples=300, deadline=None)
@given(data=st.data(), inv=invoices(), program=programs(), gold=st.booleans())
def test_reversals_never_exceed_what_was_earned(data, inv, program, gold) -> None:
    """For random invoices and refunds, total reversed stays within 0 and total earned."""
    with decimal.localcontext() as context:
        context.traps[decimal.FloatOperation] = True
        customer = CustomerView(id="c", level="gold" if gold else None)
        earning = evaluate_invoice(
            program, invoice=inv, customer=customer, conversion=Conversion.identity("EUR")
        )
        options = {
            "rounding": program.earning.rounding,
            "scope": program.earning.rounding_scope,
            "multiplier": earning.multiplier,
        }
        refunded, unassigned, lines = D(0), D(0), {}
        reversed_total = 0
        earned = targets(earning.awards, _state(inv, earning), **options).earned
        for amount, named in data.draw(refunds(inv)):
            refunded += amount
            unassigned += D(0) if named else amount
            for line_id, qty in named.items():
                lines[line_id] = lines.get(line_id, D(0)) + qty
            state = _state(inv, earning, refunded, unassigned, lines)
            wanted = targets(earning.awards, state, **options)
            assert type(wanted.earned) is int and type(wanted.reversed) is int
            assert wanted.earned == earned
            reversed_total += max(0, wanted.reversed - reversed_total)
            assert 0 <= reversed_total <= earned
        everything = _state(inv, earning, inv.total, inv.total, {})
        assert targets(earning.awards, everything, **options).reversed == earned


def _state(
    inv: InvoiceView,
    earning: Any,
    refunded: D = D(0),
    unassigned: D = D(0),
    lines: dict[str, D] | None = None,
) -> InvoiceState:
    return InvoiceState(
        total=inv.total,
        paid=inv.total,
        refunded=refunded,
        refunded_unassigned=unassigned,
        refunded_lines=lines or {},
        line_qty=earning.line_qty,
    )


@settings(max_examples=200, deadline=None)
@given(inv=invoices(), program=programs(), paid=st.lists(money, min_size=1, max_size=5))
def test_payments_never_earn_beyond_the_invoice(inv, program, paid) -> None:
    """Earning on each payment rises with the payments and stops at the full points."""
    with decimal.localcontext() as context:
        context.traps[decimal.FloatOperation] = True
        earning = evaluate_invoice(
            program,
            invoice=inv,
            customer=CustomerView(id="c"),
            conversion=Conversion.identity("EUR"),
        )
        options = {"rounding": program.earning.rounding, "scope": program.earning.rounding_scope}
        full = earning.points
        so_far, before = D(0), 0
        for amount in paid:
            so_far += amount
            now = targets(earning.awards, InvoiceState(total=inv.total, paid=so_far), **options)
            assert before <= now.earned <= full
            before = now.earned
