"""The dashboard's store credit liability (#19): per currency, at face value, apart from points."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.accounts import open_account
from loyalty_plugin.services.reports.credit import outstanding_credit
from tests.reports.data import MERCHANT, NOW
from tests.reports.test_services import report


def credit(session: Session, customer_id: int, unit: str) -> int:
    return open_account(session, merchant_id=MERCHANT, customer_id=customer_id, unit=unit).id


def test_a_points_only_merchant_shows_no_credit(session, shop) -> None:
    """No credit account: no credit figure at all (the page shows no credit table)."""
    assert report(session).credit == []


def test_outstanding_credit_per_currency_at_face_value(session, shop) -> None:
    """What is left in credit lots not past expiry, per currency in its own digits;
    the points liability stays as it was."""
    points_before = report(session).liability
    when = NOW - timedelta(days=10)
    euros = credit(session, shop["ana"].customer_id, "EUR")
    ledger.earn(session, account_id=euros, points=1000, now=when, actor="t")
    ledger.earn(session, account_id=euros, points=300, now=when, actor="t",
                expires_at=NOW - timedelta(days=1))  # fmt: skip
    # FIFO by expiry: the spend draws on the expiring lot, whose 50 cents left are overdue.
    ledger.spend(session, account_id=euros, points=250, now=when + timedelta(days=1), actor="t")
    more = credit(session, shop["ben"].customer_id, "EUR")
    ledger.earn(session, account_id=more, points=1234, now=when, actor="t",
                expires_at=NOW + timedelta(days=30))  # fmt: skip
    yen = credit(session, shop["cat"].customer_id, "JPY")
    ledger.earn(session, account_id=yen, points=500, now=when, actor="t")
    session.commit()
    found = report(session)
    assert [(c.currency, c.amount, c.lots) for c in found.credit] == [
        ("EUR", Decimal("22.34"), 2),
        ("JPY", Decimal("500"), 1),
    ]
    assert found.liability == points_before
    later = outstanding_credit(session, merchant_id=MERCHANT, now=NOW + timedelta(days=31))
    assert [(c.currency, c.amount) for c in later] == [
        ("EUR", Decimal("10.00")),
        ("JPY", Decimal("500")),
    ]
