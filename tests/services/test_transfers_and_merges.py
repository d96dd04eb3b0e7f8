"""Transfers between customers and customer merges keep every ledger invariant."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import (
    IdempotencyConflict,
    InsufficientPoints,
    InvalidOperation,
    LoyaltyError,
)
from loyalty_plugin.domain.ledger import EntryKind
from loyalty_plugin.models import (
    Account,
    AuditEntry,
    Customer,
    LedgerEntry,
    Lot,
    Redemption,
    RedemptionStatus,
)
from loyalty_plugin.services.customers.merge import merge_customers, plan_merge
from loyalty_plugin.services.customers.transfers import describe, transfer_points
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.accounts import find_customer, open_account
from loyalty_plugin.services.ledger.integrity import verify_ledger
from loyalty_plugin.services.transaction import run_in_transaction
from tests.conftest import make_engine


def lots_of(session: Session, account_id: int) -> list[tuple[int, object, object]]:
    """The account's open lots as (remaining, earned, expires), soonest expiry first."""
    rows = session.execute(
        select(Lot.remaining, Lot.earned_at, Lot.expires_at).where(
            Lot.account_id == account_id, Lot.remaining > 0
        )
    )
    return sorted((tuple(row) for row in rows), key=lambda r: (r[2] is None, r[2] or 0, r[0]))


def balance(session: Session, account: Account) -> int:
    session.refresh(account)
    return account.balance


@pytest.fixture
def pair(session, make_account, now):
    """Ana (c1) with 30 points expiring in 10 days, 50 in 30 days, 20 never; Ben (c2) none."""
    ana, ben = make_account(), make_account()
    for points, days in ((30, 10), (50, 30), (20, None)):
        ledger.earn(
            session,
            account_id=ana.id,
            points=points,
            now=now - timedelta(days=5),
            actor="t",
            expires_at=now + timedelta(days=days) if days else None,
        )
    session.commit()
    return ana, ben


def give(session, now, points=60, key="t-1", reason="birthday present", **extra):
    return transfer_points(
        session,
        merchant_id="shop",
        from_customer_id=extra.pop("sender", "c1"),
        to_customer_id=extra.pop("receiver", "c2"),
        points=points,
        reason=reason,
        now=now,
        actor="staff:1 Ana",
        idempotency_key=key,
    )


def test_transfer_keeps_expiry_and_earn_dates(session, pair, now) -> None:
    """60 points: the 30 expiring first, then 30 of the 50; Ben's lots carry their dates."""
    ana, ben = pair
    result = give(session, now)
    session.commit()
    earned = now - timedelta(days=5)
    assert lots_of(session, ben.id) == [
        (30, earned, now + timedelta(days=10)),
        (30, earned, now + timedelta(days=30)),
    ]
    assert lots_of(session, ana.id) == [(20, earned, now + timedelta(days=30)), (20, earned, None)]
    assert (balance(session, ana), balance(session, ben)) == (40, 60)
    assert result.sent.kind == EntryKind.TRANSFER and result.sent.points == -60
    assert [e.kind for e in result.received] == [EntryKind.TRANSFER_IN] * 2
    assert {e.reference_id for e in result.received} == {str(result.sent.id)}
    assert result.sent.details["transfer"]["to_customer_id"] == "c2"
    assert describe(session, result)["from_customer_id"] == "c1"
    audit = session.scalars(select(AuditEntry)).one()
    assert (audit.action, audit.target_id, audit.after["points"]) == (
        "points.transferred",
        "c1",
        60,
    )
    assert verify_ledger(session) == []


def test_transfer_refuses_more_than_spendable_and_writes_nothing(session, pair, now) -> None:
    """Pending points cannot be given: 100 spendable, 500 pending, 101 asked is refused."""
    ana, _ben = pair
    ledger.earn(
        session,
        account_id=ana.id,
        points=500,
        now=now,
        actor="t",
        available_from=now + timedelta(1),
    )
    session.commit()
    count = session.scalar(select(sa.func.count()).select_from(LedgerEntry))
    with pytest.raises(InsufficientPoints) as refused:
        give(session, now, points=101)
    session.rollback()
    assert refused.value.available == 100
    assert session.scalar(select(sa.func.count()).select_from(LedgerEntry)) == count
    assert session.scalar(select(sa.func.count()).select_from(AuditEntry)) == 0


def test_transfer_is_idempotent_by_key(session, pair, now) -> None:
    """The same key and body again answers the first transfer; another body is refused."""
    ana, ben = pair
    first = give(session, now)
    session.commit()
    again = give(session, now)
    session.commit()
    assert again.replayed and again.sent.id == first.sent.id
    assert [e.id for e in again.received] == [e.id for e in first.received]
    assert (balance(session, ana), balance(session, ben)) == (40, 60)
    with pytest.raises(IdempotencyConflict):
        give(session, now, points=61)
    session.rollback()
    assert session.scalar(select(sa.func.count()).select_from(AuditEntry)) == 1


def test_transfer_refusals_name_the_field(session, pair, now) -> None:
    """To oneself, an unknown customer, no reason, zero points: each refused on its field."""
    cases = [
        ({"receiver": "c1"}, "to_customer_id"),
        ({"receiver": "nobody"}, "to_customer_id"),
        ({"sender": "nobody"}, "from_customer_id"),
        ({"reason": " "}, "reason"),
        ({"points": 0}, "points"),
    ]
    for extra, field in cases:
        with pytest.raises(LoyaltyError) as refused:
            give(session, now, key=f"k-{field}-{len(extra)}", **extra)
        session.rollback()
        assert getattr(refused.value, "field", None) == field, extra


def test_transfer_repays_the_receivers_debt_first(session, pair, now) -> None:
    """Ben owes 25: of 60 received, 25 repay the debt; his balance goes from -25 to 35."""
    _ana, ben = pair
    earned = ledger.earn(session, account_id=ben.id, points=25, now=now, actor="t")
    ledger.spend(session, account_id=ben.id, points=25, now=now, actor="t")
    ledger.reverse(session, entry_id=earned.id, now=now, actor="t", shortfall_as_debt=True)
    session.commit()
    assert (balance(session, ben), ben.debt) == (-25, 25)
    give(session, now)
    session.commit()
    assert (balance(session, ben), ben.debt) == (35, 0)
    assert verify_ledger(session) == []


def test_transfers_cannot_be_reversed(session, pair, now) -> None:
    """Reversing either side would make points twice: a transfer back undoes a transfer."""
    result = give(session, now)
    session.commit()
    for entry in (result.sent, result.received[0]):
        with pytest.raises(InvalidOperation):
            ledger.reverse(session, entry_id=entry.id, now=now, actor="t")
        session.rollback()


# -- merges ----------------------------------------------------------------------------------


def merge(session, now, merged="c1", survivor="c2", **extra):
    return merge_customers(
        session,
        merchant_id="shop",
        customer_id=merged,
        into_customer_id=survivor,
        now=now,
        actor="staff:1 Ana",
        **extra,
    )


def test_merge_moves_lots_with_expiry_and_marks_the_record(session, pair, now) -> None:
    """Ana merged into Ben: her three lots are Ben's, with their dates; she is kept, merged."""
    ana, ben = pair
    ledger.earn(session, account_id=ben.id, points=5, now=now, actor="t")
    session.commit()
    before = lots_of(session, ana.id)
    plan = plan_merge(session, merchant_id="shop", customer_id="c1", into_customer_id="c2", now=now)
    assert (plan.points, plan.lots, plan.debt) == (100, 3, 0)
    result = merge(session, now)
    session.commit()
    assert (result.points, result.lots, result.replayed) == (100, 3, False)
    assert (balance(session, ana), balance(session, ben)) == (0, 105)
    assert set(before) < set(lots_of(session, ben.id))
    anna = session.scalars(select(Customer).where(Customer.host_customer_id == "c1")).one()
    assert anna.merged_into_id == ben.customer_id and anna.merged_at == now
    assert find_customer(session, "shop", "c1").id == ben.customer_id
    kinds = session.scalars(select(LedgerEntry.kind).order_by(LedgerEntry.id.desc()).limit(2))
    assert set(kinds) == {EntryKind.MERGE_OUT, EntryKind.MERGE_IN}
    assert session.scalars(select(AuditEntry.action)).all() == ["customer.merged"]
    assert verify_ledger(session) == []
    again = merge(session, now)
    session.commit()
    assert again.replayed and balance(session, ben) == 105
    assert session.scalar(select(sa.func.count()).select_from(AuditEntry)) == 1


def test_after_a_merge_the_merged_entries_act_on_the_survivor(session, pair, now) -> None:
    """A refund of Ana's earning and the release of her hold, after the merge, hit Ben."""
    ana, ben = pair
    earning = ledger.earn(session, account_id=ana.id, points=40, now=now, actor="t")
    hold = ledger.spend(
        session, account_id=ana.id, points=30, now=now, actor="t", kind=EntryKind.HOLD
    )
    session.commit()
    merge(session, now)
    session.commit()
    assert balance(session, ben) == 110
    ledger.reverse(session, entry_id=earning.id, now=now, actor="t")
    ledger.reverse(session, entry_id=hold.id, now=now, actor="t")
    session.commit()
    assert (balance(session, ana), balance(session, ben)) == (0, 100)
    assert verify_ledger(session) == []


def test_merge_moves_debt_holds_and_refuses_bad_pairs(session, pair, now) -> None:
    """Debt moves with the points and Ben's 10 repay it; self, unknown and chains refused."""
    ana, ben = pair
    ledger.earn(session, account_id=ben.id, points=10, now=now, actor="t")
    got = ledger.earn(session, account_id=ana.id, points=200, now=now, actor="t")
    ledger.spend(session, account_id=ana.id, points=300, now=now, actor="t")
    ledger.reverse(session, entry_id=got.id, now=now, actor="t", shortfall_as_debt=True)
    session.commit()
    assert (balance(session, ana), ana.debt) == (-200, 200)
    result = merge(session, now)
    session.commit()
    assert (result.debt, balance(session, ana), ana.debt) == (200, 0, 0)
    assert (balance(session, ben), ben.debt) == (-190, 190)
    assert ledger.spendable_points(session, ben.id, now) == 0
    assert verify_ledger(session) == []
    for merged, survivor, field in (("c2", "c2", "into_customer_id"), ("c9", "c2", "customer_id"),
                                    ("c2", "c1", "into_customer_id")):  # fmt: skip
        with pytest.raises(LoyaltyError) as refused:
            merge(session, now, merged=merged, survivor=survivor)
        session.rollback()
        assert refused.value.field == field


def test_merge_consents_stricter_wins_and_profile_fills_in(session, pair, now) -> None:
    """Opted in on one record only: opted out after. The survivor takes her card and e-mail."""
    _ana, ben = pair
    ana_c = session.scalars(select(Customer).where(Customer.host_customer_id == "c1")).one()
    ben_c = session.get(Customer, ben.customer_id)
    ana_c.email_opt_in, ana_c.sms_opt_in, ana_c.card_number = True, True, "CARD-1"
    ana_c.email, ben_c.sms_opt_in, ben_c.enrolled = "ana@example.com", True, False
    session.commit()
    merge(session, now)
    session.commit()
    session.refresh(ben_c)
    assert (ben_c.email_opt_in, ben_c.sms_opt_in, ben_c.enrolled) == (False, True, True)
    assert (ben_c.card_number, ben_c.email, ana_c.card_number) == (
        "CARD-1",
        "ana@example.com",
        None,
    )


@pytest.mark.backends("postgresql", "mariadb")
def test_merge_racing_earnings_neither_loses_nor_doubles(pair, now, database_url) -> None:
    """Eight threads earn on Ana's account while she is merged into Ben: all 8 x 5 reach Ben."""
    ana, ben = pair
    engine = make_engine(database_url, pool_size=12)
    barrier = threading.Barrier(9)
    errors: list[BaseException] = []

    def work(job) -> None:
        with Session(engine, expire_on_commit=False) as s:
            barrier.wait()
            try:
                for _ in range(5 if job != "merge" else 1):
                    run_in_transaction(
                        s, job if callable(job) else lambda s2: merge(s2, now), attempts=5
                    )
            except BaseException as error:
                errors.append(error)

    def earn(s2: Session) -> object:
        return ledger.earn(s2, account_id=ana.id, points=1, now=now, actor="race")

    threads = [threading.Thread(target=work, args=("merge",))]
    threads += [threading.Thread(target=work, args=(earn,)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with Session(engine) as s:
        balances = dict(s.execute(select(Account.id, Account.balance)).all())
        assert (balances[ana.id], balances[ben.id]) == (0, 100 + 40)
        assert verify_ledger(s) == []
    engine.dispose()


@pytest.mark.backends("postgresql", "mariadb")
def test_transfers_both_ways_never_deadlock_or_double(pair, now, database_url) -> None:
    """Ten threads give 1 point Ana to Ben and ten Ben to Ana, at once: the sum stays 100."""
    ana, ben = pair
    engine = make_engine(database_url, pool_size=24)
    barrier = threading.Barrier(20)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        sender, receiver = ("c1", "c2") if n % 2 else ("c2", "c1")
        with Session(engine, expire_on_commit=False) as s:
            barrier.wait()
            try:
                run_in_transaction(
                    s,
                    lambda s2: give(
                        s2, now, points=1, key=f"race-{n}", sender=sender, receiver=receiver
                    ),
                    attempts=5,
                )
            except InsufficientPoints:
                pass
            except BaseException as error:
                errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with Session(engine) as s:
        balances = dict(s.execute(select(Account.id, Account.balance)).all())
        assert balances[ana.id] + balances[ben.id] == 100
        assert verify_ledger(s) == []
    engine.dispose()


def test_a_held_redemption_row_follows_the_merge(session, pair, now) -> None:
    """Rows that name the account (here a redemption) name the survivor's afterwards."""
    ana, ben = pair
    hold = ledger.spend(
        session, account_id=ana.id, points=10, now=now, actor="t", kind=EntryKind.HOLD
    )
    session.add(
        Redemption(
            merchant_id="shop", account_id=ana.id, invoice_id="INV-1", active_invoice_id="INV-1",
            status=RedemptionStatus.HELD, points=10, amount=Decimal(1), currency="EUR",
            rate=Decimal("0.1"), exchange_rate=Decimal(1), hold_entry_id=hold.id,
            expires_at=now + timedelta(days=1), created_by="t",
        )
    )  # fmt: skip
    session.commit()
    merge(session, now)
    session.commit()
    assert session.scalar(select(Redemption.account_id)) == ben.id


def test_merge_moves_store_credit_to_the_survivors_account_of_that_currency(
    session, pair, now
) -> None:
    """Ana's EUR credit joins Ben's EUR credit; her USD credit opens his USD account (#19)."""
    ana, ben = pair
    ana_eur, ana_usd, ben_eur = (
        open_account(session, merchant_id="shop", customer_id=customer, unit=unit)
        for customer, unit in ((ana.customer_id, "EUR"), (ana.customer_id, "USD"),
                               (ben.customer_id, "EUR"))
    )  # fmt: skip
    for account, cents in ((ana_eur, 1050), (ana_usd, 700), (ben_eur, 25)):
        ledger.earn(session, account_id=account.id, points=cents, now=now, actor="t")
    session.commit()
    merge(session, now)
    session.commit()
    ben_usd = open_account(session, merchant_id="shop", customer_id=ben.customer_id, unit="USD")
    assert (balance(session, ana), balance(session, ben)) == (0, 100)
    assert (balance(session, ana_eur), balance(session, ben_eur)) == (0, 1075)
    assert (balance(session, ana_usd), balance(session, ben_usd)) == (0, 700)
    assert session.scalars(select(AuditEntry.after)).one()["credit"] == {"EUR": 1050, "USD": 700}
    assert verify_ledger(session) == []
