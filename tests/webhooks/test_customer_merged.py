"""``customer.merged`` from the host: points move once, the merged id names the survivor."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from loyalty_plugin.models import (
    Account,
    AuditEntry,
    Customer,
    InboxStatus,
    InvoiceEarning,
    WebhookEvent,
)
from loyalty_plugin.services.ledger.integrity import verify_ledger
from tests.conftest import serving
from tests.webhooks.conftest import (
    balance,
    customer,
    event,
    invoice,
    replace_default_program,
    signed,
)
from tests.webhooks.test_concurrency import post_all

MERGED = {"customer_id": "c1", "into_customer_id": "c2"}


def test_merge_event_moves_points_and_later_events_reach_the_survivor(shop, send, now) -> None:
    """c1 earned 12, c2 5: merged, c2 holds 17; a later invoice of c1 earns for c2."""
    replace_default_program(shop, now=now)
    send(event("customer.created", {"customer": customer("c1")}))
    send(event("customer.created", {"customer": customer("c2", first_name="Ana B")}))
    send(event("invoice.paid", {"invoice": invoice("INV-1", "125.00")}))
    send(event("invoice.paid", {"invoice": invoice("INV-2", "50.00", customer_id="c2")}))
    assert (balance(shop, "c1"), balance(shop, "c2")) == (12, 5)
    answer = send(event("customer.merged", MERGED), event_id="merge-1")
    assert answer.status == 200, answer.body
    assert answer.body["result"] | {"merged_at": None} == {
        "customer_id": "c1",
        "into_customer_id": "c2",
        "points_moved": 12,
        "debt_moved": 0,
        "lots_moved": 1,
        "merged_at": None,
        "already_merged": False,
    }
    assert (balance(shop, "c1"), balance(shop, "c2")) == (0, 17)
    send(event("invoice.paid", {"invoice": invoice("INV-3", "100.00")}))
    assert (balance(shop, "c1"), balance(shop, "c2")) == (0, 27)
    # A refund of c1's first invoice, after the merge, takes the points back from c2.
    refund = {"invoice_id": "INV-1", "refund": {"id": "R1", "amount": "125.00"}}
    refunded = send(event("invoice.refunded", refund))
    assert refunded.status == 200, refunded.body
    assert balance(shop, "c2") == 15
    audit = shop.scalars(select(AuditEntry).where(AuditEntry.action == "customer.merged")).one()
    assert (audit.actor_kind, audit.target_id) == ("host", "c1")
    assert verify_ledger(shop) == []


def test_merge_event_is_counted_once(shop, send, now) -> None:
    """The same webhook-id again is a duplicate; another id with the same merge changes nothing."""
    send(event("customer.created", {"customer": customer("c1")}))
    send(event("customer.created", {"customer": customer("c2")}))
    first = send(event("customer.merged", MERGED), event_id="merge-1")
    again = send(event("customer.merged", MERGED), event_id="merge-1")
    other = send(event("customer.merged", MERGED), event_id="merge-2")
    assert (first.status, again.status, other.status) == (200, 200, 200)
    assert again.body["status"] == "duplicate"
    assert other.body["result"]["already_merged"] is True
    merges = select(func.count()).where(AuditEntry.action == "customer.merged")
    assert shop.scalar(merges) == 1


def test_merge_of_a_customer_never_seen_keeps_their_id_for_later(shop, send, now) -> None:
    """c9 was never sent: a bare record is kept, merged, and c9's invoice earns for c2."""
    replace_default_program(shop, now=now)
    send(event("customer.created", {"customer": customer("c2")}))
    answer = send(event("customer.merged", {"customer_id": "c9", "into_customer_id": "c2"}))
    assert answer.status == 200 and answer.body["result"]["points_moved"] == 0
    send(event("invoice.paid", {"invoice": invoice("INV-9", "80.00", customer_id="c9")}))
    assert balance(shop, "c2") >= 8
    bare = shop.scalars(select(Customer).where(Customer.host_customer_id == "c9")).one()
    assert (bare.enrolled, bare.merged_into_id is not None) == (False, True)


def test_merge_event_refusals(shop, send) -> None:
    """Into themselves: 422 on data.into_customer_id; a missing field: 422 by its path."""
    send(event("customer.created", {"customer": customer("c1")}))
    itself = send(event("customer.merged", {"customer_id": "c1", "into_customer_id": "c1"}))
    assert itself.status == 422
    assert "data.into_customer_id" in itself.body["error"]["fields"]
    missing = send(event("customer.merged", {"customer_id": "c1"}))
    assert missing.status == 422
    assert "data.into_customer_id" in missing.body["error"]["fields"]
    rows = shop.scalars(select(WebhookEvent.status)).all()
    assert rows.count(InboxStatus.REJECTED) == 2


def test_merge_event_waits_for_an_unknown_survivor(without_first_sight, send) -> None:
    """With first sight off, an unknown survivor makes the merge wait for its customer."""
    send(event("customer.created", {"customer": customer("c1")}))
    waiting = send(event("customer.merged", MERGED))
    assert waiting.status == 202
    released = send(event("customer.created", {"customer": customer("c2")}))
    assert released.status == 200
    merged = without_first_sight.scalars(
        select(Customer).where(Customer.host_customer_id == "c1")
    ).one()
    without_first_sight.refresh(merged)
    assert merged.merged_into_id is not None


@pytest.fixture
def served_wide(host) -> Iterator[str]:
    """The app over HTTP with a connection for every racing request."""
    options = host.config["SQLALCHEMY_ENGINE_OPTIONS"]
    host.config["SQLALCHEMY_ENGINE_OPTIONS"] = options | {"pool_size": 12}
    with serving(host) as base:
        yield f"{base}/loyalty/webhooks"


@pytest.mark.backends("postgresql", "mariadb")
def test_a_merge_racing_invoices_of_the_merged_customer(host, served_wide) -> None:
    """customer.merged and eight invoice.paid of c1 at once, over HTTP: every point of c1's
    invoices reaches c2, none twice, whichever commits first."""
    for number, who in enumerate(("c1", "c2")):
        raw, headers = signed(event("customer.created", {"customer": customer(who)}),
                              msg_id=f"created-{number}")  # fmt: skip
        assert post_all(served_wide, [(raw, headers)])[0][0] == 200
    deliveries = [signed(event("customer.merged", MERGED), msg_id="merge")]
    deliveries += [
        signed(event("invoice.paid", {"invoice": invoice(f"INV-{n}", "100.00")}), msg_id=f"p{n}")
        for n in range(8)
    ]
    answers = post_all(served_wide, deliveries)
    assert [status for status, _body in answers] == [200] * 9, answers
    with host.app_context():
        session = host.extensions["loyalty"].db.session
        balances = dict(
            session.execute(
                select(Customer.host_customer_id, Account.balance).join(
                    Account, Account.customer_id == Customer.id
                )
            ).all()
        )
        assert balances == {"c1": 0, "c2": 50 + 50 + 8 * 10}
        assert verify_ledger(session) == []
        owners = session.scalars(select(InvoiceEarning.account_id).distinct()).all()
        survivor = session.scalar(
            select(Account.id).join(Customer).where(Customer.host_customer_id == "c2")
        )
        assert owners == [survivor]


def test_a_birthday_bonus_of_the_merged_record_counts_for_the_survivor(shop, send) -> None:
    """c1 had this year's birthday bonus; merged into c2, c2's birthday this year earns 0."""
    send(event("customer.created", {"customer": customer("c1")}))
    send(event("customer.created", {"customer": customer("c2")}))
    birthday = {"date": "2026-01-15"}
    first = send(event("customer.birthday", birthday | {"customer_id": "c1"}))
    assert first.body["result"]["points_earned"] == 100
    send(event("customer.merged", MERGED))
    before = balance(shop, "c2")
    again = send(event("customer.birthday", birthday | {"customer_id": "c2"}))
    assert again.status == 200
    assert again.body["result"]["points_earned"] == 0
    assert balance(shop, "c2") == before
