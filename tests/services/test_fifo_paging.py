"""Spending from many lots reads them in pages and still follows the FIFO rule exactly."""

from datetime import timedelta

from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.integrity import verify_ledger


def test_spend_across_more_lots_than_one_page(session, make_account, now) -> None:
    """200 lots of 3 points: spending 500 takes the 167 soonest-expiring, in order."""
    account = make_account()
    for n in range(200):
        ledger.earn(
            session,
            account_id=account.id,
            points=3,
            now=now,
            actor="t",
            expires_at=now + timedelta(days=400 - n),
        )
    ledger.earn(session, account_id=account.id, points=1000, now=now, actor="t")
    spend = ledger.spend(session, account_id=account.id, points=500, now=now, actor="t")
    taken = [-a.points for a in spend.allocations]
    assert sum(taken) == 500
    assert len(taken) == 167
    assert taken[-1] == 2
    lots_by_expiry = [a.lot_id for a in spend.allocations]
    assert lots_by_expiry == sorted(lots_by_expiry, reverse=True)  # later ids expire sooner
    assert verify_ledger(session) == []
