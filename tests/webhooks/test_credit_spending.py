"""Store credit spent on invoices beside points (#19, phase 2), through the webhook intake.

The issue's worked example, to the end: a 200.00 invoice with a 5% credit rule and 1 point
per 10.00 gives 10.00 credit and 20 points; a 50% refund takes back 5.00 and 10; the next
invoice pays 10.00 with credit and 500 points, the combined cap respected.
"""

from __future__ import annotations

from decimal import Decimal

import pluggy
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty_plugin import hookimpl
from loyalty_plugin.domain.ledger import POINTS
from loyalty_plugin.domain.redemption import DraftInvoice
from loyalty_plugin.models import OutboxMessage, Redemption, RedemptionStatus, WebhookEndpoint
from loyalty_plugin.plugins import make_plugin_manager
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.accounts import account_for_host_customer, open_account
from loyalty_plugin.services.ledger.integrity import verify_ledger
from loyalty_plugin.services.spending import redemption as spending
from loyalty_plugin.services.spending.settings import update_settings
from tests.webhooks.conftest import customer, event, invoice
from tests.webhooks.test_credit_earning import balances, wallet  # noqa: F401 - fixture


class SpendRecorder:
    """Records the store credit spending notifications beside the points ones."""

    def __init__(self) -> None:
        self.seen: list[tuple[object, ...]] = []

    @hookimpl
    def credit_spent(self, event):
        self.seen.append(("credit_spent", event.currency, event.amount, event.redemption_id))

    @hookimpl
    def credit_returned(self, event):
        self.seen.append(("credit_returned", event.currency, event.amount, event.redemption_id))

    @hookimpl
    def points_redeemed(self, event):
        self.seen.append(("points_redeemed", event.points))


@pytest.fixture
def recorder() -> SpendRecorder:
    return SpendRecorder()


@pytest.fixture
def pm(recorder: SpendRecorder) -> pluggy.PluginManager:
    """The built-in plugins and the recorder (every hook it implements has its spec)."""
    manager = make_plugin_manager(entry_points=False)
    manager.register(recorder)
    manager.check_pending()
    return manager


@pytest.fixture
def earned(send, wallet: Session, now) -> Session:  # noqa: F811
    """The example's first invoice and its half refund: 5.00 of credit and 10 points
    left; then 20.00 of credit and 1,000 points more (a staff adjustment each), so the
    caps rather than the balances bind the next invoice: 25.00 and 1,010 points."""
    send(event("customer.created", {"customer": customer()}))
    paid = send(event("invoice.paid", {"invoice": invoice(total="200.00")}))
    assert paid.body["result"]["points_earned"] == 20
    assert paid.body["result"]["credit"][0]["earned"] == "10.00"
    refund = {"id": "R1", "amount": "100.00"}
    refunded = send(event("invoice.refunded", {"invoice_id": "INV-1", "refund": refund}))
    assert refunded.body["result"]["points_reversed"] == 10
    assert refunded.body["result"]["credit"][0]["reversed"] == "5.00"
    assert balances(wallet) == {POINTS: 10, "EUR": 500}
    points = account_for_host_customer(wallet, "shop", "c1")
    credit = open_account(wallet, merchant_id="shop", customer_id=points.customer_id, unit="EUR")
    ledger.adjust(wallet, account_id=points.id, points=1000, now=now, actor="t", reason="setup")
    ledger.adjust(wallet, account_id=credit.id, points=2000, now=now, actor="t", reason="setup")
    # At most 15 % of an invoice with credit and points together, 10 % with credit alone.
    changes = {"max_invoice_share": Decimal(15), "credit_max_invoice_share": Decimal(10)}
    update_settings(wallet, merchant_id="shop", changes=changes, now=now, actor="t")
    wallet.commit()
    assert balances(wallet) == {POINTS: 1010, "EUR": 2500}
    return wallet


def draft(invoice_id: str = "INV-2", total: str = "100.00") -> DraftInvoice:
    return DraftInvoice(id=invoice_id, currency="EUR", total=Decimal(total))


def test_the_next_invoice_pays_credit_and_points_within_the_combined_cap(
    send, earned: Session, now
) -> None:
    """100.00 at 15 % together and 10 % credit: 10.00 credit (its own cap) and 500 points
    (5.00, what the combined cap leaves); paying the invoice captures both."""
    offer = spending.quote_checkout(
        earned, merchant_id="shop", customer_id="c1", invoice=draft(), now=now
    )
    assert offer.credit is not None
    assert (offer.credit.credit, offer.credit.credit_bound_by) == (Decimal("10.00"), "credit_cap")
    assert (offer.points.points, offer.points.amount, offer.points.bound_by) == (
        500, Decimal("5.00"), "max_share",
    )  # fmt: skip
    assert offer.credit.total == Decimal("15.00")
    held = spending.hold_points(
        earned, merchant_id="shop", customer_id="c1", invoice=draft(), now=now, actor="api"
    )
    earned.commit()
    assert (held.points, held.discount, [p.amount for p in held.credit_parts]) == (
        500, Decimal("15.00"), [Decimal("10.00")],
    )  # fmt: skip
    assert balances(earned) == {POINTS: 510, "EUR": 1500}
    paid = send(event("invoice.paid", {"invoice": invoice("INV-2", total="85.00",
                                                            redemption_id=held.id)}))  # fmt: skip
    assert paid.body["result"]["redemption"] == {"id": held.id, "status": "captured"}
    rows = earned.scalars(select(Redemption).where(Redemption.invoice_id == "INV-2")).all()
    assert {(r.unit, r.status) for r in rows} == {
        (POINTS, RedemptionStatus.CAPTURED), ("EUR", RedemptionStatus.CAPTURED),
    }  # fmt: skip
    # 85.00 paid earns 8 points and 4.25 of credit.
    assert balances(earned) == {POINTS: 518, "EUR": 1925}
    assert verify_ledger(earned) == []


def test_a_refund_returns_its_share_of_both_units_and_its_reversal_takes_it_back(
    send, earned: Session, now
) -> None:
    """Half of INV-2 refunded returns 5.00 of credit and 250 points spent on it; reversing
    the refund takes them back; cancelling returns all; each unit on its own account."""
    held = spending.hold_points(
        earned, merchant_id="shop", customer_id="c1", invoice=draft(), now=now, actor="api"
    )
    earned.commit()
    send(event("invoice.paid", {"invoice": invoice("INV-2", total="85.00",
                                                   redemption_id=held.id)}))  # fmt: skip
    start = balances(earned)
    refund = {"id": "R2", "amount": "42.50"}
    answer = send(event("invoice.refunded", {"invoice_id": "INV-2", "refund": refund}))
    result = answer.body["result"]
    assert (result["points_returned"], result["credit_returned"]) == (250, {"EUR": "5.00"})
    # The refund also takes back half of what INV-2 earned: 4 points and 2.13 of credit
    # (4.25 earned, 2.12 kept: credit kept is rounded down).
    after = balances(earned)
    assert (after[POINTS] - start[POINTS], after["EUR"] - start["EUR"]) == (250 - 4, 500 - 213)
    undone = send(event("invoice.refund_reversed", {"invoice_id": "INV-2", "refund_id": "R2"}))
    result = undone.body["result"]
    assert (result["points_taken_back"], result["credit_taken_back"]) == (250, {"EUR": "5.00"})
    assert balances(earned) == start
    cancelled = send(event("invoice.cancelled", {"invoice_id": "INV-2"}))
    assert cancelled.body["result"]["redemptions_released"] == [held.id]
    # All spent on INV-2 is back, all it earned taken.
    assert balances(earned) == {POINTS: 1010, "EUR": 2500}
    assert verify_ledger(earned) == []


def test_a_hold_released_or_gone_stale_gives_both_units_back(earned: Session, now) -> None:
    """Release and the stale-holds job give the points and the credit back to their lots."""
    held = spending.hold_points(
        earned, merchant_id="shop", customer_id="c1", invoice=draft(), now=now, actor="api"
    )
    earned.commit()
    assert balances(earned) == {POINTS: 510, "EUR": 1500}
    spending.release_redemption(
        earned, merchant_id="shop", redemption_id=held.id, now=now, actor="api"
    )
    earned.commit()
    assert balances(earned) == {POINTS: 1010, "EUR": 2500}
    again = spending.hold_points(
        earned, merchant_id="shop", customer_id="c1", invoice=draft("INV-3"), now=now, actor="api"
    )
    earned.commit()
    released = spending.release_stale_holds(earned, now=again.expires_at)
    earned.commit()
    assert [r.id for r in released] == [again.id]
    assert {r.status for r in earned.scalars(select(Redemption))} == {
        RedemptionStatus.RELEASED, RedemptionStatus.EXPIRED,
    }  # fmt: skip
    assert balances(earned) == {POINTS: 1010, "EUR": 2500}
    assert verify_ledger(earned) == []


def test_credit_spent_and_returned_go_out_as_webhooks(send, earned: Session, now) -> None:
    """``credit.spent`` on capture and ``credit.returned`` on a refund carry money as
    decimal strings and the redemption the host knows; points go out as before."""
    earned.add(WebhookEndpoint(merchant_id="shop", url="https://host.example/hook"))
    earned.commit()
    held = spending.hold_points(
        earned, merchant_id="shop", customer_id="c1", invoice=draft(), now=now, actor="api"
    )
    earned.commit()
    send(event("invoice.paid", {"invoice": invoice("INV-2", total="85.00",
                                                   redemption_id=held.id)}))  # fmt: skip
    send(event("invoice.refunded", {"invoice_id": "INV-2",
                                    "refund": {"id": "R2", "amount": "42.50"}}))  # fmt: skip
    sent = {m.event_type: m.payload["data"] for m in earned.scalars(select(OutboxMessage))}
    assert sent["points.redeemed"]["points"] == 500
    spent, returned = sent["credit.spent"], sent["credit.returned"]
    assert (spent["currency"], spent["amount"], spent["redemption_id"]) == (
        "EUR",
        "-10.00",
        held.id,
    )
    assert (returned["amount"], returned["redemption_id"]) == ("5.00", held.id)
    assert spent["reference"] == returned["reference"] == "invoice:INV-2"


def _paid_and_half_refunded(send, earned: Session, now) -> Redemption:
    held = spending.hold_points(
        earned, merchant_id="shop", customer_id="c1", invoice=draft(), now=now, actor="api"
    )
    earned.commit()
    send(event("invoice.paid", {"invoice": invoice("INV-2", total="85.00",
                                                   redemption_id=held.id)}))  # fmt: skip
    send(event("invoice.refunded", {"invoice_id": "INV-2",
                                    "refund": {"id": "R2", "amount": "42.50"}}))  # fmt: skip
    return held


def test_hook_credit_spent(send, earned: Session, now, recorder) -> None:
    """Capturing a hold of both units calls ``points_redeemed`` and ``credit_spent``."""
    held = _paid_and_half_refunded(send, earned, now)
    assert ("points_redeemed", 500) in recorder.seen
    assert ("credit_spent", "EUR", "-10.00", held.id) in recorder.seen


def test_hook_credit_returned(send, earned: Session, now, recorder) -> None:
    """A refund of half the invoice calls ``credit_returned`` with the credit given back."""
    held = _paid_and_half_refunded(send, earned, now)
    assert [s for s in recorder.seen if s[0] == "credit_returned"] == [
        ("credit_returned", "EUR", "5.00", held.id)
    ]
