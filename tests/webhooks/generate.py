"""A seeded stream of host events: customers, invoices, partial payments, refunds,
cancellations, birthdays. Every event is valid, and its effect does not depend on the order
it is processed in (the property the exactly-once test checks)."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

CENT = Decimal("0.01")


def generate_events(count: int, *, seed: int = 4, merchant_id: str) -> list[dict[str, Any]]:
    """``count`` events for ``merchant_id`` in a causal order, each with a ``webhook_id``."""
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []
    customers: list[str] = []
    invoice_number = 0
    while len(events) < count:
        roll = rng.random()
        if not customers or roll < 0.08:
            customers.append(f"c{len(customers) + 1}")
            events.append(_customer("customer.created", customers[-1], rng))
        elif roll < 0.12:
            events.append(_customer("customer.updated", rng.choice(customers), rng))
        elif roll < 0.17:
            year = rng.choice((2025, 2026))
            data = {"customer_id": rng.choice(customers), "date": f"{year}-03-04"}
            # Sent in the birthday's year: another year's birthday is refused (#12).
            events.append(
                _event("customer.birthday", data) | {"occurred_at": f"{year}-03-04T09:00:00Z"}
            )
        else:
            invoice_number += 1
            events.extend(_invoice_story(f"INV-{invoice_number}", rng.choice(customers), rng))
    events = events[:count]
    for number, event in enumerate(events, 1):
        event["merchant_id"] = merchant_id
        event["webhook_id"] = f"wh-{number}"
    return events


def _event(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": kind, "occurred_at": "2026-01-15T12:00:00Z", "data": data}


def _customer(kind: str, host_id: str, rng: random.Random) -> dict[str, Any]:
    profile = {"id": host_id, "group": rng.choice(["retail", "vip", None])}
    if kind == "customer.created":
        profile |= {"first_name": "Test", "email": f"{host_id}@example.com", "enrolled": True}
    return _event(kind, {"customer": profile})


def _invoice_story(invoice_id: str, customer_id: str, rng: random.Random) -> list[dict]:
    lines = [
        {"id": f"L{n}", "qty": rng.randint(1, 3), "total": str(_money(rng, 2, 200))}
        for n in range(1, rng.randint(1, 3) + 1)
    ]
    total = sum(Decimal(line["total"]) for line in lines)
    invoice = {
        "id": invoice_id,
        "customer_id": customer_id,
        "currency": "EUR",
        "total": str(total),
        "items": lines,
    }
    story: list[dict] = []
    if rng.random() < 0.3:
        part = (total * Decimal(rng.choice(("0.3", "0.5")))).quantize(CENT)
        payment = {"id": f"{invoice_id}-P1", "amount": str(part)}
        story.append(_event("invoice.payment_recorded", {"invoice": invoice, "payment": payment}))
        if rng.random() < 0.3:
            rest = {"id": f"{invoice_id}-P2", "amount": str(total - part)}
            story.append(_event("invoice.payment_recorded", {"invoice": invoice, "payment": rest}))
    if rng.random() < 0.9:
        story.append(_event("invoice.paid", {"invoice": invoice}))
    if not story:
        return story  # never paid: no refund nor cancellation would ever find it
    for number in range(rng.choice((0, 0, 1, 2))):
        refund: dict[str, Any] = {"id": f"{invoice_id}-R{number}", "amount": "0"}
        if rng.random() < 0.3:
            line = rng.choice(lines)
            refund["items"] = [{"line_id": line["id"], "qty": 1}]
        else:
            refund["amount"] = str((total * Decimal(rng.randint(5, 40)) / 100).quantize(CENT))
        story.append(_event("invoice.refunded", {"invoice_id": invoice_id, "refund": refund}))
    if rng.random() < 0.07:
        story.append(_event("invoice.cancelled", {"invoice_id": invoice_id}))
    return story


def _money(rng: random.Random, low: int, high: int) -> Decimal:
    return (Decimal(rng.randint(low * 100, high * 100)) / 100).quantize(CENT)
