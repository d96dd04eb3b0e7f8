"""Fixtures for host events: a merchant with a secret, signed posts, and the service path."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from itertools import count
from typing import Any

import pluggy
import pytest
from sqlalchemy.orm import Session

from loyalty_plugin.domain.signatures import signature_headers
from loyalty_plugin.plugins import bind_session, make_plugin_manager
from loyalty_plugin.services.intake.webhooks import Answer, IntakeSettings, process_host_event
from loyalty_plugin.services.merchants.registration import create_merchant
from loyalty_plugin.services.merchants.secrets import create_secret
from tests.conftest import serving

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SETTINGS = IntakeSettings(default_merchant="shop")


@pytest.fixture
def pm() -> pluggy.PluginManager:
    """A plugin manager with the built-in plugins only."""
    return make_plugin_manager(entry_points=False)


@pytest.fixture
def shop(session: Session, now: datetime, pm: pluggy.PluginManager) -> Session:
    """The ``shop`` merchant (EUR) with a signing secret; returns the bound session."""
    create_merchant(session, merchant_id="shop", name="Shop", currency="EUR")
    create_secret(session, merchant_id="shop", now=now, secret=SECRET)
    session.commit()
    return bind_session(session, pm)


@pytest.fixture
def without_first_sight(shop: Session, now: datetime) -> Session:
    """``shop`` with ``create_unknown_customers`` off: unknown customers wait, as before."""
    from loyalty_plugin.services.spending.settings import update_settings

    changes = {"create_unknown_customers": False}
    update_settings(shop, merchant_id="shop", changes=changes, now=now, actor="test")
    shop.commit()
    return shop


@pytest.fixture
def send(shop: Session, pm: pluggy.PluginManager, now: datetime) -> Callable[..., Answer]:
    """Process an event through the intake (the Python host's path); returns the answer."""
    ids = count(1)

    def send_(event: dict[str, Any], event_id: str | None = None, **kwargs: Any) -> Answer:
        return process_host_event(
            shop,
            event,
            event_id=event_id or f"evt-{next(ids)}",
            hooks=kwargs.pop("hooks", pm.hook),
            settings=kwargs.pop("settings", SETTINGS),
            now=kwargs.pop("now", now),
        )

    return send_


def event(kind: str, data: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """An event body of contract v1."""
    return {"type": kind, "occurred_at": "2026-01-15T12:00:00Z", "data": data} | extra


def invoice(invoice_id: str = "INV-1", total: str = "125.00", **fields: Any) -> dict[str, Any]:
    """An invoice of customer ``c1`` with one line."""
    return {
        "id": invoice_id,
        "customer_id": "c1",
        "currency": "EUR",
        "total": total,
        "items": [{"id": "L1", "qty": 1, "total": total}],
    } | fields


def customer(customer_id: str = "c1", **fields: Any) -> dict[str, Any]:
    return {"id": customer_id, "first_name": "Ana"} | fields


def replace_default_program(
    session: Session, *, now: datetime, starts: datetime | None = None, **definition: Any
) -> None:
    """Archive ``shop``'s default program; an active ``main`` of 1 point per 10.00 replaces it.

    ``starts`` is when ``main`` takes effect (the day before ``now`` unless given);
    ``definition`` adds to or overrides its fields (``reversal="other_lots"``).
    """
    from loyalty_plugin.services.earning.programs import archive_program, create_program

    archive_program(session, merchant_id="shop", key="default", now=now)
    rules = [{"kind": "per_amount", "points": "1", "per": "10"}]
    create_program(
        session,
        merchant_id="shop",
        definition={"key": "main", "name": "Main", "status": "active", "rules": rules} | definition,
        now=now - timedelta(days=1) if starts is None else starts,
        actor="test",
    )
    session.commit()


def balance(session: Session, host_id: str = "c1") -> int:
    """The balance of customer ``host_id``'s account, read afresh."""
    from sqlalchemy import select

    from loyalty_plugin.models import Account, Customer

    session.expire_all()
    return session.scalar(
        select(Account.balance).join(Customer).where(Customer.host_customer_id == host_id)
    )


def signed(
    body: dict[str, Any] | bytes,
    *,
    secret: str = SECRET,
    msg_id: str = "msg_1",
    timestamp: int | None = None,
) -> tuple[bytes, dict[str, str]]:
    """A body and the headers that sign it."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    ts = int(time.time()) if timestamp is None else timestamp
    headers = signature_headers([secret], msg_id=msg_id, timestamp=ts, body=raw)
    return raw, headers | {"content-type": "application/json"}


@pytest.fixture
def host(app: Any, now: datetime) -> Any:
    """The ``default`` merchant of the app with the published vector's secret."""
    with app.app_context():
        session = app.extensions["loyalty"].db.session
        create_merchant(session, merchant_id="default", name="Default", currency="EUR")
        create_secret(session, merchant_id="default", now=now, secret=SECRET)
        session.commit()
    return app


@pytest.fixture
def post(host: Any, client: Any) -> Callable[..., Any]:
    """Sign and post a body to ``/loyalty/webhooks``; returns the test client's response."""

    def post_(body: dict[str, Any] | bytes, **kwargs: Any) -> Any:
        raw, headers = signed(body, **kwargs)
        return client.post("/loyalty/webhooks", data=raw, headers=headers)

    return post_


def stored(app: Any) -> list[tuple[str, str, str | None]]:
    """Every inbox row as (webhook-id, status, type)."""
    from sqlalchemy import select

    from loyalty_plugin.models import WebhookEvent

    with app.app_context():
        session = app.extensions["loyalty"].db.session
        rows = session.execute(
            select(WebhookEvent.webhook_id, WebhookEvent.status, WebhookEvent.event_type).order_by(
                WebhookEvent.id
            )
        )
        return [(w, s.value, t) for w, s, t in rows]


def ledger_points(session_or_app: Any) -> list[tuple[str, int]]:
    """Every ledger entry as (kind, points), oldest first."""
    from sqlalchemy import select

    from loyalty_plugin.models import LedgerEntry

    query = select(LedgerEntry.kind, LedgerEntry.points).order_by(LedgerEntry.id)
    if isinstance(session_or_app, Session):
        return [(k.value, p) for k, p in session_or_app.execute(query)]
    with session_or_app.app_context():
        session = session_or_app.extensions["loyalty"].db.session
        return [(k.value, p) for k, p in session.execute(query)]


@pytest.fixture
def served(host: Any) -> Iterator[str]:
    """The webhook URL of ``host`` served over HTTP on a loopback port."""
    with serving(host) as base:
        yield f"{base}/loyalty/webhooks"
