"""Store credit earned on invoices beside points (#19), through the webhook intake.

The issue's worked example: a 200.00 invoice with a 5% credit rule and 1 point per 10.00
gives 10.00 credit and 20 points; a 50% refund takes back 5.00 and 10 points.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import LoyaltyError
from loyalty_plugin.domain.ledger import POINTS
from loyalty_plugin.models import (
    Account,
    Customer,
    LedgerEntry,
    Lot,
    OutboxMessage,
    WebhookEndpoint,
)
from loyalty_plugin.services.earning.programs import create_program
from loyalty_plugin.services.ledger.integrity import verify_ledger
from loyalty_plugin.services.spending.settings import update_settings
from tests.webhooks.conftest import customer, event, invoice, replace_default_program

FIVE_PERCENT = [
    {"id": "points", "kind": "per_amount", "points": "1", "per": "10"},
    {"id": "cashback", "kind": "per_amount", "points": "0", "per": "1",
     "reward": {"credit_percent": "5", "instead_of_points": True}},
]  # fmt: skip


def balances(session: Session, host_id: str = "c1") -> dict[str, int]:
    """Each account of the customer by unit: points, and minor units of credit."""
    session.expire_all()
    rows = session.execute(
        select(Account.unit, Account.balance)
        .join(Customer, Customer.id == Account.customer_id)
        .where(Customer.host_customer_id == host_id)
    )
    return dict(rows.all())


@pytest.fixture
def wallet(shop: Session, now) -> Session:
    """``shop`` with a EUR credit wallet and the 5% credit program (and 1 point per 10)."""
    update_settings(
        shop, merchant_id="shop", changes={"credit_currencies": ["EUR"]}, now=now, actor="t"
    )
    replace_default_program(shop, now=now, rules=FIVE_PERCENT)
    return shop


def test_the_worked_example_earns_and_takes_back_credit_and_points(send, wallet) -> None:
    """200.00 earns 10.00 and 20 points; refunding half takes back 5.00 and 10 points."""
    send(event("customer.created", {"customer": customer()}))
    paid = send(event("invoice.paid", {"invoice": invoice(total="200.00")}))
    result = paid.body["result"]
    assert result["points_earned"] == 20
    assert result["credit"] == [{"currency": "EUR", "earned": "10.00", "reversed": "0.00"}]
    assert balances(wallet) == {POINTS: 20, "EUR": 1000}
    entry = wallet.scalars(select(LedgerEntry).where(LedgerEntry.unit == "EUR")).one()
    assert entry.details["credit"]["amount"] == "10.00"
    assert [(b["rule"], b["amount"]) for b in entry.details["credit"]["breakdown"]] == [
        ("cashback", "10.00")
    ]
    body = {"id": "R1", "amount": "100.00"}
    refunded = send(event("invoice.refunded", {"invoice_id": "INV-1", "refund": body}))
    result = refunded.body["result"]
    assert result["points_reversed"] == 10
    assert result["credit"] == [{"currency": "EUR", "earned": "0.00", "reversed": "5.00"}]
    assert balances(wallet) == {POINTS: 10, "EUR": 500}
    again = send(event("invoice.refunded", {"invoice_id": "INV-1", "refund": body}))
    assert "credit" not in again.body["result"] and balances(wallet) == {POINTS: 10, "EUR": 500}
    assert verify_ledger(wallet) == []


def test_a_cancellation_takes_all_the_credit_back(send, wallet) -> None:
    """A cancelled invoice takes back its points and its credit."""
    send(event("customer.created", {"customer": customer()}))
    send(event("invoice.paid", {"invoice": invoice(total="80.00")}))
    assert balances(wallet) == {POINTS: 8, "EUR": 400}
    send(event("invoice.cancelled", {"invoice_id": "INV-1"}))
    assert balances(wallet) == {POINTS: 0, "EUR": 0}
    assert verify_ledger(wallet) == []


def test_credit_is_rounded_down_to_the_cent(send, wallet) -> None:
    """5% of 0.99 is 0.0495: 0.04 of credit, no point."""
    send(event("customer.created", {"customer": customer()}))
    answer = send(event("invoice.paid", {"invoice": invoice(total="0.99")}))
    assert answer.body["result"]["credit"][0]["earned"] == "0.04"
    assert balances(wallet) == {POINTS: 0, "EUR": 4}


def test_no_credit_without_the_wallet_in_the_invoice_currency(send, shop, now) -> None:
    """Without a wallet (or in another currency) the points come alone, and the answer
    says why there is no credit."""
    replace_default_program(shop, now=now, rules=FIVE_PERCENT)
    send(event("customer.created", {"customer": customer()}))
    answer = send(event("invoice.paid", {"invoice": invoice(total="200.00")}))
    assert answer.body["result"]["points_earned"] == 20
    assert answer.body["result"]["credit_reason"] == (
        "no store credit: the merchant has no credit wallet"
    )
    assert balances(shop) == {POINTS: 20}
    update_settings(
        shop, merchant_id="shop", changes={"credit_currencies": ["USD"]}, now=now, actor="t"
    )
    shop.commit()
    answer = send(event("invoice.paid", {"invoice": invoice("INV-2", total="200.00")}))
    assert answer.body["result"]["credit_reason"] == (
        "no store credit: the merchant's credit wallet does not take EUR"
    )
    assert balances(shop) == {POINTS: 40}


def test_credit_earned_goes_out_as_a_credit_webhook(send, wallet, now) -> None:
    """``credit.earned`` carries the money as decimal strings; points go as before."""
    wallet.add(WebhookEndpoint(merchant_id="shop", url="https://host.example/hook"))
    wallet.commit()
    send(event("customer.created", {"customer": customer()}))
    send(event("invoice.paid", {"invoice": invoice(total="200.00")}))
    sent = {
        m.event_type: m.payload["data"]
        for m in wallet.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
    }
    assert sent["points.earned"]["points"] == 20
    credit = sent["credit.earned"]
    assert (credit["currency"], credit["amount"], credit["balance"]) == ("EUR", "10.00", "10.00")
    assert credit["customer_id"] == "c1" and credit["reference"] == "invoice:INV-1"
    assert Decimal(credit["amount"]) == Decimal("10.00")


def test_credit_earned_gets_the_merchants_credit_expiry(send, wallet, now) -> None:
    """Never by default; with ``credit_expiry_months`` 12 the lot expires a year after the
    day it was earned; points keep their own policy (never here)."""
    send(event("customer.created", {"customer": customer()}))
    send(event("invoice.paid", {"invoice": invoice(total="20.00")}))
    update_settings(
        wallet, merchant_id="shop", changes={"credit_expiry_months": 12}, now=now, actor="t"
    )
    wallet.commit()
    send(event("invoice.paid", {"invoice": invoice("INV-2", total="40.00")}))
    wallet.expire_all()
    lots = wallet.execute(select(Lot.unit, Lot.points, Lot.earned_at, Lot.expires_at)).all()
    expiring = [(unit, points) for unit, points, _, expires in lots if expires is not None]
    assert expiring == [("EUR", 200)]
    [(earned_at, expires_at)] = [(e, x) for _, _, e, x in lots if x is not None]
    assert 365 <= (expires_at - earned_at).days <= 366


WELCOME_CREDIT = [
    {"id": "points", "kind": "per_amount", "points": "1", "per": "10"},
    {"id": "welcome", "kind": "registration", "points": 50,
     "reward": {"credit_amount": "5.00", "instead_of_points": True}},
    {"id": "birthday", "kind": "birthday", "points": 20, "reward": {"credit_amount": "2.50"}},
]  # fmt: skip


@pytest.fixture
def welcome_wallet(shop: Session, now) -> Session:
    """``shop`` with a EUR wallet and a program whose event rules give credit."""
    update_settings(
        shop, merchant_id="shop", changes={"credit_currencies": ["EUR"]}, now=now, actor="t"
    )
    replace_default_program(shop, now=now, rules=WELCOME_CREDIT)
    shop.commit()
    return shop


def test_a_welcome_bonus_in_store_credit_instead_of_points(send, welcome_wallet) -> None:
    """The registration rule gives €5.00 and no points, once; its entry reads as money,
    and ``ledger verify`` is clean."""
    wallet = welcome_wallet
    answer = send(event("customer.created", {"customer": customer()}))
    assert answer.body["result"]["credit"] == [
        {"currency": "EUR", "earned": "5.00", "reversed": "0.00"}
    ]
    assert balances(wallet) == {POINTS: 0, "EUR": 500}
    entry = wallet.scalars(select(LedgerEntry).where(LedgerEntry.unit == "EUR")).one()
    assert (entry.reference_type, entry.details["credit"]["amount"]) == ("registration", "5.00")
    send(event("customer.updated", {"customer": customer(last_name="Silva")}))
    assert balances(wallet) == {POINTS: 0, "EUR": 500}
    assert verify_ledger(wallet) == []


def test_a_birthday_bonus_gives_points_and_credit_once_a_year(send, welcome_wallet) -> None:
    """20 points and €2.50 on the birthday; the same birthday again gives nothing."""
    wallet = welcome_wallet
    send(event("customer.created", {"customer": customer()}))
    birthday = event("customer.birthday", {"customer_id": "c1", "date": "2026-01-15"})
    answer = send(birthday)
    assert answer.body["result"]["points_earned"] == 20
    assert balances(wallet) == {POINTS: 20, "EUR": 750}
    send(event("customer.birthday", {"customer_id": "c1", "date": "2026-01-15"}, id="again"))
    assert balances(wallet) == {POINTS: 20, "EUR": 750}
    assert verify_ledger(wallet) == []


def test_event_credit_without_a_wallet_gives_points_only(send, shop, now) -> None:
    """No wallet: the birthday's 20 points alone, and the answer says why no credit."""
    replace_default_program(shop, now=now, rules=WELCOME_CREDIT)
    shop.commit()
    send(event("customer.created", {"customer": customer()}))
    answer = send(event("customer.birthday", {"customer_id": "c1", "date": "2026-01-15"}))
    assert answer.body["result"]["points_earned"] == 20
    assert answer.body["result"]["credit_reason"] == (
        "no store credit: the merchant has no credit wallet"
    )
    assert balances(shop) == {POINTS: 20}


def test_a_percent_of_nothing_is_refused_on_an_event_rule(shop, now) -> None:
    """``credit_percent`` on a registration rule is refused at ``reward``: an event has no
    money to take a percent of."""
    rules = [{"id": "welcome", "kind": "registration", "points": 1,
              "reward": {"credit_percent": "5"}}]  # fmt: skip
    with pytest.raises(LoyaltyError, match="credit_percent needs a rule that earns on money"):
        create_program(shop, merchant_id="shop", now=now, actor="t",
                       definition={"key": "p", "name": "P", "rules": rules})  # fmt: skip


def test_a_custom_event_gives_credit_within_its_limit(send, shop, now) -> None:
    """A 5-star review gives €1.00 instead of points, within the rule's limit (once a
    month): the credit alone takes the limit's slot, so the second review gives nothing."""
    review = {"id": "review", "kind": "custom_event", "name": "review", "when": {"stars": 5},
              "points": 30, "limit": {"count": 1, "per": "month"},
              "reward": {"credit_amount": "1.00", "instead_of_points": True}}  # fmt: skip
    update_settings(
        shop, merchant_id="shop", changes={"credit_currencies": ["EUR"]}, now=now, actor="t"
    )
    replace_default_program(shop, now=now, rules=[review])
    shop.commit()
    send(event("customer.created", {"customer": customer()}))
    body = {"customer_id": "c1", "name": "review", "properties": {"stars": 5}}
    first = send(event("event.custom", body))
    assert first.body["result"]["credit"][0]["earned"] == "1.00"
    second = send(event("event.custom", body, id="second"))
    assert "credit" not in second.body["result"]
    assert balances(shop) == {POINTS: 0, "EUR": 100}
    assert verify_ledger(shop) == []
