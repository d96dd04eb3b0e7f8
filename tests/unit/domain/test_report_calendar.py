"""The reports' calendar: periods, weeks in a time zone, age bands, series of entries."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from loyalty_plugin.domain.errors import ValidationError
from loyalty_plugin.domain.ledger import EntryKind
from loyalty_plugin.domain.reports import (
    SERIES_OF_KIND,
    Period,
    local_midnight,
    month_starts,
    period,
    ratio,
    series_of,
    shown_points,
)


def test_weeks_start_on_monday_and_are_cut_at_the_period() -> None:
    """A Wednesday-to-Tuesday period touches two weeks; the bounds cut at its own ends."""
    span = Period(first=date(2026, 3, 25), last=date(2026, 3, 31), zone="Europe/Madrid")
    assert span.weeks() == [date(2026, 3, 23), date(2026, 3, 30)]
    assert span.week_bounds() == [
        datetime(2026, 3, 24, 23, tzinfo=UTC),  # CET, +1
        datetime(2026, 3, 29, 22, tzinfo=UTC),  # CEST, +2
        datetime(2026, 3, 31, 22, tzinfo=UTC),
    ]


def test_a_day_whose_midnight_does_not_exist_starts_at_one() -> None:
    """São Paulo skipped from 00:00 to 01:00 on 4 November 2018."""
    assert local_midnight(date(2018, 11, 4), "America/Sao_Paulo") == datetime(
        2018, 11, 4, 3, tzinfo=UTC
    )


def test_default_period_and_its_limits() -> None:
    """Twelve weeks to today by default; backwards or over two years is refused."""
    span = period(first=None, last=None, today=date(2026, 4, 10), zone="UTC")
    assert (span.first, span.last, len(span.weeks())) == (date(2026, 1, 19), date(2026, 4, 10), 12)
    with pytest.raises(ValidationError, match="after the last"):
        period(first=date(2026, 2, 1), last=date(2026, 1, 1), today=date(2026, 4, 10), zone="UTC")
    with pytest.raises(ValidationError, match="at most"):
        period(first=date(2020, 1, 1), last=None, today=date(2026, 4, 10), zone="UTC")
    with pytest.raises(ValidationError, match="time zone"):
        period(first=None, last=None, today=date(2026, 4, 10), zone="Mars/Base")


def test_expiry_months_start_with_the_merchants_current_month() -> None:
    """At 23:30 UTC on 31 March it is already April in Madrid."""
    starts = month_starts(datetime(2026, 3, 31, 23, 30, tzinfo=UTC), "Europe/Madrid")
    assert starts[0] == date(2026, 4, 1) and starts[-1] == date(2027, 4, 1) and len(starts) == 13


@pytest.mark.parametrize(
    ("kind", "credit", "series"),
    [("earn", True, "issued"), ("migration", True, "issued"), ("adjust", True, "issued"),
     ("adjust", False, "corrections"), ("hold", False, "redeemed"),
     ("release", True, "redeemed"), ("expire", False, "expired"),
     ("reverse", False, "corrections"), ("transfer_in", True, "corrections"),
     ("merge_out", False, "corrections")],
)  # fmt: skip
def test_each_kind_counts_in_one_series(kind: str, credit: bool, series: str) -> None:
    """Entries are classified by kind, and adjustments by sign."""
    assert series_of(kind, credit) == series


def test_every_kind_has_a_series() -> None:
    """A kind added to the ledger is classified on purpose, not by the fallback."""
    assert set(EntryKind) - {EntryKind.ADJUST} == set(SERIES_OF_KIND)


def test_redeemed_and_expired_are_shown_positive_and_ratios_rounded() -> None:
    """Debits show as positive numbers; a ratio over nothing is None."""
    assert (shown_points("redeemed", -300), shown_points("corrections", -20)) == (300, -20)
    assert (ratio(1, 3), ratio(5, 0)) == (Decimal("0.3333"), None)


def test_every_entry_kind_counts_in_a_dashboard_series() -> None:
    """A new entry kind must be placed in a series, or the dashboard cannot count it."""
    from loyalty_plugin.domain.ledger import EntryKind
    from loyalty_plugin.domain.reports import SERIES, series_of

    for kind in EntryKind:
        assert series_of(kind, True) in SERIES
        assert series_of(kind, False) in SERIES
