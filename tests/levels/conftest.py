"""A host CRM talking to the app about membership levels: signed webhooks in, API calls out."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from itertools import count
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from loyalty_plugin.database import engine_options
from loyalty_plugin.domain.ledger import EntryKind
from loyalty_plugin.domain.signatures import signature_headers
from loyalty_plugin.models import Merchant
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.accounts import account_for_host_customer
from loyalty_plugin.services.merchants.api_keys import create_api_key
from loyalty_plugin.services.merchants.secrets import create_secret

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
API = "/loyalty/api/v1"
#: One point per 10.00: levels count money here, the rule only makes invoices earn.
TEN = {"kind": "per_amount", "points": "1", "per": "10"}
TIERS = [
    {"key": "bronze", "name": "Bronze", "threshold": "0"},
    {"key": "silver", "name": "Silver", "threshold": "10000",
     "point_value": {"points": 100, "amount": "1.00"}, "max_share_percent": "20",
     "price_points": 500, "duration_days": 30},
    {"key": "gold", "name": "Gold", "threshold": "20000", "multiplier": "1.5",
     "point_value": {"points": 100, "amount": "2.00"}, "max_share_percent": "50",
     "discounts": [{"percent": "10", "categories": ["shoes"]}]},
]  # fmt: skip


@pytest.fixture
def db(database_url: str, engine: sa.Engine) -> Iterator[Session]:
    """A committing session on a plain engine (no SQLite write lock held between requests)."""
    plain = sa.create_engine(database_url, **engine_options(database_url))
    with Session(plain, expire_on_commit=False) as session:
        yield session
    plain.dispose()


class Host:
    """Signed webhooks in, API calls with a key of the scope asked for."""

    def __init__(self, client: Any, keys: dict[str, str], db: Session) -> None:
        self.client, self.keys, self.db = client, keys, db
        self.ids = count(1)

    def send(self, kind: str, data: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(
            {"type": kind, "occurred_at": utcnow().isoformat(), "merchant_id": "shop",
             "data": data}
        ).encode()  # fmt: skip
        headers = signature_headers(
            [SECRET], msg_id=f"msg_{next(self.ids)}", timestamp=int(time.time()), body=body
        )
        answer = self.client.post(
            "/loyalty/webhooks", data=body, headers=headers | {"content-type": "application/json"}
        )
        assert answer.status_code == 200, answer.json
        return answer.json["result"]

    def call(self, method: str, path: str, body: Any = None, *, scope: str = "read") -> Any:
        """The answer of an API call (any status)."""
        headers = {
            "Authorization": f"Bearer {self.keys[scope]}",
            "Idempotency-Key": str(uuid.uuid4()),
        }
        return self.client.open(API + path, method=method, json=body, headers=headers)

    def api(self, method: str, path: str, body: Any = None, *, scope: str = "read") -> Any:
        answer = self.call(method, path, body, scope=scope)
        assert answer.status_code < 300, answer.json
        return answer.json

    def program(self, *, rounding: str = "down", **levels: Any) -> None:
        body = {"key": "main", "name": "Main", "status": "active", "rules": [TEN],
                "earning": {"rounding": rounding}, "levels": {"tiers": TIERS} | levels}  # fmt: skip
        self.api("POST", "/programs", body, scope="admin")

    def pay(
        self, customer: str, invoice: str, total: str, email: str | None = None, **more: Any
    ) -> dict[str, Any]:
        profile = {"id": customer, "first_name": "Ana"} | ({"email": email} if email else {})
        data = {"id": invoice, "customer": profile,
                "currency": "EUR", "total": total,
                "items": [{"id": "L1", "qty": 1, "total": total}]} | more  # fmt: skip
        return self.send("invoice.paid", {"invoice": data})

    def refund(self, invoice: str, refund: str, amount: str) -> dict[str, Any]:
        body = {"invoice_id": invoice, "refund": {"id": refund, "amount": amount}}
        return self.send("invoice.refunded", body)

    def level(self, customer: str) -> dict[str, Any]:
        found = self.api("GET", f"/customers/{customer}")
        return found["accounts"][0]["level"]

    def history(self, customer: str) -> list[dict[str, Any]]:
        return self.api("GET", f"/customers/{customer}/levels")["data"]

    def give_points(self, customer: str, points: int) -> None:
        """Credit points by hand (an adjustment: it never counts toward a level)."""
        account = account_for_host_customer(self.db, "shop", customer)
        ledger.earn(self.db, account_id=account.id, points=points, now=utcnow(),
                    actor="test", kind=EntryKind.ADJUST, reason="test")  # fmt: skip
        self.db.commit()


@pytest.fixture
def host(app: Flask, client: Any, db: Session) -> Host:
    """Merchant ``shop`` (EUR) with a webhook secret and a key of each scope."""
    db.add(Merchant(id="shop", name="Shop", currency="EUR"))
    db.flush()
    create_secret(db, merchant_id="shop", now=utcnow(), secret=SECRET)
    keys = {}
    for scope in ("admin", "write", "read"):
        _row, keys[scope] = create_api_key(
            db, merchant_id="shop", scope=scope, name=scope, now=utcnow()
        )
    db.commit()
    return Host(client, keys, db)
