"""Store credit expiry (#19): the set-based job takes credit lots past their date as it
takes point lots, each in its own unit, once."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from loyalty_plugin.domain.events import CreditExpired, PointsExpired
from loyalty_plugin.domain.ledger import EntryKind
from loyalty_plugin.jobs.expiry import run_date_expiry
from loyalty_plugin.models import Account, LedgerEntry, Lot
from loyalty_plugin.services.events import attach_sink
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger import expiry
from loyalty_plugin.services.ledger.accounts import open_account
from loyalty_plugin.services.ledger.integrity import verify_ledger
from tests.expiry.conftest import EARNED
from tests.expiry.test_batch_expiry import Recorder

DUE = EARNED + timedelta(days=30)
LATER = DUE + timedelta(days=1)


def credit_of(session, account: Account, unit: str = "EUR") -> Account:
    """The customer's credit account of ``unit`` beside their points ``account``."""
    return open_account(
        session, merchant_id=account.merchant_id, customer_id=account.customer_id, unit=unit
    )


def test_points_and_credit_expiring_the_same_day_expire_apart(session, make_account, give) -> None:
    """One customer, 100 points and €4.20 due the same day, €1.00 later: two entries, one
    per unit, each with its own balance; a second run changes nothing; verify is clean."""
    points = make_account("shop", "ana")
    credit = credit_of(session, points)
    usd = credit_of(session, points, "USD")
    give(points, 100, days=30)
    give(points, 7)
    give(credit, 420, days=30)
    give(credit, 100, days=90)
    give(usd, 5, days=10)
    recorder = Recorder()
    attach_sink(session, recorder)
    totals = run_date_expiry(session, now=LATER, batch_size=2)
    assert (totals.accounts, totals.lots, totals.points) == (3, 3, 100)
    assert totals.credit == {"EUR": 420, "USD": 5}
    session.expire_all()
    assert [session.get(Account, a.id).balance for a in (points, credit, usd)] == [7, 100, 0]
    assert session.get(Account, credit.id).lifetime_expired == 420
    rows = session.execute(
        select(LedgerEntry.unit, LedgerEntry.points, LedgerEntry.balance_after, LedgerEntry.reason)
        .where(LedgerEntry.kind == EntryKind.EXPIRE)
        .order_by(LedgerEntry.account_id)
    ).all()
    assert sorted(rows) == [
        ("EUR", -420, 100, "store credit reached its expiry date"),
        ("USD", -5, 0, "store credit reached its expiry date"),
        ("points", -100, 7, "points reached their expiry date"),
    ]
    events = {type(e).__name__: e for e in recorder.events if e.customer_id == "ana"}
    assert isinstance(events["PointsExpired"], PointsExpired)
    assert (events["PointsExpired"].points, events["PointsExpired"].balance) == (100, 7)
    eur = [e for e in recorder.events if isinstance(e, CreditExpired) and e.currency == "EUR"]
    assert [(e.amount, e.balance, e.type) for e in eur] == [("4.20", "1.00", "credit.expired")]
    state = (select(LedgerEntry.id), select(Lot.id, Lot.remaining).order_by(Lot.id))
    before = [session.execute(query).all() for query in state]
    again = run_date_expiry(session, now=LATER + timedelta(hours=1))
    assert (again.lots, again.credit) == (0, {})
    assert [session.execute(query).all() for query in state] == before
    assert verify_ledger(session) == []


def test_the_preview_and_inactivity_leave_credit_alone(session, make_account, give) -> None:
    """The preview counts points only; inactivity expiry never takes credit."""
    points = make_account("shop", "ana")
    give(points, 10, days=5)
    give(credit_of(session, points), 999, days=5)
    preview = expiry.preview_expiry(session, merchant_id="shop", at=LATER)
    assert (preview.points, preview.lots) == (10, 1)
    assert expiry.count_due_lots(session, now=LATER, merchant_id="shop") == 2
    cutoff = LATER + timedelta(days=400)
    batch = expiry.expire_inactive_batch(
        session, merchant_id="shop", cutoff=cutoff, now=cutoff + timedelta(days=1)
    )
    session.commit()
    assert (batch.points, batch.credit) == (10, {})
    assert session.scalars(
        select(LedgerEntry.unit).where(LedgerEntry.kind == EntryKind.EXPIRE)
    ).all() == ["points"]


def test_many_credit_accounts_expire_in_one_batch_without_a_loop_per_row(
    session, make_account, give
) -> None:
    """Forty customers' credit lots go in one batch: one entry each, each lot at 0."""
    accounts = [credit_of(session, make_account("shop")) for _ in range(40)]
    for n, account in enumerate(accounts):
        give(account, 100 + n, days=10)
        give(account, 1, days=20)
    batch = expiry.expire_due_batch(session, now=LATER, merchant_id="shop")
    session.commit()
    assert (batch.accounts, batch.lots, batch.points) == (40, 80, 0)
    assert batch.credit == {"EUR": sum(101 + n for n in range(40))}
    left = session.scalars(select(Lot.remaining).where(Lot.unit == "EUR")).all()
    assert left == [0] * 80
    assert verify_ledger(session) == []


def test_credit_returned_to_an_expired_lot_expires_as_credit(session, make_account, give) -> None:
    """A spend of credit reversed after its lot's date: the one-account expiry writes the
    credit wording and announces ``credit.expired`` in money, never ``points.expired``."""
    credit = credit_of(session, make_account("shop", "ana"))
    give(credit, 500, days=10)
    spent = ledger.spend(
        session, account_id=credit.id, points=300, now=EARNED + timedelta(days=1), actor="t"
    )
    session.commit()
    recorder = Recorder()
    attach_sink(session, recorder)
    ledger.reverse(session, entry_id=spent.id, points=300, now=LATER, actor="t")
    session.commit()
    expired = session.scalars(select(LedgerEntry).where(LedgerEntry.kind == EntryKind.EXPIRE)).one()
    assert (expired.unit, expired.points) == ("EUR", -500)
    assert expired.reason == "store credit reached its expiry date"
    assert [(type(e).__name__, e.amount, e.balance) for e in recorder.events] == [
        ("CreditExpired", "5.00", "0.00")
    ]
    assert verify_ledger(session) == []
