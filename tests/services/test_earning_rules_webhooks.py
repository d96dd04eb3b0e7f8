"""The issue's scenarios end to end: programs set up through the API, invoices and refunds
sent as signed webhooks, points read back from the API's ledger with their breakdown."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from itertools import count
from typing import Any, ClassVar

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from loyalty_plugin.database import engine_options
from loyalty_plugin.domain.rules import Award, InvoiceContext, Rule
from loyalty_plugin.domain.signatures import signature_headers
from loyalty_plugin.hookspecs import hookimpl
from loyalty_plugin.models import Merchant
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.ledger.integrity import verify_ledger
from loyalty_plugin.services.merchants.api_keys import create_api_key
from loyalty_plugin.services.merchants.secrets import create_secret

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
API = "/loyalty/api/v1"
TEN = {"kind": "per_amount", "points": "1", "per": "10"}


@pytest.fixture
def db(database_url: str, engine: sa.Engine) -> Iterator[Session]:
    """A committing session on a plain engine (no SQLite write lock held between requests)."""
    plain = sa.create_engine(database_url, **engine_options(database_url))
    with Session(plain, expire_on_commit=False) as session:
        yield session
    plain.dispose()


class Host:
    """A host CRM talking to the app: signed webhooks in, API calls with keys."""

    def __init__(self, client: Any, keys: dict[str, str]) -> None:
        self.client = client
        self.keys = keys
        self.ids = count(1)

    def send(self, kind: str, data: dict[str, Any], merchant: str = "shop") -> dict[str, Any]:
        body = json.dumps(
            {"type": kind, "occurred_at": utcnow().isoformat(), "merchant_id": merchant,
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

    def api(self, method: str, path: str, body: Any = None, merchant: str = "shop") -> Any:
        scope = "admin" if "/programs" in path else "read"
        headers = {"Authorization": f"Bearer {self.keys[f'{merchant}:{scope}']}"}
        answer = self.client.open(API + path, method=method, json=body, headers=headers)
        assert answer.status_code < 300, answer.json
        return answer.json

    def program(self, key: str = "main", merchant: str = "shop", **definition: Any) -> None:
        body = {"key": key, "name": key.title(), "status": "active", "rules": [TEN]}
        self.api("POST", "/programs", body | definition, merchant=merchant)

    def balance(self, customer: str, merchant: str = "shop") -> int:
        found = self.api("GET", f"/customers/{customer}", merchant=merchant)
        return next(a["balance"] for a in found["accounts"] if a["merchant_id"] == merchant)

    def ledger(self, customer: str, merchant: str = "shop") -> list[dict[str, Any]]:
        return self.api("GET", f"/customers/{customer}/ledger", merchant=merchant)["data"]


@pytest.fixture
def host(app: Flask, client: Any, db: Session) -> Host:
    """Merchants ``shop`` and ``other`` (EUR), each with a secret, an admin and a read key."""
    keys = {}
    for merchant in ("shop", "other"):
        db.add(Merchant(id=merchant, name=merchant.title(), currency="EUR"))
        db.flush()
        create_secret(db, merchant_id=merchant, now=utcnow(), secret=SECRET)
        for scope in ("admin", "read"):
            _row, keys[f"{merchant}:{scope}"] = create_api_key(
                db, merchant_id=merchant, scope=scope, name=scope, now=utcnow()
            )
    db.commit()
    return Host(client, keys)


def paid(invoice_id: str, total: str, *items: dict[str, Any], **more: Any) -> dict[str, Any]:
    lines = list(items) or [{"id": "L1", "qty": 1, "total": total}]
    return {
        "invoice": {
            "id": invoice_id,
            "customer": {"id": "c1", "first_name": "Ana"},
            "currency": "EUR",
            "total": total,
            "items": lines,
        }
        | more
    }


@pytest.mark.parametrize(("rounding", "first", "second"), [("down", 58, 57), ("up", 57, 58)])
def test_1150_earns_115_and_refunding_half_reverses_by_rounding(
    host: Host, db: Session, rounding: str, first: int, second: int
) -> None:
    """115 points; a 575.00 refund reverses 58 or 57; the two halves reverse exactly 115."""
    host.program(earning={"rounding": rounding})
    assert host.send("invoice.paid", paid("INV-1", "1150.00"))["points_earned"] == 115
    refund = {"invoice_id": "INV-1", "refund": {"id": "R1", "amount": "575.00"}}
    assert host.send("invoice.refunded", refund)["points_reversed"] == first
    assert host.send("invoice.refunded", refund)["points_reversed"] == 0
    refund["refund"]["id"] = "R2"
    assert host.send("invoice.refunded", refund)["points_reversed"] == second
    assert host.balance("c1") == 0
    assert verify_ledger(db) == []


def test_the_ledger_shows_each_entrys_breakdown_and_edits_never_rewrite_it(host: Host) -> None:
    """The API ledger returns rule, line and version; a later rule edit leaves them alone."""
    host.program()
    host.send("invoice.paid", paid("INV-1", "200.00"))
    host.api("PATCH", "/programs/main", {"rules": [{**TEN, "points": "5"}]})
    assert host.send("invoice.paid", paid("INV-2", "200.00"))["points_earned"] == 100
    newest, oldest = host.ledger("c1")
    assert oldest["points"] == 20
    assert oldest["details"]["program"]["version"] == 1
    assert oldest["details"]["breakdown"][0] | {"exact": None} == {
        "rule": "per_amount",
        "kind": "per_amount",
        "line": "L1",
        "base": "200.00",
        "exact": None,
        "points": 20,
        "note": None,
    }
    assert newest["details"]["program"]["version"] == 2
    refund = {"invoice_id": "INV-1", "refund": {"id": "R1", "amount": "200.00"}}
    assert host.send("invoice.refunded", refund)["points_reversed"] == 20


def test_transaction_fee_points_are_spendable_with_that_seller_only(host: Host) -> None:
    """220 points with ``shop`` for its 220 fee; the same customer has 0 with ``other``."""
    host.program(rules=[{"kind": "transaction_fee", "points": "1", "per": "1"}])
    host.program(merchant="other")
    order = paid("ORD-1", "10000.00", transaction_fee="220.00")
    assert host.send("invoice.paid", order)["points_earned"] == 220
    host.send("customer.created", {"customer": {"id": "c1", "first_name": "Ana"}}, "other")
    assert (host.balance("c1"), host.balance("c1", "other")) == (220, 0)


@pytest.mark.parametrize(("combination", "points"), [("stack", 280), ("best", 200)])
def test_progressive_and_segmented_programs_combine(
    host: Host, combination: str, points: int
) -> None:
    """200 (progressive) + 80 (segmented) when they add up; 200 when the best one wins."""
    progressive = {
        "kind": "progressive",
        "brackets": [{"up_to": "1000", "points": "1", "per": "10"}, {"points": "2", "per": "10"}],
    }
    segmented = {"kind": "segmented", "brackets": [{"from": "1000", "to": None, "points": 80}]}
    host.program("prog", rules=[progressive], combination=combination)
    host.program("seg", rules=[segmented], combination=combination)
    assert host.send("invoice.paid", paid("INV-1", "1500.00"))["points_earned"] == points


def test_a_gift_card_earns_nothing_and_tax_is_left_out(host: Host) -> None:
    """Only the 100.00 shirt earns: not the gift card, not the 120.00 tax."""
    host.program()
    order = paid(
        "INV-1",
        "720.00",
        {"id": "gc", "qty": 1, "total": "500.00", "tags": ["gift_card"]},
        {"id": "shirt", "qty": 1, "total": "100.00"},
        tax_total="120.00",
    )
    assert host.send("invoice.paid", order)["points_earned"] == 10


def test_a_birthday_sent_twice_in_a_year_earns_once(host: Host) -> None:
    """The birthday rule gives 100 once in 2026, whatever the deliveries."""
    host.program(rules=[{"kind": "birthday", "points": 100}])
    host.send("customer.created", {"customer": {"id": "c1", "first_name": "Ana"}})
    birthday = {"customer_id": "c1", "date": "2026-03-05"}
    assert host.send("customer.birthday", birthday)["points_earned"] == 100
    assert host.send("customer.birthday", birthday)["points_earned"] == 0
    assert host.balance("c1") == 100


def test_registration_and_custom_events_earn_by_their_rules(host: Host) -> None:
    """A registration bonus once, and a 5-star review within its monthly limit."""
    review = {"kind": "custom_event", "name": "review", "when": {"stars": 5}, "points": 30}
    host.program(rules=[{"kind": "registration", "points": 50}, review])
    created = host.send("customer.created", {"customer": {"id": "c1", "first_name": "Ana"}})
    assert created["points_earned"] == 50
    event = {"customer_id": "c1", "name": "review", "properties": {"stars": 5}}
    assert host.send("event.custom", event)["points_earned"] == 30
    assert host.send("event.custom", event)["points_earned"] == 0
    assert host.balance("c1") == 80


def test_each_payment_earns_its_share(host: Host) -> None:
    """A program earning on each payment gives 57 then 58 for two halves of 1,150.00."""
    host.program(earn_on="each_payment")
    invoice = paid("INV-1", "1150.00")
    first = host.send(
        "invoice.payment_recorded", invoice | {"payment": {"id": "P1", "amount": "575.00"}}
    )
    assert first["points_earned"] == 57
    second = host.send(
        "invoice.payment_recorded", invoice | {"payment": {"id": "P2", "amount": "575.00"}}
    )
    assert second["points_earned"] == 58
    assert host.balance("c1") == 115


def test_pending_points_show_apart_until_the_return_window_ends(host: Host) -> None:
    """With 14 pending days the API shows the 115 points as pending, none spendable yet."""
    host.program(pending_days=14)
    host.send("invoice.paid", paid("INV-1", "1150.00"))
    found = host.api("GET", "/customers/c1")
    standing = next(a for a in found["accounts"] if a["merchant_id"] == "shop")
    assert (standing["balance"], standing["pending"], standing["available"]) == (115, 115, 0)
    assert host.ledger("c1")[0]["details"]["pending_until"] is not None


@dataclass(frozen=True, kw_only=True)
class WebOrderBonus(Rule):
    """A plugin's rule kind: fixed points on invoices whose id starts with ``WEB-``."""

    kind: ClassVar[str] = "web_order_bonus"
    points: int = 0

    @classmethod
    def options(cls, config: dict[str, Any]) -> dict[str, Any]:
        return {"points": int(config["points"])}

    def invoice_awards(self, ctx: InvoiceContext) -> list[Award]:
        if ctx.invoice.id.startswith("WEB-") and ctx.lines:
            return [self.award(Decimal(self.points), note="web order")]
        return []


class RuleKindsPlugin:
    @hookimpl
    def register_earning_rules(self) -> list[type[Rule]]:
        return [WebOrderBonus]


def test_hook_register_earning_rules_adds_a_rule_kind_programs_can_use(
    host: Host, app: Flask
) -> None:
    """Unknown until a plugin registers it; then a program uses it and invoices earn by it."""
    rule = {"kind": "web_order_bonus", "points": 7}
    refused = host.client.post(
        API + "/programs",
        json={"key": "web", "name": "Web", "rules": [rule]},
        headers={"Authorization": f"Bearer {host.keys['shop:admin']}"},
    )
    assert refused.status_code == 422
    assert "unknown rule kind" in refused.json["error"]["fields"]["rules.0.kind"][0]
    app.extensions["loyalty"].plugin_manager.register(RuleKindsPlugin())
    host.program("web", rules=[rule])
    assert host.send("invoice.paid", paid("WEB-1", "10.00"))["points_earned"] == 7
    assert host.send("invoice.paid", paid("SHOP-1", "10.00"))["points_earned"] == 0
