"""Rule conditions, pure: one function, a condition set and an evaluation context."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from loyalty_plugin.domain.rules import CategoryTree, CustomerView, LineView
from loyalty_plugin.domain.rules.conditions import (
    ConditionContext,
    Conditions,
    MerchantFacts,
    check_conditions,
)
from loyalty_plugin.domain.rules.invoice import ONE

BERLIN = MerchantFacts(timezone="Europe/Berlin", store_groups={"north": frozenset({"S1"})})
ANA = CustomerView(id="ana", groups=frozenset({"staff"}), level="gold", tags=frozenset({"vip"}))


def ctx(**more: object) -> ConditionContext:
    base: dict[str, object] = {"customer": ANA, "merchant": BERLIN}
    return ConditionContext(**(base | more))  # type: ignore[arg-type]


def test_no_conditions_always_hold() -> None:
    """An empty set is falsy and holds on anything."""
    assert not Conditions.from_config(None)
    assert check_conditions(Conditions(), ctx()).ok


def test_hours_are_local_and_the_end_is_excluded() -> None:
    """16:59:59 is inside 14:00-17:00 Berlin time; 17:00 is not."""
    rule = Conditions.from_config({"when": {"hours": [{"from": "14:00", "to": "17:00"}]}})
    winter = datetime(2026, 1, 6, 15, 59, 59, tzinfo=UTC)
    assert check_conditions(rule, ctx(at=winter)).ok
    assert not check_conditions(rule, ctx(at=winter + timedelta(seconds=1))).ok


def test_without_a_time_hours_fail_but_dates_use_the_invoice_date() -> None:
    """A bare invoice date cannot satisfy hours; it does satisfy weekdays and dates."""
    hours = Conditions.from_config({"when": {"hours": [{"from": "00:00", "to": "23:59"}]}})
    assert check_conditions(hours, ctx(day=date(2026, 1, 6))).failed == (
        "when.hours: the invoice's time of day is not known",
    )
    days = Conditions.from_config(
        {"when": {"weekdays": ["tue"], "dates": {"from": "2026-01-01", "to": "2026-01-31"}}}
    )
    assert check_conditions(days, ctx(day=date(2026, 1, 6))).ok
    assert not check_conditions(days, ctx(day=date(2026, 2, 3))).ok


def test_who_groups_levels_tags_and_registration() -> None:
    """Any of each list; registered within N days counts from the registration moment."""
    at = datetime(2026, 5, 1, tzinfo=UTC)
    rule = Conditions.from_config(
        {"who": {"groups": ["staff"], "levels": ["gold"], "tags": ["vip", "student"],
                 "registered_within_days": 30}}
    )  # fmt: skip
    fresh = CustomerView(**{**_fields(ANA), "registered_at": at - timedelta(days=29)})
    old = CustomerView(**{**_fields(ANA), "registered_at": at - timedelta(days=30)})
    assert check_conditions(rule, ctx(customer=fresh, at=at)).ok
    assert check_conditions(rule, ctx(customer=old, at=at)).failed == (
        "who.registered_within_days: registered 30 day(s) before",
    )


def test_what_needs_one_line_matching_every_list_given() -> None:
    """Category (with children) and tag together: a line must have both."""
    tree = CategoryTree({"running": "shoes", "shoes": None})
    rule = Conditions.from_config({"what": {"categories": ["shoes"], "tags": ["nike"]}})
    plain = LineView(id="L1", qty=ONE, amount=ONE, category_id="running")
    nike = LineView(id="L2", qty=ONE, amount=ONE, category_id="running", tags=frozenset({"nike"}))
    assert not check_conditions(rule, ctx(lines=(plain,), categories=tree)).ok
    assert check_conditions(rule, ctx(lines=(plain, nike), categories=tree)).matched == (
        "what: line(s) L2",
    )


def test_stores_and_store_groups() -> None:
    """A store named by the rule, or in one of its groups."""
    rule = Conditions.from_config({"where": {"stores": ["S7"], "store_groups": ["north"]}})
    assert check_conditions(rule, ctx(store_id="S7")).ok
    assert check_conditions(rule, ctx(store_id="S1")).ok
    assert not check_conditions(rule, ctx(store_id="S2")).ok
    assert not check_conditions(rule, ctx()).ok


def _fields(view: CustomerView) -> dict[str, object]:
    return {name: getattr(view, name) for name in view.__dataclass_fields__}
