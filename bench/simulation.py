"""The admin's simulation (``compare_versions``) on 300 invoices: customers looked up per
invoice and version (the code before issue 15) against loaded in bulk, in the same run.

The invoices arrive as signed ``invoice.paid`` webhooks through the real app (100
customers, 3 invoices each); the program in force is compared with itself, so both
versions are replayed, as the Simulate screen does for a program with a draft.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import datetime
from typing import Any

from _common import Samples, benchmark_parser, fresh_database, quiet_gc, step, table

from loyalty_plugin import create_app
from loyalty_plugin.domain.rules import CustomerView
from loyalty_plugin.domain.signatures import signature_headers
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.earning import simulation
from loyalty_plugin.services.earning.replay_customers import ReplayCustomers
from loyalty_plugin.services.earning.rule_engine import customer_view
from loyalty_plugin.services.ledger.accounts import find_customer
from loyalty_plugin.services.merchants.registration import create_merchant
from loyalty_plugin.services.merchants.secrets import create_secret

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


class PerInvoiceCustomers:
    """The lookups before issue 15: ``find_customer`` and ``customer_view`` per invoice."""

    def __init__(self, session: Any, merchant_id: str, *, now: datetime) -> None:
        self.session, self.merchant_id, self.now = session, merchant_id, now

    def load(self, pairs: Any) -> None:
        """Nothing loads ahead."""

    def view(
        self, host_customer_id: str, invoice_id: str, *, first: bool, at: datetime | None = None
    ) -> CustomerView:
        """As ``ReplayCustomers.view``; ``at`` is not needed here (no win-back rule)."""
        known = find_customer(self.session, self.merchant_id, host_customer_id)
        if known is None:
            return CustomerView(id=host_customer_id, first_purchase=first)
        view = customer_view(self.session, known, invoice_id=invoice_id, now=self.now)
        return replace(view, first_purchase=first and view.first_purchase)


def send_invoices(app: Any, *, invoices: int, customers: int) -> None:
    client = app.test_client()
    for number in range(invoices):
        total = f"{20 + number % 80}.00"
        body = json.dumps({
            "type": "invoice.paid", "merchant_id": "shop", "occurred_at": utcnow().isoformat(),
            "data": {"invoice": {"id": f"INV-{number}", "customer_id": f"c{number % customers}",
                                 "currency": "EUR", "total": total,
                                 "items": [{"id": "L1", "qty": 1, "total": total}]}},
        }).encode()  # fmt: skip
        headers = signature_headers([SECRET], msg_id=f"m{number}", timestamp=int(time.time()),
                                    body=body)  # fmt: skip
        answer = client.post("/loyalty/webhooks", data=body,
                             headers=headers | {"content-type": "application/json"})  # fmt: skip
        assert answer.status_code in (200, 201, 202), answer.data


def timed(app: Any, name: str, book: type, *, invoices: int, samples: int) -> tuple[Samples, int]:
    """Time ``compare_versions`` with ``book`` looking the customers up."""
    result = Samples(name)
    points = 0
    simulation.ReplayCustomers = book  # the one seam: how the replay finds its customers
    try:
        with app.app_context():
            session = get_session()
            for _ in range(samples):
                compared = None

                def compare() -> None:
                    nonlocal compared
                    compared = simulation.compare_versions(
                        session, merchant_id="shop", key="default", now=utcnow(), last=invoices
                    )

                result.time(compare)
                session.rollback()
                points = compared.draft.points + compared.current.points
    finally:
        simulation.ReplayCustomers = ReplayCustomers
    return result, points


def main() -> None:
    parser = benchmark_parser(__doc__, database="simulation")
    parser.add_argument("--invoices", type=int, default=300)
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--samples", type=int, default=5)
    args = parser.parse_args()
    with fresh_database(args.url, keep=args.keep, sql=args.sql) as engine:
        url = engine.url.render_as_string(hide_password=False)
        app = create_app(
            {
                "LOYALTY_DATABASE_URL": url,
                "LOYALTY_SECRET_KEY": "bench",
                "LOYALTY_PLUGIN_ENTRY_POINTS": False,
                "LOYALTY_SCHEDULER": "off",
            }
        )
        with app.app_context():
            session = get_session()
            create_merchant(session, merchant_id="shop", name="Shop", currency="EUR")
            create_secret(session, merchant_id="shop", now=utcnow(), secret=SECRET)
            session.commit()
        with step(f"sending {args.invoices} invoices of {args.customers} customers"):
            send_invoices(app, invoices=args.invoices, customers=args.customers)
        quiet_gc()
        rows = []
        for name, book in (
            ("per invoice and version (before)", PerInvoiceCustomers),
            ("loaded in bulk (after)", ReplayCustomers),
        ):
            samples, points = timed(app, name, book, invoices=args.invoices,
                                    samples=args.samples)  # fmt: skip
            rows.append((name, len(samples.ns), samples.p50, max(samples.ns) / 1e6, points))
        with app.app_context():
            app.extensions["loyalty"].db.engine.dispose()
    print()
    print(table(["customers looked up", "samples", "p50 ms", "max ms", "points (both)"], rows))
    if rows[0][4] != rows[1][4]:
        raise SystemExit("the two lookups gave different points")


if __name__ == "__main__":
    main()
