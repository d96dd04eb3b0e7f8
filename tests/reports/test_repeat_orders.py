"""Repeat orders (the dashboard's members and non-members) against a count made in Python,
on random invoices around the period's edges, in the merchant's time zone."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from loyalty_plugin.models import Customer, Invoice, InvoiceStatus, Merchant
from loyalty_plugin.services.reports.calendar import merchant_period
from loyalty_plugin.services.reports.dashboard import repeat_orders

NOW = datetime(2026, 4, 10, 12, 0, tzinfo=UTC)
FIRST, LAST = date(2026, 3, 23), date(2026, 4, 5)


def expected(invoices: list[tuple[int, datetime, InvoiceStatus]], enrolled: dict[int, bool],
             starts: datetime, ends: datetime) -> dict[bool, tuple[int, int]]:  # fmt: skip
    orders = Counter(c for c, at, status in invoices
                     if status is InvoiceStatus.PAID and starts <= at < ends)  # fmt: skip
    return {
        member: (
            sum(1 for c in orders if enrolled[c] is member),
            sum(1 for c, n in orders.items() if enrolled[c] is member and n >= 2),
        )
        for member in (True, False)
    }


@pytest.mark.parametrize("seed", range(3))
def test_repeat_orders_match_a_count_in_python(session: Session, seed: int) -> None:
    """Paid invoices inside the period, per customer: one or more, two or more; cancelled
    and open ones, and those a minute outside either edge, do not count."""
    rng = random.Random(seed)
    session.add(Merchant(id="rep", name="Repeat", currency="EUR", timezone="Europe/Madrid"))
    other = Merchant(id="elsewhere", name="Other", currency="EUR", timezone="UTC")
    session.add(other)
    session.flush()
    _, span = merchant_period(session, merchant_id="rep", first=FIRST, last=LAST, now=NOW)
    starts, ends = span.starts_at.astimezone(UTC), span.ends_at.astimezone(UTC)
    edges = [starts, ends, starts + (ends - starts) / 2]
    enrolled, invoices = {}, []
    for n in range(40):
        merchant = "elsewhere" if n % 10 == 9 else "rep"
        customer = Customer(merchant_id=merchant, host_customer_id=f"c{n}", first_name="C",
                            enrolled=rng.random() < 0.7)  # fmt: skip
        session.add(customer)
        session.flush()
        for k in range(rng.choice([0, 1, 1, 2, 3, 5])):
            at = rng.choice(edges) + timedelta(minutes=rng.choice([-1, 0, 1, 600, -600]))
            status = rng.choice([InvoiceStatus.PAID] * 4 + [InvoiceStatus.CANCELLED])
            paid_at = None if rng.random() < 0.1 else at
            if paid_at is None:
                status = InvoiceStatus.OPEN
            session.add(
                Invoice(
                    merchant_id=merchant, host_invoice_id=f"{n}-{k}", customer_id=customer.id,
                    status=status, currency="EUR", total=Decimal(1), merchant_total=Decimal(1),
                    paid_total=Decimal(1), refunded_total=Decimal(0), items=[], paid_at=paid_at,
                )
            )  # fmt: skip
            if merchant == "rep" and paid_at is not None:
                invoices.append((customer.id, paid_at, status))
        enrolled[customer.id] = customer.enrolled
    session.commit()
    found = repeat_orders(session, merchant_id="rep", span=span)
    assert {r.members: (r.customers, r.repeat) for r in found} == expected(
        invoices, enrolled, starts, ends
    )
