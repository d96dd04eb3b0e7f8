"""``invoice.refund_reversed`` takes back the redemption points its refund returned (#16).

Before: an invoice paid in part with points (a captured hold of 20), a refund of half
returned 10 of them, and reversing that refund gave back the 6 earned points it took but
left the 10 returned points with the customer.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from loyalty_plugin.domain.errors import InsufficientPoints
from loyalty_plugin.domain.redemption import DraftInvoice
from loyalty_plugin.models import Account, LedgerEntry, Redemption
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.integrity import verify_ledger
from loyalty_plugin.services.spending.redemption import (
    capture_redemption,
    hold_points,
    release_redemption,
)
from tests.webhooks.conftest import balance, customer, event, invoice, signed
from tests.webhooks.test_concurrency import post_all, served  # noqa: F401 - fixture
from tests.webhooks.test_refund_reversed import refund, reversed_


def clock() -> datetime:
    """The served app's clock (the real one)."""
    return datetime.now(UTC)


def hold(
    session, now, invoice_id: str, points: int, total: str = "125", merchant_id: str = "shop"
) -> Redemption:
    held = hold_points(
        session,
        merchant_id=merchant_id,
        customer_id="c1",
        now=now,
        actor="api",
        invoice=DraftInvoice(id=invoice_id, currency="EUR", total=Decimal(total)),
        points=points,
    )
    session.commit()
    return held


@pytest.fixture
def refunded(send, shop, now):
    """c1: 50 registration points, 20 of them paid INV-1 (125.00, earns 12); a refund of
    62.50 took 6 earned points and returned 10 of the 20: balance 46."""
    assert send(event("customer.created", {"customer": customer()})).status == 200
    held = hold(shop, now, "INV-1", 20)
    paid = send(event("invoice.paid", {"invoice": invoice(redemption_id=held.id)}))
    assert paid.body["result"]["redemption"]["status"] == "captured"
    answer = send(refund("R1", "62.50"))
    assert answer.body["result"]["points_returned"] == 10
    assert balance(shop) == 50 - 20 + 12 - 6 + 10
    return send


def debt(session) -> int:
    session.expire_all()
    return session.scalars(select(Account.debt)).one()


def paid_with_20_points(served, host, *after: dict) -> None:  # noqa: F811
    """On the served app: c1 (50 points) pays INV-1 with 20 of them, then ``after`` events."""
    with host.app_context():
        session = host.extensions["loyalty"].db.session
        created = signed(event("customer.created", {"customer": customer()}), msg_id="c1")
        assert post_all(served, [created])[0][0] == 200
        held = hold(session, clock(), "INV-1", 20, merchant_id="default")
        paid = event("invoice.paid", {"invoice": invoice(redemption_id=held.id)})
        assert post_all(served, [signed(paid, msg_id="paid")])[0][0] == 200
        for n, body in enumerate(after):
            assert post_all(served, [signed(body, msg_id=f"after-{n}")])[0][0] == 200


def race_a_hold(served, host, points: int, body: dict) -> int | None:  # noqa: F811
    """Send ``body`` while a thread holds ``points`` on invoice B, both at once; the hold's
    id, or None if it was refused for want of points. The ledger verifies after."""
    outcome: dict[str, int | None] = {}
    barrier = threading.Barrier(2)

    def spend() -> None:
        with host.app_context():
            session = host.extensions["loyalty"].db.session
            barrier.wait()
            try:
                outcome["hold"] = hold(
                    session, clock(), "B", points, total="1000", merchant_id="default"
                ).id
            except InsufficientPoints:
                session.rollback()
                outcome["hold"] = None

    thread = threading.Thread(target=spend)
    thread.start()
    barrier.wait()
    answer = post_all(served, [signed(body, msg_id="raced")])
    thread.join()
    assert answer[0][0] == 200, answer
    with host.app_context():
        assert verify_ledger(host.extensions["loyalty"].db.session) == []
    return outcome["hold"]


def released(host, hold_id: int | None) -> tuple[int, int]:
    """Release the hold (if any) on the served app's database; then (balance, debt)."""
    with host.app_context():
        session = host.extensions["loyalty"].db.session
        if hold_id is not None:
            release_redemption(
                session, merchant_id="default", redemption_id=hold_id, now=clock(), actor="api"
            )
            session.commit()
        assert verify_ledger(session) == []
        return balance(session), debt(session)


def test_the_returned_points_are_taken_back_once(refunded, shop) -> None:
    answer = refunded(reversed_("R1"))
    assert answer.status == 200, answer.body
    result = answer.body["result"]
    assert (result["points_earned"], result["points_taken_back"]) == (6, 10)
    assert balance(shop) == 50 - 20 + 12
    again = refunded(reversed_("R1"))
    assert "points_taken_back" not in again.body["result"]
    assert balance(shop) == 42
    assert shop.scalars(select(Redemption.returned_points)).one() == 0
    assert verify_ledger(shop) == []


def test_a_later_refund_returns_them_again(refunded, shop) -> None:
    """After the take-back, a new refund of the same share returns its 10 points again."""
    refunded(reversed_("R1"))
    answer = refunded(refund("R2", "62.50"))
    assert answer.body["result"]["points_returned"] == 10
    assert balance(shop) == 46
    assert verify_ledger(shop) == []


def test_points_set_aside_meanwhile_are_owed(refunded, shop, now) -> None:
    """All 46 held on invoice B: the reversal earns 6 back, takes those 6 and owes 4 (debt);
    releasing B repays the debt: 42, as if the refund never happened."""
    held = hold(shop, now, "B", 46, total="1000")
    answer = refunded(reversed_("R1"))
    assert answer.body["result"]["points_taken_back"] == 10
    assert (balance(shop), debt(shop)) == (-4, 4)
    assert verify_ledger(shop) == []
    release_redemption(shop, merchant_id="shop", redemption_id=held.id, now=now, actor="api")
    shop.commit()
    assert (balance(shop), debt(shop)) == (42, 0)
    assert verify_ledger(shop) == []


def test_a_reversal_while_cancelled_takes_nothing(refunded, shop) -> None:
    """The cancellation returned all 20 held points: the reversal takes none of them."""
    refunded(event("invoice.cancelled", {"invoice_id": "INV-1"}))
    answer = refunded(reversed_("R1"))
    assert "points_taken_back" not in answer.body["result"]
    assert balance(shop) == 50
    assert verify_ledger(shop) == []


@pytest.mark.backends("postgresql", "mariadb")
def test_a_reversal_racing_a_spend_of_the_returned_points(served, host) -> None:  # noqa: F811
    """The reversal and a hold of all 46 points at once on real threads: either the hold
    wins (and 4 are owed) or the reversal does (and the hold is refused); never both free."""
    paid_with_20_points(served, host, refund("R1", "62.50"))
    with host.app_context():
        assert balance(host.extensions["loyalty"].db.session) == 46
    held = race_a_hold(served, host, 46, reversed_("R1"))
    with host.app_context():
        session = host.extensions["loyalty"].db.session
        expected = (-4, 4) if held is not None else (42, 0)
        assert (balance(session), debt(session)) == expected, held


def test_a_full_refund_after_an_undone_refund_returns_all_20(refunded, shop) -> None:
    """Half refunded, that refund undone, then the whole invoice refunded: all 20 points
    come back (10 from the hold, 10 from the take-back) and the 12 earned go; 50 again.
    Before: ``422`` ("only 10 points of entry N can still be reversed")."""
    refunded(reversed_("R1"))
    answer = refunded(refund("R3", "125.00"))
    assert answer.status == 200, answer.body
    assert answer.body["result"]["points_returned"] == 20
    assert (balance(shop), debt(shop)) == (50, 0)
    assert shop.scalars(select(Redemption.returned_points)).one() == 20
    assert refunded(refund("R3", "125.00")).status == 200
    assert balance(shop) == 50
    assert verify_ledger(shop) == []


def test_a_full_refund_while_the_take_back_is_still_owed(refunded, shop, now) -> None:
    """All 46 held on B, so the take-back owed 4: the full refund cuts that debt instead of
    crediting lots, and releasing B leaves 50 with no debt."""
    held = hold(shop, now, "B", 46, total="1000")
    refunded(reversed_("R1"))
    assert (balance(shop), debt(shop)) == (-4, 4)
    answer = refunded(refund("R3", "125.00"))
    assert answer.status == 200, answer.body
    assert answer.body["result"]["points_returned"] == 20
    assert verify_ledger(shop) == []
    release_redemption(shop, merchant_id="shop", redemption_id=held.id, now=now, actor="api")
    shop.commit()
    assert (balance(shop), debt(shop)) == (50, 0)
    assert verify_ledger(shop) == []


def test_a_full_refund_after_the_owed_points_were_repaid(refunded, shop, now) -> None:
    """The take-back owed 4, and releasing B repaid them; the full refund then gives those
    4 back as points (a lot of their own): 50, no debt."""
    held = hold(shop, now, "B", 46, total="1000")
    refunded(reversed_("R1"))
    release_redemption(shop, merchant_id="shop", redemption_id=held.id, now=now, actor="api")
    shop.commit()
    assert (balance(shop), debt(shop)) == (42, 0)
    answer = refunded(refund("R3", "125.00"))
    assert answer.status == 200, answer.body
    assert answer.body["result"]["points_returned"] == 20
    assert (balance(shop), debt(shop)) == (50, 0)
    assert verify_ledger(shop) == []


def test_points_forgiven_by_the_take_back_are_not_returned_twice(refunded, shop, now) -> None:
    """All 46 spent for good on B: the reversal takes back the 6 it earns again and forgives
    4. A full refund then returns 16, not 20: with R1's 10 less the 6 taken, the customer
    got the 20 points they paid with back exactly once. Before: ``returned_points`` came
    down by the forgiven 4 too, so the refund returned 4 points a second time."""
    held = hold(shop, now, "B", 46, total="1000")
    capture_redemption(
        shop, merchant_id="shop", redemption_id=held.id, invoice_id="B", now=now, actor="api"
    )
    shop.commit()
    assert refunded(reversed_("R1")).body["result"]["points_taken_back"] == 6
    assert shop.scalars(select(Redemption.returned_points).filter_by(invoice_id="INV-1")).one() == 4
    answer = refunded(refund("R3", "125.00"))
    assert answer.status == 200, answer.body
    assert answer.body["result"]["points_returned"] == 16
    assert verify_ledger(shop) == []


def test_reversing_a_take_back_that_owed_points_cuts_the_debt(refunded, shop, now) -> None:
    """``ledger.reverse`` of the take-back (6 from lots, 4 owed) gives the 6 back to their
    lots and cuts the 4 of debt. Before: it wrote +10 but moved only 6 (ledger verify
    failed: entry points = allocations + lot created - debt)."""
    hold(shop, now, "B", 46, total="1000")
    refunded(reversed_("R1"))
    taken = shop.scalars(
        select(LedgerEntry).where(LedgerEntry.idempotency_key.like("redemption:%:taken_back:%"))
    ).one()
    assert (taken.points, taken.details["debt_change"]) == (-10, 4)
    before = (balance(shop), debt(shop))
    ledger.reverse(shop, entry_id=taken.id, now=now, actor="staff:1")
    shop.commit()
    assert (balance(shop), debt(shop)) == (before[0] + 10, before[1] - 4)
    assert verify_ledger(shop) == []


@pytest.mark.backends("postgresql", "mariadb")
def test_a_full_refund_after_an_undone_refund_racing_a_hold(served, host) -> None:  # noqa: F811
    """After R1 was refunded and undone (balance 42), the full refund and a hold of all 42
    points on B run at once on real threads. Whichever wins, once B is released the
    customer has the 50 registration points back and owes nothing."""
    paid_with_20_points(served, host, refund("R1", "62.50"), reversed_("R1"))
    held = race_a_hold(served, host, 42, refund("R3", "125.00"))
    assert released(host, held) == (50, 0), held
