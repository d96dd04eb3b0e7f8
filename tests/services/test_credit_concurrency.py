"""32 threads spend points and store credit of one customer at once (#19): neither unit
is ever spent twice. Real commits on separate connections, PostgreSQL and MariaDB."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import InsufficientPoints
from loyalty_plugin.models import Account, LedgerEntry
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.accounts import open_account
from loyalty_plugin.services.ledger.integrity import verify_ledger
from loyalty_plugin.services.transaction import run_in_transaction
from tests.services.test_concurrency import race, wide_engine  # noqa: F401

pytestmark = [pytest.mark.concurrency, pytest.mark.backends("postgresql", "mariadb")]


def test_32_threads_never_spend_credit_or_points_twice(
    session,
    make_account,
    now,
    wide_engine,  # noqa: F811
) -> None:
    """100.00 of credit and 1,000 points; 32 threads, 5 rounds each, take 2.50 of credit (a
    spend or a staff debit, by turns) and 10 points: exactly 40 credit debits and 100 points
    spends succeed, and both balances end at 0, never below."""
    points = make_account()
    credit = open_account(session, merchant_id="shop", customer_id=points.customer_id, unit="EUR")
    ledger.earn(session, account_id=points.id, points=1000, now=now, actor="t")
    ledger.earn(session, account_id=credit.id, points=10_000, now=now, actor="t")
    session.commit()

    def credit_debit(n: int) -> Callable[[Session], int]:
        if n % 2:
            return lambda s: (
                ledger.spend(s, account_id=credit.id, points=250, now=now, actor="race").id
            )
        return lambda s: (
            ledger.adjust(
                s, account_id=credit.id, points=-250, now=now, actor="staff:race", reason="race"
            ).id
        )

    def rounds(s: Session) -> list[tuple[str, object]]:
        outcomes: list[tuple[str, object]] = []
        for n in range(5):
            for unit, work in (
                ("EUR", credit_debit(n)),
                ("points", lambda s2: ledger.spend(
                    s2, account_id=points.id, points=10, now=now, actor="race").id),
            ):  # fmt: skip
                try:
                    outcomes.append((unit, run_in_transaction(s, work)))
                except InsufficientPoints as error:
                    outcomes.append((unit, error))
        return outcomes

    results = race(wide_engine, 32, rounds)
    assert not [r for r in results if isinstance(r, Exception)], results
    outcomes = [o for r in results for o in r]  # type: ignore[union-attr]
    done = {
        unit: [o for u, o in outcomes if u == unit and isinstance(o, int)]
        for unit in ("EUR", "points")
    }
    assert (len(done["EUR"]), len(done["points"])) == (40, 100)
    assert len(set(done["EUR"])) == 40 and len(set(done["points"])) == 100
    session.expire_all()
    for account in (points, credit):
        assert session.get(Account, account.id).balance == 0
        lowest = session.scalar(
            select(func.min(LedgerEntry.balance_after)).where(LedgerEntry.account_id == account.id)
        )
        assert lowest == 0
    assert verify_ledger(session) == []
