"""An app for job tests (no scheduler, no SMTP) and a controllable clock."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from loyalty_plugin import create_app
from tests.conftest import wipe


@pytest.fixture(autouse=True)
def no_smtp(monkeypatch: pytest.MonkeyPatch) -> None:
    """Job tests send no e-mail: any SMTP connection fails the test."""

    def refuse(self: smtplib.SMTP, host: str = "localhost", port: int = 0, **kw: Any) -> Any:
        pytest.fail(f"a job test tried to send e-mail to {host}:{port}")

    monkeypatch.setattr(smtplib.SMTP, "connect", refuse)


class Clock:
    """A clock tests move by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 5, 4, 10, 0, 3, tzinfo=UTC))


@pytest.fixture
def job_app(database_url: str, engine: sa.Engine) -> Iterator[Flask]:
    """The service without a scheduler, e-mail or entry-point plugins."""
    app = create_app(
        {
            "TESTING": True,
            "LOYALTY_DATABASE_URL": database_url,
            "LOYALTY_SECRET_KEY": "test-secret-key",
            "LOYALTY_SCHEDULER": "off",
            "LOYALTY_PLUGIN_ENTRY_POINTS": False,
            "LOYALTY_JOB_LEASE_SECONDS": 60,
        }
    )
    yield app
    with app.app_context():
        app.extensions["loyalty"].db.engine.dispose()
    wipe(engine)


def bulk_lots(
    engine: sa.Engine, *, accounts: int, due: int, later: int, now: datetime
) -> list[int]:
    """``accounts`` accounts, each with ``due`` lots already past expiry and ``later`` lots
    expiring next year, written in a few bulk statements; returns the account ids.

    Each lot comes from its own ``earn`` entry with the right ``balance_after``, so the
    ledger verifies clean before the test starts.
    """
    from loyalty_plugin.models import Account, Customer, LedgerEntry, Lot, Merchant

    earned = now - timedelta(days=100)
    per = due + later
    with sa.orm.Session(engine) as session:
        session.add(Merchant(id="shop", name="Shop", currency="EUR"))
        session.flush()
        session.execute(
            sa.insert(Customer),
            [
                {"merchant_id": "shop", "host_customer_id": f"c{i}", "first_name": "C"}
                for i in range(accounts)
            ],
        )
        customers = session.scalars(select_ids(Customer)).all()
        session.execute(
            sa.insert(Account),
            [
                {"merchant_id": "shop", "customer_id": c, "balance": 10 * per}
                | {"lifetime_earned": 10 * per}
                for c in customers
            ],
        )
        ids = session.scalars(select_ids(Account)).all()
        session.execute(
            sa.insert(LedgerEntry),
            [
                {
                    "merchant_id": "shop",
                    "account_id": a,
                    "kind": "earn",
                    "points": 10,
                    "balance_after": 10 * (n + 1),
                    "actor": "test",
                    "created_at": earned,
                }
                for a in ids
                for n in range(per)
            ],
        )
        entries = session.execute(
            sa.select(LedgerEntry.id, LedgerEntry.account_id).order_by(LedgerEntry.id)
        ).all()
        session.execute(
            sa.insert(Lot),
            [
                {
                    "merchant_id": "shop",
                    "account_id": account_id,
                    "entry_id": entry_id,
                    "points": 10,
                    "remaining": 10,
                    "earned_at": earned,
                    "available_from": earned,
                    "expires_at": now - timedelta(days=1)
                    if n % per < due
                    else now + timedelta(days=365),
                }
                for n, (entry_id, account_id) in enumerate(entries)
            ],
        )
        session.commit()
    return list(ids)


def select_ids(model: type) -> sa.Select:
    return sa.select(model.id).order_by(model.id)
