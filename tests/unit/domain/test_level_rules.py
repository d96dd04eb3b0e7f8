"""Membership levels, pure: which level an amount reaches, downgrades, projection, settings."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from loyalty_plugin.domain.errors import ValidationError
from loyalty_plugin.domain.levels import (
    decide,
    discount_amount,
    level_for,
    project,
    review_date,
    scheme_from_settings,
)
from loyalty_plugin.domain.programs import definition_from_settings
from loyalty_plugin.domain.rules import CustomerView

NOW = datetime(2026, 3, 1, tzinfo=UTC)
TIERS = [
    {"key": "bronze", "threshold": "0"},
    {"key": "silver", "threshold": "10000"},
    {"key": "gold", "threshold": "20000", "multiplier": "1.5",
     "discounts": [{"percent": "10", "categories": ["shoes"]}]},
]  # fmt: skip


def scheme(**more: object):
    found = scheme_from_settings({"tiers": TIERS, **more})
    assert found is not None
    return found


@pytest.mark.parametrize(
    ("amount", "level"),
    [("0", "bronze"), ("9999.99", "bronze"), ("10000", "silver"), ("15000", "silver"),
     ("19999.99", "silver"), ("20000", "gold"), ("50000", "gold")],
)  # fmt: skip
def test_amount_lands_on_the_highest_level_reached(amount: str, level: str) -> None:
    """Each threshold counts from its exact amount."""
    assert level_for(scheme(), Decimal(amount)).key == level


def test_falls_below_moves_down_at_once_and_review_waits_for_the_date_and_grace() -> None:
    """Under ``below_threshold`` a drop moves down now; under ``review`` only when due."""
    below = decide(scheme(), current="gold", amount=Decimal(15000), at=NOW)
    assert (below.level.key, below.reason) == ("silver", "below threshold")
    review = scheme(downgrade="review", review_every_days=90, grace_days=10)
    due = review_date(review, NOW - timedelta(days=95))
    kept = decide(review, current="gold", amount=Decimal(15000), at=NOW, review_at=due)
    assert kept.level.key == "gold"
    later = decide(
        review, current="gold", amount=Decimal(15000), at=NOW + timedelta(days=6), review_at=due
    )
    assert (later.level.key, later.reason) == ("silver", "review")
    never = decide(scheme(downgrade="never"), current="gold", amount=Decimal(0), at=NOW)
    assert never.level.key == "gold"


def test_review_each_calendar_year_falls_on_1_january() -> None:
    """Without ``review_every_days`` the review is the next 1 January."""
    assert review_date(scheme(downgrade="review"), NOW) == datetime(2027, 1, 1, tzinfo=UTC)
    assert review_date(scheme(), NOW) is None


def test_upgrade_skipping_a_level_lands_on_the_highest() -> None:
    """Crossing two thresholds at once is one move, to the highest level."""
    decision = decide(scheme(), current="bronze", amount=Decimal(25000), at=NOW)
    assert (decision.level.key, decision.reason) == ("gold", "upgrade")


def test_projection_names_the_next_level_and_what_is_missing() -> None:
    """Silver at 12,500 needs 7,500 more for Gold; Gold has nothing above."""
    ahead = project(scheme(), current="silver", amount=Decimal(12500))
    assert ahead.next_level is not None and ahead.next_level.key == "gold"
    assert ahead.needed == Decimal(7500)
    assert project(scheme(), current="gold", amount=Decimal(0)).next_level is None


@pytest.mark.parametrize(
    ("tiers", "field"),
    [([{"key": "a", "threshold": "5"}], "levels.tiers"),
     ([{"key": "a", "threshold": "0"}, {"key": "b", "threshold": "0"}], "levels.tiers"),
     ([{"key": "a", "threshold": "0", "max_share_percent": "120"}],
      "levels.tiers.0.max_share_percent"),
     ([{"key": "a", "threshold": "0", "price_points": 100}], "levels.tiers.0")],
)  # fmt: skip
def test_settings_refuse_a_lowest_level_above_0_and_equal_thresholds(
    tiers: list[dict[str, object]], field: str
) -> None:
    """The lowest level starts at 0, thresholds differ, benefits are in range."""
    with pytest.raises(ValidationError) as caught:
        scheme_from_settings({"tiers": tiers})
    assert caught.value.field == field


def test_discount_applies_to_named_categories_only() -> None:
    """10% on shoes: 200.00 of shoes and 100.00 of other goods give 20.00."""
    gold = scheme().levels[2]
    lines = [(Decimal("200.00"), "p1", "shoes"), (Decimal("100.00"), "p2", "hats")]
    assert discount_amount(gold, lines) == Decimal("20")


def test_level_multiplier_feeds_the_program_definition() -> None:
    """A level's multiplier is the program's multiplier for its members."""
    program = definition_from_settings(
        {"currency": "EUR", "levels": {"tiers": TIERS}}, key="main", name="Main"
    )
    view = CustomerView(id="c1", level="gold")
    assert program.multiplier_for(view) == Decimal("1.5")


def test_windows_start_12_months_back_or_on_1_january() -> None:
    """Rolling: ``days`` before; calendar year: 1 January; lifetime: no start."""
    assert scheme(period="rolling", days=365).window_start(NOW) == NOW - timedelta(days=365)
    assert scheme(period="calendar_year").window_start(NOW) == datetime(2026, 1, 1, tzinfo=UTC)
    assert scheme().window_start(NOW) is None


def test_a_calendar_year_starts_on_1_january_where_the_merchant_is() -> None:
    """In Tokyo (UTC+9) 2027 starts at 15:00 UTC on 31 December 2026."""
    tokyo = replace(scheme(period="calendar_year", downgrade="review"), timezone="Asia/Tokyo")
    new_year = datetime(2026, 12, 31, 15, tzinfo=UTC)
    assert tokyo.window_start(new_year) == new_year
    assert tokyo.window_start(new_year - timedelta(seconds=1)) == datetime(
        2025, 12, 31, 15, tzinfo=UTC
    )
    assert review_date(tokyo, NOW) == new_year
