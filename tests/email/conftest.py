"""A real SMTP server per test (aiosmtpd on a free loopback port), and an app wired to it.

An autouse guard fails any SMTP connection to anywhere else, so no test can send real mail.
"""

from __future__ import annotations

import email
import email.policy
import smtplib
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from flask import Flask
from sqlalchemy.orm import Session

from loyalty_plugin import create_app
from loyalty_plugin.jobs.runner import JobRunner, Outcome
from loyalty_plugin.models import Account, Customer, Merchant
from loyalty_plugin.services.events import attach_sink
from loyalty_plugin.services.messaging.notifications import EMAIL_SINK
from tests.conftest import wipe

#: The start of every e-mail test's story.
T0 = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


class Inbox:
    """The aiosmtpd handler: keeps every message; can refuse the next few with a code."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refusals: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refusals:
            return self.refusals.pop(0)
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 Message accepted"

    def of(self, template_subject_part: str) -> list[EmailMessage]:
        """Messages whose subject contains the given text."""
        return [m for m in self.messages if template_subject_part in m["Subject"]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server on 127.0.0.1, and what it received."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture(autouse=True)
def no_foreign_smtp(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    """Fail any SMTP connection except to this test's own server."""
    allowed = None
    if "smtp_server" in request.fixturenames:
        allowed = ("127.0.0.1", request.getfixturevalue("smtp_server")[1])
    connect = smtplib.SMTP.connect

    def guarded(self: smtplib.SMTP, host: str = "localhost", port: int = 0, **kw: Any) -> Any:
        if (host, port) != allowed:
            pytest.fail(f"a test tried to send e-mail to {host}:{port}")
        return connect(self, host, port, **kw)

    monkeypatch.setattr(smtplib.SMTP, "connect", guarded)


@pytest.fixture
def inbox(smtp_server: tuple[Inbox, int]) -> Inbox:
    return smtp_server[0]


@pytest.fixture
def mail_app(
    database_url: str, engine: sa.Engine, smtp_server: tuple[Inbox, int]
) -> Iterator[Flask]:
    """The service, sending through the test's SMTP server, with no scheduler of its own."""
    app = create_app(
        {
            "TESTING": True,
            "LOYALTY_DATABASE_URL": database_url,
            "LOYALTY_SECRET_KEY": "test-secret-key",
            "LOYALTY_SCHEDULER": "off",
            "LOYALTY_SMTP_HOST": "127.0.0.1",
            "LOYALTY_SMTP_PORT": smtp_server[1],
            "LOYALTY_SMTP_TLS": "none",
            "LOYALTY_MAIL_FROM": "rewards@shop.example",
            "LOYALTY_PUBLIC_URL": "https://loyalty.shop.example",
            "LOYALTY_PLUGIN_ENTRY_POINTS": False,
        }
    )
    yield app
    with app.app_context():
        app.extensions["loyalty"].db.engine.dispose()
    wipe(engine)


@pytest.fixture
def runner(mail_app: Flask) -> JobRunner:
    return JobRunner(mail_app)


@pytest.fixture
def run(runner: JobRunner):
    """``run(job, at)``: run a job now as if it were ``at``; fails the test if it fails."""

    def run(name: str, at: datetime) -> Outcome:
        outcome = runner.run_now(name, at=at)
        assert outcome.status == "succeeded", outcome.detail
        return outcome

    return run


@pytest.fixture
def db(engine: sa.Engine, mail_app: Flask) -> Iterator[Session]:
    """A session publishing to the e-mail sink, as web requests and jobs do.

    It depends on ``mail_app`` so that it is closed before the app's clean-up wipes the
    tables (on SQLite an open transaction holds the write lock).
    """
    with Session(engine, expire_on_commit=False) as session:
        attach_sink(session, EMAIL_SINK)
        yield session


@pytest.fixture
def shop(db: Session) -> Merchant:
    merchant = Merchant(id="shop", name="Café Lumière", currency="EUR", timezone="Europe/Lisbon")
    db.add(merchant)
    db.commit()
    return merchant


@pytest.fixture
def ana(db: Session, shop: Merchant) -> Account:
    """A customer who opted in to e-mail, with an empty account."""
    customer = Customer(
        merchant_id=shop.id,
        host_customer_id="42",
        first_name="Ana",
        last_name="Silva",
        email="ana@example.com",
        email_opt_in=True,
        created_at=T0,
    )
    db.add(customer)
    db.flush()
    account = Account(merchant_id=shop.id, customer_id=customer.id, created_at=T0)
    db.add(account)
    db.commit()
    return account
