"""How fast are ``POST /checkout/quote`` and hold + capture for a customer with 5,000 lots?

Each client is a thread with its own Flask test client and its own customer (5,000 open
lots by default), so the figures show the cost of the whole API path (key check,
parsing, FIFO over the lots, commit) and of the database under concurrency, not of
customers waiting for each other's account lock. Requests run in-process through WSGI.

    python bench/quote.py                       # 1 and 8 clients, 200 samples each
    python bench/quote.py --lots 500 --samples 30 --clients 1   # a smoke run

Then, with a program with levels (lots earned alternately at Bronze and Gold), quotes by
one client at the current level's value (the baseline) and at each lot's earning level
(fallback redemption, which reads every open lot), in the same run.
"""

from __future__ import annotations

import argparse
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from _common import Samples, add_database_arguments, fresh_database, quiet_gc, settle, step, table
from sqlalchemy.orm import Session

from loyalty_plugin import create_app
from loyalty_plugin.models import Account, Customer, LedgerEntry, Lot, Merchant, Program
from loyalty_plugin.services.earning.programs import create_program, update_program
from loyalty_plugin.services.merchants.api_keys import create_api_key

PREFIX = "/loyalty/api/v1"


def load_customers(engine: sa.Engine, *, customers: int, lots: int) -> str:
    """A merchant, ``customers`` customers with ``lots`` open lots each; returns an API key."""
    now = datetime.now(UTC)
    with Session(engine) as session:
        session.add(Merchant(id="bench", name="Bench", currency="EUR"))
        session.flush()
        _key, token = create_api_key(
            session, merchant_id="bench", scope="write", name="bench", now=now
        )
        for number in range(customers):
            customer = Customer(merchant_id="bench", host_customer_id=f"c{number}", first_name="B")
            session.add(customer)
            session.flush()
            account = Account(merchant_id="bench", customer_id=customer.id, balance=0)
            session.add(account)
            session.flush()
            _lots(session, account, lots, now)
        session.commit()
    return token


def _lots(session: Session, account: Account, count: int, now: datetime) -> None:
    """``count`` earn entries of 100 points, each with its lot, expiring over two years."""
    rows = [
        {
            "merchant_id": "bench",
            "account_id": account.id,
            "kind": "earn",
            "points": 100,
            "balance_after": 100 * (i + 1),
            "actor": "bench",
            "created_at": now - timedelta(days=1),
        }
        for i in range(count)
    ]
    ids = session.scalars(sa.insert(LedgerEntry).returning(LedgerEntry.id), rows).all()
    session.execute(
        sa.insert(Lot),
        [
            {
                "merchant_id": "bench",
                "account_id": account.id,
                "entry_id": entry_id,
                "points": 100,
                "remaining": 100,
                "earned_at": now - timedelta(days=1),
                "available_from": now - timedelta(days=1),
                "expires_at": now + timedelta(days=30 + i % 700),
                "level": ("bronze", "gold")[i % 2],
            }
            for i, entry_id in enumerate(ids)
        ],
    )
    account.balance = account.lifetime_earned = 100 * count


TEN = {"kind": "per_amount", "points": "1", "per": "10"}
LEVELS = {
    "tiers": [
        {"key": "bronze", "threshold": "0"},
        {"key": "gold", "threshold": "1000", "point_value": {"points": 100, "amount": "2.00"}},
    ]
}


def set_redeem_at(engine: sa.Engine, redeem_at: str) -> None:
    """Give the merchant a program with levels that redeem at ``redeem_at``."""
    now = datetime.now(UTC)
    levels = LEVELS | {"redeem_at": redeem_at}
    definition = {"key": "main", "name": "Main", "status": "active", "rules": [TEN],
                  "levels": levels}  # fmt: skip
    with Session(engine) as session:
        if session.scalar(sa.select(sa.func.count()).select_from(Program)):
            changes = {"levels": levels}
            update_program(session, merchant_id="bench", key="main", changes=changes, now=now,
                           actor="bench")  # fmt: skip
        else:
            create_program(session, merchant_id="bench", definition=definition, now=now,
                           actor="bench")  # fmt: skip
        session.commit()


def quotes_only(app: Any, token: str, *, name: str, samples: int, warmup: int) -> Samples:
    """One client's quotes for customer ``c0``."""
    client, found = app.test_client(), Samples(name)
    auth = {"Authorization": f"Bearer {token}"}
    body = {"customer_id": "c0", "invoice": {"currency": "EUR", "total": "50.00"}}
    for i in range(warmup + samples):
        mine = Samples("q")
        mine.time(lambda: _ok(client.post(f"{PREFIX}/checkout/quote", json=body, headers=auth)))
        if i >= warmup:
            found.ns += mine.ns
    return found


def run(app: Any, token: str, *, clients: int, samples: int, warmup: int) -> list[Samples]:
    """Time quotes and hold + capture pairs from ``clients`` threads at once."""
    quotes, holds = Samples(f"quote x{clients}"), Samples(f"hold+capture x{clients}")
    lock = threading.Lock()
    start = threading.Barrier(clients)
    auth = {"Authorization": f"Bearer {token}"}

    def client_loop(number: int) -> None:
        client = app.test_client()
        body = {"customer_id": f"c{number}", "invoice": {"currency": "EUR", "total": "50.00"}}
        start.wait()
        for i in range(warmup + samples):
            mine_q, mine_h = Samples("q"), Samples("h")
            mine_q.time(
                lambda: _ok(client.post(f"{PREFIX}/checkout/quote", json=body, headers=auth))
            )
            # The phase's client count is part of the invoice id: holds on an invoice paid in
            # an earlier phase are refused (409 "already paid with points").
            invoice = body["invoice"] | {"id": f"x{clients}-{number}-{i}"}
            hold = body | {"points": 1, "invoice": invoice}
            mine_h.time(lambda h=hold: _hold_and_capture(client, h, auth))
            if i >= warmup:
                with lock:
                    quotes.ns += mine_q.ns
                    holds.ns += mine_h.ns

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client_loop, range(clients)))
    return [quotes, holds]


def _hold_and_capture(client: Any, body: dict[str, Any], auth: dict[str, str]) -> None:
    held = _ok(
        client.post(
            f"{PREFIX}/redemptions",
            json=body,
            headers=auth | {"Idempotency-Key": str(uuid.uuid4())},
        )
    )
    _ok(
        client.post(
            f"{PREFIX}/redemptions/{held['id']}/capture",
            json={},
            headers=auth | {"Idempotency-Key": str(uuid.uuid4())},
        )
    )


def _ok(response: Any) -> Any:
    if response.status_code >= 300:
        raise SystemExit(f"{response.status_code}: {response.get_data(as_text=True)}")
    return response.json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_database_arguments(parser)
    parser.add_argument("--lots", type=int, default=5000, help="open lots per customer")
    parser.add_argument("--samples", type=int, default=200, help="timed requests per client")
    parser.add_argument("--warmup", type=int, default=20, help="untimed requests per client")
    parser.add_argument("--clients", default="1,8", help="comma-separated client counts")
    args = parser.parse_args()
    counts = [int(c) for c in args.clients.split(",")]
    with fresh_database(args.url, keep=args.keep, sql=args.sql) as engine:
        with step(f"loading {max(counts)} customers x {args.lots} lots"):
            token = load_customers(engine, customers=max(counts), lots=args.lots)
            settle(engine)
        url = engine.url.render_as_string(hide_password=False)
        app = create_app(
            {
                "LOYALTY_DATABASE_URL": url,
                "LOYALTY_SECRET_KEY": "bench",
                "LOYALTY_PLUGIN_ENTRY_POINTS": False,
                "LOYALTY_SCHEDULER": "off",
                "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": max(counts) + 2},
            }
        )
        results = []
        for clients in counts:
            quiet_gc()
            with step(f"{clients} client(s)"):
                results += run(
                    app, token, clients=clients, samples=args.samples, warmup=args.warmup
                )
        for redeem_at in ("current_level", "earning_level"):
            set_redeem_at(engine, redeem_at)
            quiet_gc()
            with step(f"levels, {redeem_at}"):
                results.append(
                    quotes_only(
                        app,
                        token,
                        name=f"quote x1, levels at {redeem_at}",
                        samples=args.samples,
                        warmup=args.warmup,
                    )
                )
        with app.app_context():
            app.extensions["loyalty"].db.engine.dispose()
    print()
    print(table(["operation", "samples", "p50 ms", "p99 ms"], [
        (s.name, len(s.ns), s.p50, s.p99) for s in results
    ]))  # fmt: skip


if __name__ == "__main__":
    main()
