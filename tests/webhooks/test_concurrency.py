"""Twenty deliveries at once, over real HTTP and real commits: one effect."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from loyalty_plugin.services.integrity import verify_ledger
from tests.conftest import serving
from tests.webhooks.conftest import customer, event, invoice, ledger_points, signed

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
