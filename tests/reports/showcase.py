"""A lively shop for the screenshots: a coffee roaster's twelve weeks of points.

Deterministic (a seeded random generator), relative to ``now`` so the default dashboard
period and the aging report show it.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from loyalty_plugin.models import Account, Customer, Invoice, InvoiceStatus, Merchant
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.accounts import open_account
from loyalty_plugin.services.ledger.entries import Reference

FIRST = ("Ana", "Ben", "Carla", "Dmitri", "Elena", "Farid", "Greta", "Hugo", "Inés", "Jonas",
         "Keiko", "Luca", "Marta", "Nico", "Olga", "Pablo", "Quentin", "Rosa", "Sven", "Teresa",
         "Ugo", "Vera", "Wim", "Ximena", "Yusuf", "Zoe")  # fmt: skip
LAST = ("Ruiz", "Ortiz", "Vidal", "Novak", "García", "Haddad", "Lind", "Moreau", "Serra",
        "Berg", "Tanaka", "Conti", "Molina", "Weber", "Ivanova", "Castro")  # fmt: skip
GROUPS = ("retail", "retail", "retail", "wholesale", "cafe-partners", None)
PROGRAM = {"id": 1, "key": "beans", "name": "Beans for points", "version": 1, "version_id": 1}


def build_showcase(session: Session, now: datetime, merchant_id: str = "shop") -> None:
    """The roaster, 52 customers and their last year of points, committed."""
    rng = random.Random(7)
    session.add(Merchant(id=merchant_id, name="Corner Coffee Roasters", currency="EUR",
                         timezone="Europe/Madrid"))  # fmt: skip
    session.flush()
    accounts = []
    for n in range(52):
        person = Customer(
            merchant_id=merchant_id, host_customer_id=str(1001 + n),
            first_name=FIRST[n % len(FIRST)], last_name=LAST[(n * 7) % len(LAST)],
            email=f"customer{n}@example.com", customer_group=rng.choice(GROUPS),
            card_number=f"7001 {2000 + n:04d}" if n % 3 else None, enrolled=n % 9 != 0,
        )  # fmt: skip
        session.add(person)
        session.flush()
        account = Account(merchant_id=merchant_id, customer_id=person.id)
        session.add(account)
        accounts.append(account)
    session.flush()
    events = [event for account in accounts for event in _plan(rng, account, now)]
    for when, _n, account, kind, points in sorted(events, key=lambda e: (e[0], e[1])):
        ledger.expire_due_lots(session, account_id=account.id, now=when)
        _apply(session, rng, account, when, kind, points)
    for account in accounts:
        ledger.expire_due_lots(session, account_id=account.id, now=now - timedelta(minutes=5))
        _orders(session, rng, account, now, merchant_id)
    _store_credit(session, rng, accounts, now, merchant_id)
    session.commit()


def _store_credit(
    session: Session, rng: random.Random, accounts: list[Account], now: datetime, merchant_id: str
) -> None:
    """Store credit (#19) for every fourth customer in euros, a few in dollars: some spent."""
    for n, account in enumerate(accounts):
        units = ("EUR", "USD") if n % 12 == 0 else ("EUR",) if n % 4 == 0 else ()
        for unit in units:
            credit = open_account(
                session, merchant_id=merchant_id, customer_id=account.customer_id, unit=unit
            )
            when = now - timedelta(days=rng.randint(3, 60))
            cents = rng.randrange(500, 6000, 10)
            ledger.earn(session, account_id=credit.id, points=cents, now=when, actor="showcase",
                        expires_at=when + timedelta(days=365))  # fmt: skip
            if n % 8 == 0:
                ledger.spend(session, account_id=credit.id, points=cents // 3,
                             now=when + timedelta(days=1), actor="showcase")  # fmt: skip


def _plan(rng: random.Random, account: Account, now: datetime) -> list[tuple[Any, ...]]:
    """A year of one customer's earning, some spending and a goodwill adjustment."""
    start = now - timedelta(days=380)
    events = []
    for _ in range(rng.randint(3, 14)):
        when = start + timedelta(days=rng.uniform(0, 378))
        events.append(
            (when, account.id, account, "earn", rng.choice((40, 60, 80, 120, 150, 220, 300)))
        )
        if rng.random() < 0.4:
            events.append((when + timedelta(days=rng.uniform(1, 30)), account.id, account,
                           "spend", rng.choice((50, 100, 150))))  # fmt: skip
    if rng.random() < 0.15:
        events.append((now - timedelta(days=rng.uniform(1, 60)), account.id, account, "adjust",
                       rng.choice((25, 50, -20))))  # fmt: skip
    return [event for event in events if event[0] < now]


def _apply(
    session: Session, rng: random.Random, account: Account, when: datetime, kind: str, points: int
) -> None:
    if kind == "earn":
        expires = when + timedelta(days=rng.choice((90, 180, 365, 365, 730)))
        invoice = f"INV-{when:%y%m%d}-{account.id:03d}"
        ledger.earn(session, account_id=account.id, points=points, now=when, actor="webhook",
                    expires_at=expires, details={"program": PROGRAM},
                    reference=Reference("invoice", invoice))  # fmt: skip
    elif ledger.spendable_points(session, account.id, when) >= abs(points):
        if kind == "spend":
            ledger.spend(session, account_id=account.id, points=points, now=when,
                         actor="api:lk_pos", reason="paid with points at the till")  # fmt: skip
        else:
            ledger.adjust(session, account_id=account.id, points=points, now=when,
                          actor="staff:2 Marta", reason="goodwill for a late delivery")  # fmt: skip


def _orders(
    session: Session, rng: random.Random, account: Account, now: datetime, merchant_id: str
) -> None:
    for n in range(rng.choice((0, 1, 1, 2, 3))):
        session.add(
            Invoice(
                merchant_id=merchant_id, host_invoice_id=f"INV-{account.id}-{n}",
                customer_id=account.customer_id, status=InvoiceStatus.PAID, currency="EUR",
                total=Decimal("24.00"), merchant_total=Decimal("24.00"),
                paid_total=Decimal("24.00"), refunded_total=Decimal(0), items=[],
                paid_at=now - timedelta(days=rng.uniform(1, 80)),
            )
        )  # fmt: skip
