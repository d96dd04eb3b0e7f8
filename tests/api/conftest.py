"""Fixtures for the JSON API: a merchant, keys of each scope, customers with lots, a client."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from loyalty_plugin import create_app
from loyalty_plugin.database import engine_options
from loyalty_plugin.models import Account, ApiScope, Customer, Merchant
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.merchants.api_keys import create_api_key
from loyalty_plugin.services.spending.settings import update_settings
from tests.conftest import wipe

PREFIX = "/loyalty/api/v1"


@dataclass
class Api:
    """The test client with a key: ``api.post("/redemptions", {...})``."""

    client: Any
    keys: dict[str, str]
    scope: str = "write"
    sent: list[str] = field(default_factory=list)

    def headers(self, scope: str | None, idempotency_key: str | None) -> dict[str, str]:
        headers = {}
        if scope is not None:
            headers["Authorization"] = f"Bearer {self.keys[scope]}"
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        return headers

    def get(self, path: str, *, scope: str | None = "read", **query: Any) -> Any:
        return self.client.get(PREFIX + path, query_string=query, headers=self.headers(scope, None))

    def post(
        self,
        path: str,
        body: Any = None,
        *,
        scope: str | None = "write",
        key: str | None = "new",
        method: str = "POST",
    ) -> Any:
        """POST ``body``; ``key="new"`` sends a fresh Idempotency-Key, ``None`` sends none."""
        if key == "new":
            key = str(uuid.uuid4())
        return self.client.open(
            PREFIX + path, method=method, json=body, headers=self.headers(scope, key)
        )

    def patch(self, path: str, body: Any, *, scope: str = "admin", **query: Any) -> Any:
        return self.client.patch(
            PREFIX + path, json=body, query_string=query, headers=self.headers(scope, None)
        )


@pytest.fixture
def db(database_url: str, engine: sa.Engine) -> Iterator[Session]:
    """A session for setting up and checking data, committing for real.

    Its engine leaves out SQLite's ``BEGIN IMMEDIATE``, so that reading between two
    requests does not hold the write lock the app's requests need.
    """
    plain = sa.create_engine(database_url, **engine_options(database_url))
    with Session(plain, expire_on_commit=False) as session:
        yield session
    plain.dispose()


@pytest.fixture
def shop(app: Flask, db: Session) -> str:
    """The ``shop`` merchant (EUR), plus ``other`` to test that tenants stay apart."""
    db.add_all(
        [
            Merchant(id="shop", name="Shop", currency="EUR"),
            Merchant(id="other", name="Other", currency="EUR"),
        ]
    )
    db.commit()
    return "shop"


@pytest.fixture
def keys(db: Session, shop: str) -> dict[str, str]:
    """One key per scope for ``shop``, one for ``other``, and a host key covering both."""
    made = {}
    for scope in ApiScope:
        _row, made[scope.value] = create_api_key(
            db, merchant_id=shop, scope=scope, name=f"test {scope}", now=utcnow()
        )
    _row, made["other"] = create_api_key(
        db, merchant_id="other", scope="admin", name="other", now=utcnow()
    )
    _row, made["host"] = create_api_key(
        db, merchant_id=shop, scope="admin", name="host", now=utcnow(), also_merchants=["other"]
    )
    db.commit()
    return made


@pytest.fixture
def api(client: Any, keys: dict[str, str]) -> Api:
    return Api(client=client, keys=keys)


@pytest.fixture
def customer(db: Session, shop: str) -> Callable[..., Account]:
    """``customer("42", 100, 50)``: a customer of ``shop`` with one lot per number."""

    def make(
        host_id: str,
        *lots: int,
        merchant_id: str = "shop",
        expires_in: list[int] | None = None,
        now: datetime | None = None,
    ) -> Account:
        now = now or utcnow()
        person = Customer(merchant_id=merchant_id, host_customer_id=host_id, first_name="Ana")
        db.add(person)
        db.flush()
        account = Account(merchant_id=merchant_id, customer_id=person.id)
        db.add(account)
        db.flush()
        for i, points in enumerate(lots):
            days = expires_in[i] if expires_in else 365
            ledger.earn(
                db,
                account_id=account.id,
                points=points,
                now=now - timedelta(days=1),
                actor="test",
                expires_at=now + timedelta(days=days),
            )
        db.commit()
        return account

    return make


@pytest.fixture
def configure(db: Session, shop: str) -> Callable[..., None]:
    """Change ``shop``'s spending settings."""

    def set_(**changes: Any) -> None:
        update_settings(db, merchant_id=shop, changes=changes, now=utcnow(), actor="test")
        db.commit()

    return set_


def invoice(total: str = "100.00", **extra: Any) -> dict[str, Any]:
    """A draft invoice in EUR with no tax or shipping."""
    return {"id": "INV-1", "currency": "EUR", "subtotal": total, "total": total} | extra


@pytest.fixture
def wide_app(database_url: str, engine: sa.Engine, tmp_path: Path) -> Iterator[Flask]:
    """The service with a connection pool big enough for 32 requests at once."""
    app = create_app(
        {
            "TESTING": True,
            "LOYALTY_DATABASE_URL": database_url,
            "LOYALTY_SECRET_KEY": "test-secret-key",
            "SQLALCHEMY_ENGINE_OPTIONS": engine_options(database_url)
            | ({"pool_size": 40} if not database_url.startswith("sqlite") else {}),
        }
    )
    yield app
    with app.app_context():
        app.extensions["loyalty"].db.engine.dispose()
    wipe(engine)
