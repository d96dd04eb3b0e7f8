"""The simulation loads the replayed invoices' customers in bulk (issue 15).

Looking each invoice's customer up on its own made a comparison of 300 invoices take
seconds: the queries it makes must not grow with the invoices it replays.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from flask import Flask

from loyalty_plugin.domain.signatures import signature_headers
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.earning.simulation import compare_versions, simulate
from tests.admin.test_programs_views import SECRET, _create, _rule, _secret


def _paid(client: Any, number: int, customer: str, total: str = "100.00") -> None:
    body = json.dumps({
        "type": "invoice.paid", "merchant_id": "shop", "occurred_at": utcnow().isoformat(),
        "data": {"invoice": {"id": f"INV-{number}", "customer_id": customer, "currency": "EUR",
                             "total": total, "items": [{"id": "L1", "qty": 1, "total": total}]}},
    }).encode()  # fmt: skip
    headers = signature_headers([SECRET], msg_id=f"m{number}", timestamp=int(time.time()),
                                body=body)  # fmt: skip
    answer = client.post("/loyalty/webhooks", data=body,
                         headers=headers | {"content-type": "application/json"})  # fmt: skip
    assert answer.status_code in (200, 201, 202), answer.data


@contextmanager
def _counting(engine: sa.Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


def test_the_comparison_makes_as_many_queries_for_30_invoices_as_for_6(
    app: Flask, admin_client
) -> None:
    """Customers, levels and earlier purchases load once per replay, not once per invoice."""
    manager = admin_client(role="manager")
    _secret(app)
    for number in range(1, 31):  # c0..c9 three invoices each, c10 one
        _paid(manager.client, number, f"c{number % 10}")
    _paid(manager.client, 31, "c10")
    _create(manager)
    _rule(manager, "spring", {"kind": "first_purchase", "id": "welcome", "points": "50"})
    with app.app_context():
        session = get_session()
        engine = session.get_bind()
        counts, results = [], []
        for last in (6, 6, 31):  # the first warms the caches of programs
            with _counting(engine) as statements:
                result = compare_versions(session, merchant_id="shop", key="spring",
                                          now=utcnow(), last=last)  # fmt: skip
            counts.append(len(statements))
            results.append(result)
        session.rollback()
    assert counts[1] == counts[2], counts
    # Only c10 never bought before: the welcome bonus once, whatever the replay holds.
    assert results[2].invoices == 31
    assert results[2].draft.rules.get("welcome") == 50


def test_a_file_of_invoices_gives_the_same_points_as_before(app: Flask, admin_client) -> None:
    """``simulate`` (the CLI's dry run) sees known customers and unknown ones as before."""
    manager = admin_client(role="manager")
    _secret(app)
    _paid(manager.client, 1, "known")
    _create(manager)
    _rule(manager, "spring", {"kind": "first_purchase", "id": "welcome", "points": "50"})
    items = [
        (1, {"id": "N1", "customer_id": "known", "currency": "EUR", "total": "10.00",
             "items": [{"id": "L1", "qty": 1, "total": "10.00"}]}),
        (2, {"id": "N2", "customer_id": "new", "currency": "EUR", "total": "10.00",
             "items": [{"id": "L1", "qty": 1, "total": "10.00"}]}),
        (3, {"id": "N3", "customer_id": "new", "currency": "EUR", "total": "10.00",
             "items": [{"id": "L1", "qty": 1, "total": "10.00"}]}),
        (4, {"invoice": {"id": "N4"}}),
    ]  # fmt: skip
    with app.app_context():
        result = simulate(get_session(), merchant_id="shop", key="spring", invoices=items,
                          now=utcnow())  # fmt: skip
    assert result.customers["known"].points == 0  # bought before
    assert result.customers["new"].points == 50  # first purchase once
    assert [line for line, _ in result.skipped] == [4]
