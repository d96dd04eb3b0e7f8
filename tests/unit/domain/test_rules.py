"""Earning rules, pure: the base, every rule kind, exclusions, rounding, combination."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal as D
from typing import Any, ClassVar

import pytest

from loyalty_plugin.domain.errors import ValidationError
from loyalty_plugin.domain.programs import (
    ProgramEarning,
    breakdown,
    combine,
    definition_from_settings,
    evaluate_event,
    evaluate_invoice,
)
from loyalty_plugin.domain.rules import (
    BIRTHDAY,
    CUSTOM,
    REGISTRATION,
    Award,
    CategoryTree,
    Conversion,
    CustomerView,
    EventContext,
    InvoiceContext,
    InvoiceState,
    InvoiceView,
    LineView,
    Period,
    Rounding,
    RoundingScope,
    Rule,
    rule_kinds,
    settle,
    targets,
)
from loyalty_plugin.domain.rules.kinds import decimal

EUR = Conversion.identity("EUR")
ANYONE = CustomerView(id="c1")
TEN = {"kind": "per_amount", "points": "1", "per": "10"}


def program(*rules: dict[str, Any], key: str = "main", **settings: Any):
    """A program version from stored settings, as a test writes them."""
    return definition_from_settings(
        {"currency": "EUR", "rules": [{"id": f"r{i}", **r} for i, r in enumerate(rules)]}
        | settings,
        key=key,
        name=key.title(),
    )


def line(line_id: str = "1", amount: str = "100", qty: str = "1", **more: Any) -> LineView:
    return LineView(id=line_id, qty=D(qty), amount=D(amount), **more)


def invoice(*lines: LineView, total: str | None = None, **more: Any) -> InvoiceView:
    amount = sum((item.amount for item in lines), D(0))
    return InvoiceView(id="INV-1", currency="EUR", total=D(total or amount), lines=lines, **more)


def earn(prog, inv: InvoiceView, customer: CustomerView = ANYONE, conversion=EUR) -> int:
    result = evaluate_invoice(prog, invoice=inv, customer=customer, conversion=conversion)
    return 0 if result is None else result.points


# -- the earning base -----------------------------------------------------------------------


def test_one_point_per_ten_on_a_1150_invoice_gives_115() -> None:
    """The issue's first example: 1 point per 10.00 on 1,150.00 is 115 points."""
    assert earn(program(TEN), invoice(line(amount="1150.00"))) == 115


@pytest.mark.parametrize(("rounding", "points"), [("down", 57), ("nearest", 58), ("up", 58)])
def test_rounding_modes_round_only_the_final_points(rounding: str, points: int) -> None:
    """575.00 at 1 per 10 is 57.5: down 57, nearest 58, up 58."""
    prog = program(TEN, earning={"rounding": rounding})
    assert earn(prog, invoice(line(amount="575.00"))) == points


def test_line_rounding_rounds_each_line_where_invoice_rounding_adds_first() -> None:
    """Two lines of 15.00: 1.5 + 1.5 = 3 per invoice, 1 + 1 = 2 per line (rounding down)."""
    lines = (line("a", "15.00"), line("b", "15.00"))
    assert earn(program(TEN), invoice(*lines)) == 3
    assert earn(program(TEN, earning={"rounding_scope": "line"}), invoice(*lines)) == 2


def test_breakdown_shares_the_rounded_total_so_its_lines_add_up() -> None:
    """Three lines of 15.00 earn 4 points; the breakdown's line points add up to 4."""
    prog = program(TEN)
    result = evaluate_invoice(
        prog,
        invoice=invoice(line("a", "15"), line("b", "15"), line("c", "15")),
        customer=ANYONE,
        conversion=EUR,
    )
    explained = breakdown(result, result.settlement)
    assert explained["points"] == 4
    assert sorted(item["points"] for item in explained["breakdown"]) == [1, 1, 2]
    assert explained["program"]["key"] == "main" and explained["breakdown"][0]["line"] == "a"


def test_a_tax_excluded_base_ignores_tax_and_an_included_one_shares_it() -> None:
    """Tax earns nothing by default; with include_tax it is shared over the lines."""
    inv = invoice(line("a", "100"), line("b", "300"), total="480", tax_total=D("80"))
    assert earn(program(TEN), inv) == 40
    assert earn(program(TEN, earning={"include_tax": True}), inv) == 48


def test_shipping_earns_only_when_the_program_includes_it() -> None:
    """Shipping is left out by default and counts as a line of its own when included."""
    inv = invoice(line(amount="100"), total="150", shipping_total=D("50"))
    assert earn(program(TEN), inv) == 10
    assert earn(program(TEN, earning={"include_shipping": True}), inv) == 15


def test_invoice_discounts_are_deducted_unless_the_program_ignores_them() -> None:
    """A line discount and an invoice discount come off by default; not when ignored."""
    inv = invoice(line("a", "90", discount=D("10")), line("b", "100"), discount_total=D("30"))
    assert earn(program(TEN), inv) == 17  # 90 + 100 - 20 invoice discount
    assert earn(program(TEN, earning={"deduct_discounts": False}), inv) == 20


def test_the_part_paid_with_points_does_not_earn_by_default() -> None:
    """1,000.00 with 200.00 paid with points is sent as 800.00: 800.00 earns, taken off
    once; a program whose points payments earn adds the 200.00 back."""
    inv = invoice(line(amount="800"), paid_with_points=D("200"))
    assert earn(program(TEN), inv) == 80
    assert earn(program(TEN, earning={"points_payments_earn": True}), inv) == 100


def test_gift_card_and_promotional_lines_earn_nothing_by_default() -> None:
    """Buying gift cards cannot farm points; a program may choose other excluded tags."""
    inv = invoice(
        line("a", "500", tags=frozenset({"gift_card"})),
        line("b", "200", tags=frozenset({"promotional"})),
        line("c", "100"),
    )
    assert earn(program(TEN), inv) == 10
    assert earn(program(TEN, earning={"excluded_tags": ["gift_card"]}), inv) == 30


def test_a_gift_card_only_invoice_gives_no_per_order_bonus_either() -> None:
    """With nothing that earns, fixed per-order points are not given."""
    inv = invoice(line(amount="500", tags=frozenset({"gift_card"})))
    assert earn(program(TEN, {"kind": "per_order", "points": 50}), inv) == 0


def test_an_invoice_under_the_minimum_amount_earns_nothing() -> None:
    """minimum_amount applies to the earning amount, before any rule."""
    prog = program(TEN, {"kind": "per_order", "points": 5}, earning={"minimum_amount": "50"})
    assert earn(prog, invoice(line(amount="49.99"))) == 0
    assert earn(prog, invoice(line(amount="50"))) == 10


def test_an_invoice_without_items_earns_on_its_amount_before_tax() -> None:
    """No items: one made-up line for the total less tax and shipping."""
    inv = InvoiceView(
        id="1", currency="EUR", total=D("130"), tax_total=D("20"), shipping_total=D("10")
    )
    assert earn(program(TEN), inv) == 10


def test_another_currency_converts_with_the_rate_before_rules_apply() -> None:
    """At 0.5 EUR per USD, 400 USD earn like 200 EUR; the fee converts too."""
    usd = Conversion(rate=D("0.5"), source="event", from_currency="USD", to_currency="EUR")
    inv = InvoiceView(
        id="1",
        currency="USD",
        total=D("400"),
        lines=(line(amount="400"),),
        transaction_fee=D("40"),
    )
    fee = {"kind": "transaction_fee", "points": "1", "per": "1"}
    assert earn(program(TEN, fee), inv, conversion=usd) == 20 + 20


def test_money_as_float_is_refused() -> None:
    """Floats never enter the engine: lines and stored decimals refuse them."""
    with pytest.raises(ValidationError):
        LineView(id="1", qty=D(1), amount=10.5)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        decimal(0.1)


# -- rule kinds -----------------------------------------------------------------------------


def test_transaction_fee_gives_220_points_on_a_220_fee() -> None:
    """A marketplace's 220 fee on a 10,000 order gives the buyer 220 points."""
    fee = program({"kind": "transaction_fee", "points": "1", "per": "1"})
    inv = invoice(line(amount="10000"), transaction_fee=D("220"))
    assert earn(fee, inv) == 220


def test_product_rules_give_points_per_unit_or_by_ratio() -> None:
    """Matched by product id or sku: 3 units at 5 points; a ratio of 2 per 10 on 50.00."""
    per_unit = {"kind": "product", "products": ["P1"], "points_per_unit": "5"}
    ratio = {"kind": "product", "products": ["SKU-2"], "points": "2", "per": "10"}
    inv = invoice(
        line("a", "30", qty="3", product_id="P1"),
        line("b", "50", sku="SKU-2"),
        line("c", "500", product_id="other"),
    )
    assert earn(program(per_unit, ratio), inv) == 15 + 10


def test_category_rules_match_child_categories() -> None:
    """A rule on ``shoes`` matches a line in ``running``, a child of ``shoes``."""
    rule = {"kind": "category", "categories": ["shoes"], "points_per_unit": "7"}
    prog = program(rule, categories={"running": "shoes", "shoes": None, "hats": None})
    inv = invoice(line("a", category_id="running"), line("b", category_id="hats"))
    assert earn(prog, inv) == 7


def test_category_cycles_are_refused() -> None:
    """A category cannot be its own ancestor."""
    with pytest.raises(ValidationError, match="own ancestor"):
        CategoryTree({"a": "b", "b": "a"})


def test_exclusions_leave_out_products_categories_tags_and_groups() -> None:
    """Each exclusion removes what it names from one rule only."""
    excluded = {
        **TEN,
        "exclude": {
            "products": ["P1"],
            "categories": ["sale"],
            "tags": ["clearance"],
            "groups": ["staff"],
        },
    }
    inv = invoice(
        line("a", "100", product_id="P1"),
        line("b", "100", category_id="outlet"),
        line("c", "100", tags=frozenset({"clearance"})),
        line("d", "100"),
    )
    prog = program(excluded, categories={"outlet": "sale"})
    assert earn(prog, inv) == 10
    assert earn(prog, inv, CustomerView(id="c", group="staff")) == 0
    assert earn(program(TEN), inv) == 40


def test_fixed_points_per_order_and_a_first_purchase_bonus() -> None:
    """Per order always; the first-purchase bonus only on the customer's first invoice."""
    prog = program({"kind": "per_order", "points": 20}, {"kind": "first_purchase", "points": 100})
    inv = invoice(line())
    assert earn(prog, inv) == 20
    assert earn(prog, inv, CustomerView(id="c", first_purchase=True)) == 120


def test_progressive_rates_are_marginal_like_tax_brackets() -> None:
    """First 1,000 at 1 per 10, the rest at 2 per 10: 1,500 gives 100 + 100."""
    rule = {
        "kind": "progressive",
        "brackets": [
            {"up_to": "1000", "points": "1", "per": "10"},
            {"up_to": None, "points": "2", "per": "10"},
        ],
    }
    assert earn(program(rule), invoice(line(amount="1500"))) == 200
    assert earn(program(rule), invoice(line(amount="800"))) == 80


SEGMENTED = {
    "kind": "segmented",
    "brackets": [
        {"from": "0", "to": "500", "points": 10},
        {"from": "500", "to": "2000", "points": 80},
        {"from": "2000", "to": None, "points": 250},
    ],
}


@pytest.mark.parametrize(("amount", "points"), [("499.99", 10), ("500", 80), ("5000", 250)])
def test_segmented_gives_the_points_of_the_bracket_the_amount_falls_in(
    amount: str, points: int
) -> None:
    """Brackets include their start and exclude their end."""
    assert earn(program(SEGMENTED), invoice(line(amount=amount))) == points


def test_event_rules_answer_their_own_triggers_only() -> None:
    """Registration, birthday and named custom events with matching properties."""
    prog = program(
        {"kind": "registration", "points": 50},
        {"kind": "birthday", "points": 100},
        {"kind": "custom_event", "name": "review", "when": {"stars": 5}, "points": 30},
    )

    def points(trigger: str, **more: Any) -> int:
        result = evaluate_event(prog, event=EventContext(trigger=trigger, customer=ANYONE, **more))
        return result.points if result else 0

    assert points(REGISTRATION) == 50
    assert points(BIRTHDAY) == 100
    assert points(CUSTOM, name="review", properties={"stars": 5}) == 30
    assert points(CUSTOM, name="review", properties={"stars": 4}) == 0
    assert points(CUSTOM, name="survey") == 0
    assert earn(prog, invoice(line())) == 0


def test_event_rules_have_limits_by_default() -> None:
    """Registration once ever, birthday once a year, custom once ever unless set."""
    prog = program(
        {"kind": "registration", "points": 1},
        {"kind": "birthday", "points": 1},
        {"kind": "custom_event", "name": "x", "points": 1, "limit": {"count": 3, "per": "month"}},
    )
    limits = [(r.limit.count, r.limit.period) for r in prog.rules]
    assert limits == [(1, Period.EVER), (1, Period.YEAR), (3, Period.MONTH)]


def test_period_keys_name_calendar_periods() -> None:
    """Limits count per ever, year, month, ISO week or day."""
    from datetime import date

    day = date(2026, 3, 5)
    keys = [p.key(day) for p in Period]
    assert keys == ["ever", "2026", "2026-03", "2026-W10", "2026-03-05"]


def test_a_level_multiplier_scales_the_points_before_rounding() -> None:
    """A gold customer at 1.5x earns 1.5 times, rounded once."""
    prog = program(TEN, level_multipliers={"gold": "1.5"})
    inv = invoice(line(amount="105"))
    assert earn(prog, inv) == 10
    assert earn(prog, inv, CustomerView(id="c", level="gold")) == 15


def test_audiences_admit_enrolled_customers_groups_and_levels() -> None:
    """A program for enrolled wholesale customers leaves others out."""
    prog = program(TEN, audience={"customers": "enrolled", "groups": ["wholesale"]})
    inv = invoice(line())
    assert earn(prog, inv, CustomerView(id="c", group="wholesale")) == 10
    assert earn(prog, inv, CustomerView(id="c", group="retail")) == 0
    assert earn(prog, inv, CustomerView(id="c", group="wholesale", enrolled=False)) == 0
    by_level = program(TEN, audience={"levels": ["gold"]})
    assert earn(by_level, inv, CustomerView(id="c", level="gold")) == 10
    assert earn(by_level, inv) == 0


# -- combination ----------------------------------------------------------------------------

PROGRESSIVE = {
    "kind": "progressive",
    "brackets": [
        {"up_to": "1000", "points": "1", "per": "10"},
        {"up_to": None, "points": "2", "per": "10"},
    ],
}


def _combined(*programs) -> list[ProgramEarning]:
    inv = invoice(line(amount="1500"))
    return combine(
        [evaluate_invoice(p, invoice=inv, customer=ANYONE, conversion=EUR) for p in programs]
    )


def test_programs_that_add_up_all_count() -> None:
    """A progressive (200) and a segmented (80) program stacking give 280."""
    counted = _combined(program(PROGRESSIVE, key="p"), program(SEGMENTED, key="s"))
    assert sum(e.points for e in counted) == 280


def test_best_one_wins_keeps_only_the_program_giving_most() -> None:
    """Combined as best-one-wins, only the progressive program's 200 count."""
    counted = _combined(
        program(PROGRESSIVE, key="p", combination="best"),
        program(SEGMENTED, key="s", combination="best"),
    )
    assert [(e.program.key, e.points) for e in counted] == [("p", 200)]


def test_an_exclusive_program_is_the_only_one_that_counts() -> None:
    """The highest-priority exclusive program that gives points shuts the others out."""
    counted = _combined(
        program(PROGRESSIVE, key="p"),
        program(SEGMENTED, key="s", combination="exclusive", priority=5),
        program(TEN, key="t", combination="exclusive", priority=1),
    )
    assert [(e.program.key, e.points) for e in counted] == [("s", 80)]


# -- refunds and payments -------------------------------------------------------------------


def _awards(amount: str = "1150.00") -> list[Award]:
    return [Award(rule="r", kind="per_amount", exact=D(amount) / 10, line="1")]


@pytest.mark.parametrize(("rounding", "reversed_"), [("down", 58), ("nearest", 57), ("up", 57)])
def test_refunding_half_keeps_what_the_kept_half_earns(rounding: str, reversed_: int) -> None:
    """115 earned on 1,150.00; refund 575.00: the kept half earns 57.5 rounded."""
    state = InvoiceState(
        total=D("1150"), paid=D("1150"), refunded=D("575"), refunded_unassigned=D("575")
    )
    result = targets(_awards(), state, rounding=Rounding(rounding), scope=RoundingScope.INVOICE)
    assert (result.earned, result.reversed) == (115, reversed_)
    both = InvoiceState(
        total=D("1150"), paid=D("1150"), refunded=D("1150"), refunded_unassigned=D("1150")
    )
    assert (
        targets(_awards(), both, rounding=Rounding(rounding), scope=RoundingScope.INVOICE).reversed
        == 115
    )


def test_a_refund_by_line_reverses_that_line_only() -> None:
    """Returning 1 of 2 units of line b takes back half of b's points, none of a's."""
    awards = [
        Award(rule="r", kind="k", exact=D(40), line="a"),
        Award(rule="r", kind="k", exact=D(20), line="b"),
    ]
    state = InvoiceState(
        total=D(600),
        paid=D(600),
        refunded=D(100),
        refunded_lines={"b": D(1)},
        line_qty={"a": D(1), "b": D(2)},
    )
    result = targets(awards, state, rounding=Rounding.DOWN, scope=RoundingScope.INVOICE)
    assert (result.earned, result.reversed) == (60, 10)


def test_payments_earn_in_proportion_never_beyond_the_total() -> None:
    """Half paid earns half; paying more than the total earns no more than all of it."""
    half = InvoiceState(total=D(1150), paid=D(575))
    over = InvoiceState(total=D(1150), paid=D(2000))
    options = {"rounding": Rounding.DOWN, "scope": RoundingScope.INVOICE}
    assert targets(_awards(), half, **options).earned == 57
    assert targets(_awards(), over, **options).earned == 115


def test_settle_never_rounds_a_zero_award_up() -> None:
    """Rounding up 0 exact points still gives 0."""
    award = Award(rule="r", kind="k", exact=D("0.0"))
    assert settle([award], rounding=Rounding.UP, scope=RoundingScope.INVOICE).points == 0


# -- plugin kinds ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class DoubleWeekend(Rule):
    """A plugin kind: a fixed bonus on orders from the ``weekend`` channel."""

    kind: ClassVar[str] = "weekend_bonus"
    points: int = 0

    @classmethod
    def options(cls, config: dict[str, Any]) -> dict[str, Any]:
        return {"points": int(config["points"])}

    def invoice_awards(self, ctx: InvoiceContext) -> list[Award]:
        return [self.award(D(self.points))] if ctx.lines else []


def test_plugin_rule_kinds_are_used_when_given_and_unknown_otherwise() -> None:
    """A plugin kind works in a program built with it; without it the kind is unknown."""
    settings = {"currency": "EUR", "rules": [{"id": "w", "kind": "weekend_bonus", "points": 9}]}
    prog = definition_from_settings(settings, key="k", name="K", extra_kinds=[DoubleWeekend])
    assert earn(prog, invoice(line())) == 9
    with pytest.raises(ValidationError, match="unknown rule kind"):
        definition_from_settings(settings, key="k", name="K")


def test_a_plugin_cannot_replace_a_built_in_kind() -> None:
    """Registering ``per_amount`` again is refused."""

    class Impostor(DoubleWeekend):
        kind: ClassVar[str] = "per_amount"

    with pytest.raises(ValueError, match="built in"):
        rule_kinds([Impostor])
