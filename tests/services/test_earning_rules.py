"""Earning by program against a real database: entries, breakdowns, reversals, limits.

The same scenarios run through the signed webhook in ``test_earning_rules_webhooks.py``;
these tests reach the corners (reversal policies, pending points, rates) directly.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import ValidationError
from loyalty_plugin.domain.rules import InvoiceView, LineView
from loyalty_plugin.models import Account, InvoiceEarning, LedgerEntry, Lot
from loyalty_plugin.services.earning import by_program as earning
from loyalty_plugin.services.earning.programs import create_program, update_program
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.integrity import verify_ledger
from loyalty_plugin.services.transaction import run_in_transaction

TEN = {"kind": "per_amount", "points": "1", "per": "10"}


@pytest.fixture
def program(session: Session, now: datetime) -> Callable[..., Any]:
    """Create an active program of merchant ``shop`` (default: 1 point per 10.00)."""

    def make(key: str = "main", merchant_id: str = "shop", **definition: Any) -> Any:
        body = {"key": key, "name": key.title(), "status": "active", "rules": [TEN]}
        created = create_program(
            session,
            merchant_id=merchant_id,
            definition=body | definition,
            now=now - timedelta(days=1),
            actor="test",
        )
        session.commit()
        return created

    return make


def bill(invoice_id: str = "INV-1", *lines: LineView, **more: Any) -> InvoiceView:
    lines = lines or (LineView(id="L1", qty=D(1), amount=D("1150.00")),)
    total = more.pop("total", sum((line.amount for line in lines), D(0)))
    return InvoiceView(id=invoice_id, currency="EUR", total=D(total), lines=lines, **more)


def pay(session: Session, account: Account, invoice: InvoiceView, now: datetime, **kw: Any):
    return run_in_transaction(
        session,
        lambda s: earning.earn_on_invoice(
            s,
            merchant_id=account.merchant_id,
            customer=account.customer,
            invoice=invoice,
            now=now,
            actor="test",
            paid_in_full=kw.pop("paid_in_full", True),
            **kw,
        ),
    )


def refund(session: Session, account: Account, refund_id: str, amount: str, now: datetime, **kw):
    return run_in_transaction(
        session,
        lambda s: earning.refund_invoice(
            s,
            merchant_id=account.merchant_id,
            invoice_id=kw.pop("invoice_id", "INV-1"),
            refund_id=refund_id,
            amount=D(amount),
            now=now,
            actor="test",
            **kw,
        ),
    )


def cancel(session: Session, account: Account, invoice_id: str, now: datetime):
    return run_in_transaction(
        session,
        lambda s: earning.cancel_invoice(
            s, merchant_id=account.merchant_id, invoice_id=invoice_id, now=now, actor="test"
        ),
    )


def balance(session: Session, account: Account) -> int:
    session.expire_all()
    return session.get(Account, account.id).balance


@pytest.mark.parametrize(("rounding", "first", "second"), [("down", 58, 57), ("up", 57, 58)])
def test_115_points_on_1150_and_half_refunds_reverse_by_the_rounding(
    session: Session, make_account, program, now: datetime, rounding: str, first: int, second: int
) -> None:
    """1 per 10 on 1,150.00 is 115; refunds of 575.00 reverse 58 then 57 (or 57 then 58)."""
    account = make_account()
    program(earning={"rounding": rounding})
    assert pay(session, account, bill(), now).points_earned == 115
    assert refund(session, account, "R1", "575.00", now).points_reversed == first
    assert refund(session, account, "R1", "575.00", now).points_reversed == 0
    assert refund(session, account, "R2", "575.00", now).points_reversed == second
    assert refund(session, account, "R3", "575.00", now).points_reversed == 0
    assert balance(session, account) == 0
    assert verify_ledger(session) == []


def test_every_earn_entry_records_its_version_rule_and_lines(
    session: Session, make_account, program, now: datetime
) -> None:
    """The entry's details say which program version and rule gave what on which line."""
    account = make_account()
    created = program()
    outcome = pay(session, account, bill(), now)
    entry = session.get(LedgerEntry, outcome.entry_ids[0])
    assert entry.details["program"] == {
        "id": created.id,
        "key": "main",
        "name": "Main",
        "version": 1,
        "version_id": created.versions[0].id,
    }
    assert entry.details["breakdown"] == [
        {
            "rule": "per_amount",
            "kind": "per_amount",
            "line": "L1",
            "base": "1150.00",
            "exact": "115.00",
            "points": 115,
            "note": None,
        }
    ]
    assert (entry.amount, entry.currency, entry.reference_id) == (D("1150.00"), "EUR", "INV-1")


def test_editing_a_rule_after_an_invoice_leaves_its_points_and_breakdown_alone(
    session: Session, make_account, program, now: datetime
) -> None:
    """Version 2 earns on new invoices; the old invoice keeps version 1, refunds included."""
    account = make_account()
    program()
    first = pay(session, account, bill("INV-1"), now)
    before = session.get(LedgerEntry, first.entry_ids[0]).details
    update_program(
        session,
        merchant_id="shop",
        key="main",
        changes={"rules": [{**TEN, "points": "3"}]},
        now=now,
        actor="test",
    )
    session.commit()
    later = now + timedelta(hours=1)
    assert pay(session, account, bill("INV-2"), later).points_earned == 345
    assert refund(session, account, "R1", "1150.00", later).points_reversed == 115
    session.expire_all()
    assert session.get(LedgerEntry, first.entry_ids[0]).details == before
    assert before["program"]["version"] == 1


def test_paying_twice_earns_once(session: Session, make_account, program, now: datetime) -> None:
    """invoice.paid delivered again (or under another id) earns nothing more."""
    account = make_account()
    program()
    assert pay(session, account, bill(), now).points_earned == 115
    assert pay(session, account, bill(), now).points_earned == 0
    assert balance(session, account) == 115


def test_the_transaction_fee_earns_with_that_seller_only(
    session: Session, make_account, program, now: datetime
) -> None:
    """220 points on a 220 fee with seller A; the same customer has 0 with seller B."""
    at_a = make_account("seller-a", "buyer")
    at_b = make_account("seller-b", "buyer")
    program(merchant_id="seller-a", rules=[{"kind": "transaction_fee", "points": "1", "per": "1"}])
    program(merchant_id="seller-b")
    order = bill("ORD-1", LineView(id="1", qty=D(1), amount=D("10000")), transaction_fee=D("220"))
    assert pay(session, at_a, order, now).points_earned == 220
    assert (balance(session, at_a), balance(session, at_b)) == (220, 0)
    assert ledger.spendable_points(session, at_b.id, now) == 0


def test_stacking_programs_add_up_and_best_one_wins_keeps_one(
    session: Session, make_account, program, now: datetime
) -> None:
    """Progressive (200 on 1,500) and segmented (80): 280 stacked, 200 as best-one-wins."""
    progressive = {
        "kind": "progressive",
        "brackets": [{"up_to": "1000", "points": "1", "per": "10"}, {"points": "2", "per": "10"}],
    }
    segmented = {"kind": "segmented", "brackets": [{"from": "1000", "to": None, "points": 80}]}
    account = make_account()
    program("prog", rules=[progressive])
    program("seg", rules=[segmented])
    line = LineView(id="1", qty=D(1), amount=D("1500"))
    assert pay(session, account, bill("INV-1", line), now).points_earned == 280
    for key in ("prog", "seg"):
        update_program(
            session,
            merchant_id="shop",
            key=key,
            changes={"combination": "best"},
            now=now,
            actor="test",
        )
    session.commit()
    outcome = pay(session, account, bill("INV-2", line), now + timedelta(minutes=1))
    assert (outcome.points_earned, [p["program"] for p in outcome.programs]) == (200, ["prog"])


def test_gift_cards_earn_nothing_and_tax_is_left_out(
    session: Session, make_account, program, now: datetime
) -> None:
    """A gift-card line and the tax earn no points by default."""
    account = make_account()
    program()
    order = bill(
        "INV-1",
        LineView(id="gc", qty=D(1), amount=D("500"), tags=frozenset({"gift_card"})),
        LineView(id="shirt", qty=D(1), amount=D("100")),
        total="720",
        tax_total=D("120"),
    )
    assert pay(session, account, order, now).points_earned == 10


def test_a_refund_by_line_reverses_that_line(
    session: Session, make_account, program, now: datetime
) -> None:
    """Returning one of two units of a 200.00 line takes back 10 of its 20 points."""
    account = make_account()
    program()
    order = bill(
        "INV-1",
        LineView(id="a", qty=D(2), amount=D("200")),
        LineView(id="b", qty=D(1), amount=D("300")),
    )
    pay(session, account, order, now)
    assert refund(session, account, "R1", "100", now, lines={"a": D(1)}).points_reversed == 10
    with pytest.raises(ValidationError, match="no line 'zz'"):
        refund(session, account, "R2", "1", now, lines={"zz": D(1)})


def test_earning_on_each_payment_never_goes_beyond_the_total(
    session: Session, make_account, program, now: datetime
) -> None:
    """With earn_on each_payment: 57 on the first half, 58 on the rest, nothing more."""
    account = make_account()
    program(earn_on="each_payment")
    half = earning.PaymentSeen(id="P1", amount=D("575.00"))
    rest = earning.PaymentSeen(id="P2", amount=D("700.00"))
    assert pay(session, account, bill(), now, paid_in_full=False, payment=half).points_earned == 57
    assert pay(session, account, bill(), now, paid_in_full=False, payment=half).points_earned == 0
    assert pay(session, account, bill(), now, paid_in_full=False, payment=rest).points_earned == 58
    assert pay(session, account, bill(), now).points_earned == 0
    assert balance(session, account) == 115


def test_a_full_payment_program_waits_for_the_invoice_to_be_paid(
    session: Session, make_account, program, now: datetime
) -> None:
    """A payment earns nothing under a program that earns on full payment."""
    account = make_account()
    program()
    part = earning.PaymentSeen(id="P1", amount=D("100"))
    assert pay(session, account, bill(), now, paid_in_full=False, payment=part).points_earned == 0
    assert pay(session, account, bill(), now).points_earned == 115


def test_pending_points_wait_out_the_return_window(
    session: Session, make_account, program, now: datetime
) -> None:
    """With 14 pending days the points show as pending, then become spendable."""
    account = make_account()
    program(pending_days=14)
    outcome = pay(session, account, bill(), now)
    lot = session.scalars(select(Lot).where(Lot.entry_id == outcome.entry_ids[0])).one()
    assert lot.available_from == now + timedelta(days=14)
    assert ledger.pending_points(session, account.id, now) == 115
    assert ledger.spendable_points(session, account.id, now) == 0
    assert ledger.spendable_points(session, account.id, now + timedelta(days=14)) == 115


def test_an_invoice_in_another_currency_stores_the_rate_used(
    session: Session, make_account, program, now: datetime
) -> None:
    """1,000 USD at the invoice's 0.9 earns like 900 EUR; the entry keeps the rate."""
    account = make_account()
    program()
    order = InvoiceView(
        id="US-1",
        currency="USD",
        total=D("1000"),
        exchange_rate=D("0.9"),
        lines=(LineView(id="1", qty=D(1), amount=D("1000")),),
    )
    outcome = pay(session, account, order, now)
    entry = session.get(LedgerEntry, outcome.entry_ids[0])
    assert outcome.points_earned == 90
    assert entry.details["exchange_rate"] == {
        "rate": "0.9",
        "source": "invoice exchange_rate",
        "from": "USD",
        "to": "EUR",
    }


def test_the_first_purchase_bonus_comes_once(
    session: Session, make_account, program, now: datetime
) -> None:
    """Only the customer's first earning invoice gets the bonus."""
    account = make_account()
    program(rules=[{"kind": "first_purchase", "points": 100}])
    assert pay(session, account, bill("INV-1"), now).points_earned == 100
    assert pay(session, account, bill("INV-2"), now).points_earned == 0


# -- reversal policies ----------------------------------------------------------------------


def _spent_most(session: Session, make_account, program, now: datetime, policy: str) -> Account:
    """50 points from an older invoice, 100 from INV-1, then 130 spent (most of INV-1)."""
    account = make_account()
    program(reversal=policy, rules=[{"kind": "per_order", "points": 100}])
    pay(session, account, bill("INV-1"), now)
    run_in_transaction(
        session,
        lambda s: ledger.earn(s, account_id=account.id, points=50, now=now, actor="test"),
    )
    run_in_transaction(
        session,
        lambda s: ledger.spend(s, account_id=account.id, points=130, now=now, actor="test"),
    )
    return account


def test_reverse_remaining_takes_back_only_what_is_left(
    session: Session, make_account, program, now: datetime
) -> None:
    """INV-1's lot has 0 left of its 100 after the spend: nothing is taken, 100 forgiven."""
    account = _spent_most(session, make_account, program, now, "reverse_remaining")
    assert cancel(session, account, "INV-1", now).points_reversed == 0
    assert balance(session, account) == 20
    assert verify_ledger(session) == []


def test_other_lots_takes_the_rest_from_other_points(
    session: Session, make_account, program, now: datetime
) -> None:
    """The 20 points left elsewhere are taken; the other 80 cannot be and are forgiven."""
    account = _spent_most(session, make_account, program, now, "other_lots")
    assert cancel(session, account, "INV-1", now).points_reversed == 20
    assert balance(session, account) == 0
    assert verify_ledger(session) == []


def test_negative_balance_owes_the_rest_and_future_points_repay_it(
    session: Session, make_account, program, now: datetime
) -> None:
    """All 100 are reversed: 20 taken, 80 owed; the next 100 earned repay the 80 first."""
    account = _spent_most(session, make_account, program, now, "negative_balance")
    assert cancel(session, account, "INV-1", now).points_reversed == 100
    session.expire_all()
    owing = session.get(Account, account.id)
    assert (owing.balance, owing.debt) == (-80, 80)
    assert verify_ledger(session) == []
    pay(session, account, bill("INV-2"), now + timedelta(minutes=1))
    session.expire_all()
    repaid = session.get(Account, account.id)
    assert (repaid.balance, repaid.debt) == (20, 0)
    assert ledger.spendable_points(session, account.id, now + timedelta(minutes=1)) == 20
    assert verify_ledger(session) == []


def test_a_cancellation_reverses_everything_once(
    session: Session, make_account, program, now: datetime
) -> None:
    """Cancelling after a partial refund takes back the rest; a second cancel does nothing."""
    account = make_account()
    program()
    pay(session, account, bill(), now)
    refund(session, account, "R1", "575.00", now)
    assert cancel(session, account, "INV-1", now).points_reversed == 57
    assert cancel(session, account, "INV-1", now).points_reversed == 0
    assert pay(session, account, bill(), now).points_earned == 0
    row = session.scalars(select(InvoiceEarning)).one()
    assert (row.earned, row.reversed) == (115, 115)


# -- registration, birthday, custom events --------------------------------------------------


def event(session: Session, account: Account, trigger: str, now: datetime, **kw: Any):
    return run_in_transaction(
        session,
        lambda s: earning.earn_on_event(
            s,
            merchant_id=account.merchant_id,
            customer=account.customer,
            trigger=trigger,
            now=now,
            actor="test",
            reference=kw.pop("reference", f"{trigger}-{now.isoformat()}"),
            **kw,
        ),
    )


def test_a_birthday_bonus_sent_twice_in_a_year_earns_once(
    session: Session, make_account, program, now: datetime
) -> None:
    """Once a year: the second birthday of 2026 earns nothing, 2027's earns again."""
    account = make_account()
    program(rules=[{"kind": "birthday", "points": 100}])
    first = event(session, account, "birthday", now, day=date(2026, 3, 5), reference="b1")
    again = event(session, account, "birthday", now, day=date(2026, 3, 5), reference="b2")
    next_year = event(session, account, "birthday", now, day=date(2027, 3, 5), reference="b3")
    assert [first.points_earned, again.points_earned, next_year.points_earned] == [100, 0, 100]


def test_custom_events_earn_within_their_limit(
    session: Session, make_account, program, now: datetime
) -> None:
    """A review earns 30, at most twice a month, and only with 5 stars."""
    account = make_account()
    rule = {
        "kind": "custom_event",
        "name": "review",
        "points": 30,
        "when": {"stars": 5},
        "limit": {"count": 2, "per": "month"},
    }
    program(rules=[rule])

    def review(stars: int, day: date) -> int:
        return event(
            session, account, "custom", now, name="review", properties={"stars": stars}, day=day
        ).points_earned

    march, april = date(2026, 3, 1), date(2026, 4, 1)
    assert [review(5, march), review(4, march), review(5, march), review(5, march)] == [
        30,
        0,
        30,
        0,
    ]
    assert review(5, april) == 30
    assert verify_ledger(session) == []


def test_registration_earns_once_ever(
    session: Session, make_account, program, now: datetime
) -> None:
    """A second registration of the same customer earns nothing."""
    account = make_account()
    program(rules=[{"kind": "registration", "points": 50}])
    assert event(session, account, "registration", now).points_earned == 50
    later = now + timedelta(days=400)
    assert event(session, account, "registration", later).points_earned == 0


def test_eight_racing_birthdays_and_payments_earn_once(
    session: Session, make_account, program, now: datetime, database_url: str
) -> None:
    """Concurrent deliveries on separate connections: one birthday bonus, one invoice earn."""
    from tests.conftest import make_engine
    from tests.services.test_concurrency import race

    account = make_account()
    program(rules=[TEN, {"kind": "birthday", "points": 100}])
    wide = make_engine(database_url, pool_size=10)
    try:

        def both(s: Session) -> int:
            customer = s.get(Account, account.id).customer
            birthday = earning.earn_on_event(
                s, merchant_id="shop", customer=customer, trigger="birthday", now=now,
                actor="race", reference=f"b-{id(s)}", day=date(2026, 3, 5),
            )  # fmt: skip
            paid = earning.earn_on_invoice(
                s, merchant_id="shop", customer=customer, invoice=bill(), now=now,
                actor="race", paid_in_full=True,
            )  # fmt: skip
            return birthday.points_earned + paid.points_earned

        results = race(wide, 8, both)
    finally:
        wide.dispose()
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(results) == 215  # type: ignore[arg-type]
    assert balance(session, account) == 215
    assert verify_ledger(session) == []
