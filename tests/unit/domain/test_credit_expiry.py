"""Store credit expiry dates (#19): N months after earning, at the end of that day in the
merchant's zone; never by default."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from loyalty_plugin.domain.credit import check_credit_expiry, credit_expiry_date
from loyalty_plugin.domain.errors import ValidationError

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("earned", "months", "expires"),
    [
        # Valid through 31 January 2027 in Berlin: expires at its midnight (23:00 UTC).
        (datetime(2026, 1, 31, 10, tzinfo=UTC), 12, datetime(2027, 1, 31, 23, tzinfo=UTC)),
        # 31 January + 1 month: the last day of February.
        (datetime(2026, 1, 31, 10, tzinfo=UTC), 1, datetime(2026, 2, 28, 23, tzinfo=UTC)),
        # Earned late on 30 November UTC is 1 December in Berlin; summer time in June.
        (datetime(2026, 11, 30, 23, 30, tzinfo=UTC), 6, datetime(2027, 6, 1, 22, tzinfo=UTC)),
        (datetime(2026, 12, 15, tzinfo=UTC), 120, datetime(2036, 12, 15, 23, tzinfo=UTC)),
    ],
)
def test_credit_lasts_whole_months_in_the_merchant_zone(earned, months, expires) -> None:
    """The same calendar day ``months`` later (or the month's end) is the last valid day."""
    assert credit_expiry_date(months, earned, BERLIN) == expires


def test_credit_without_a_policy_never_expires() -> None:
    """``None`` months: no expiry date."""
    assert credit_expiry_date(None, datetime(2026, 1, 1, tzinfo=UTC), BERLIN) is None


@pytest.mark.parametrize("bad", [0, -1, 121, 1.5, "12", True])
def test_a_credit_expiry_outside_1_to_120_months_is_refused(bad) -> None:
    """Whole months from 1 to 120, or ``None``; the refusal names the setting."""
    with pytest.raises(ValidationError) as refused:
        check_credit_expiry(bad)
    assert refused.value.field == "credit_expiry_months"
    assert check_credit_expiry(None) is None and check_credit_expiry(120) == 120
