"""Twenty deliveries at once, over real HTTP and real commits: one effect."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from loyalty_plugin.domain.redemption import DraftInvoice
from loyalty_plugin.models import Account, Customer, Redemption, RedemptionStatus
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.plugins import bind_session
from loyalty_plugin.services.intake.webhooks import IntakeSettings, retry_due
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.accounts import open_account
from loyalty_plugin.services.ledger.integrity import verify_ledger
from loyalty_plugin.services.spending import redemption
from tests.conftest import serving
from tests.webhooks.conftest import customer, event, invoice, ledger_points, signed, stored

pytestmark = pytest.mark.concurrency
THREADS = 20


@pytest.fixture
def served(host) -> Iterator[str]:
    """The app on a threaded HTTP server on loopback, with a pool for every thread."""
    host.config["SQLALCHEMY_ENGINE_OPTIONS"] = host.config["SQLALCHEMY_ENGINE_OPTIONS"] | {
        "pool_size": THREADS + 2
    }
    with serving(host) as base:
        yield f"{base}/loyalty/webhooks"


def post_all(url: str, deliveries: list[tuple[bytes, dict[str, str]]]) -> list[tuple[int, dict]]:
    barrier = threading.Barrier(len(deliveries))

    def one(delivery: tuple[bytes, dict[str, str]]) -> tuple[int, dict]:
        body, headers = delivery
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        barrier.wait()
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    with ThreadPoolExecutor(len(deliveries)) as pool:
        return list(pool.map(one, deliveries))


@pytest.mark.backends("postgresql", "mariadb")
def test_twenty_copies_of_one_webhook_have_one_effect(served, host) -> None:
    """The same delivery 20 times at once: one processed, 19 duplicates, one earn."""
    paid = signed(event("invoice.paid", {"invoice": invoice(customer=customer())}))
    answers = post_all(served, [paid] * THREADS)
    statuses = Counter((code, body.get("status")) for code, body in answers)
    assert statuses == {(200, "processed"): 1, (200, "duplicate"): THREADS - 1}
    assert ledger_points(host) == [("earn", 50), ("earn", 12)]


@pytest.mark.backends("postgresql", "mariadb")
def test_twenty_webhook_ids_for_one_invoice_have_one_effect(served, host) -> None:
    """One invoice under 20 webhook-ids at once: 20 processed, one of them earned."""
    body = event("invoice.paid", {"invoice": invoice(customer=customer())})
    answers = post_all(served, [signed(body, msg_id=f"msg_{n}") for n in range(THREADS)])
    assert Counter(code for code, _ in answers) == {200: THREADS}
    earned = [b["result"]["points_earned"] for _, b in answers]
    assert sorted(earned) == [0] * (THREADS - 1) + [12]
    assert ledger_points(host) == [("earn", 50), ("earn", 12)]
    with host.app_context():
        assert verify_ledger(host.extensions["loyalty"].db.session) == []


def _held_invoices(host, now, count: int, points: int) -> int:
    """Customer c1 with 1,000 points holding ``points`` on each of ``count`` invoices."""
    with host.app_context():
        session = host.extensions["loyalty"].db.session
        customer_row = Customer(merchant_id="default", host_customer_id="c1", first_name="Ana")
        session.add(customer_row)
        session.flush()
        account = open_account(session, merchant_id="default", customer_id=customer_row.id)
        ledger.earn(session, account_id=account.id, points=1_000, now=now, actor="test")
        for number in range(count):
            draft = DraftInvoice(currency="EUR", total=Decimal("100.00"), id=f"INV-{number}")
            redemption.hold_points(
                session, merchant_id="default", customer_id="c1", invoice=draft, now=now,
                actor="test", points=points,
            )  # fmt: skip
        session.commit()
        return account.id


@pytest.mark.backends("postgresql", "mariadb")
def test_cancels_racing_the_capture_of_their_holds_return_every_point(served, host, now) -> None:
    """10 held invoices, each paid (capturing its hold) and cancelled at the same moment:
    no cancel is refused, and every held and earned point is settled back."""
    invoices = THREADS // 2
    account_id = _held_invoices(host, now, invoices, points=20)
    deliveries = []
    for number in range(invoices):
        paid = event("invoice.paid", {"invoice": invoice(f"INV-{number}", total="100.00")})
        cancel = event("invoice.cancelled", {"invoice_id": f"INV-{number}"})
        deliveries += [
            signed(paid, msg_id=f"paid-{number}"),
            signed(cancel, msg_id=f"cancel-{number}"),
        ]
    answers = post_all(served, deliveries)
    assert {code for code, _ in answers} <= {200, 202}, answers
    with host.app_context():
        pm = host.extensions["loyalty"].plugin_manager
        session = bind_session(host.extensions["loyalty"].db.session, pm)
        # A cancel that came before its invoice waits for it; the retry job finishes it.
        retry_due(session, hooks=pm.hook,
                  settings=IntakeSettings(default_merchant="default"),
                  now=utcnow() + timedelta(days=1))  # fmt: skip
        assert {status for _, status, _ in stored(host)} == {"processed"}
        settled = session.execute(select(Redemption.status, Redemption.points,
                                         Redemption.returned_points)).all()  # fmt: skip
        assert all(
            status == RedemptionStatus.RELEASED or returned == points
            for status, points, returned in settled
        ), settled
        assert session.get(Account, account_id, populate_existing=True).balance == 1_000
        assert verify_ledger(session) == []
