"""The floor of a signed event: what issue 20's eight statements cost with no rules at all.

A Flask app that gunicorn serves beside the real one in ``bench/webhooks.py``. Its
``POST /loyalty/webhooks`` does the least a new-invoice event must: it verifies the
Standard Webhooks signature with the product's own verifier, parses the JSON body, and runs
eight single-row statements in one transaction on scratch tables: the merchant's secret,
the inbox row, the account locked, the invoice, the entry, the lot, the balance and the
inbox row's outcome. No validation schema, no rules, no levels, no hooks, no ORM.

``LOYALTY_FLOOR_DRIVER`` picks how the statements reach PostgreSQL: ``core`` (SQLAlchemy
Core on a pooled engine, as the product's stack) or ``psycopg`` (the driver alone, one
connection per thread). Its events/s against the real ``GET /health`` of the same run is
the highest share any write path on that stack could reach.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg
import sqlalchemy as sa
from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue

from loyalty_plugin.domain.signatures import SignatureError, verify

DRIVER_VARIABLE = "LOYALTY_FLOOR_DRIVER"
DRIVERS = ("core", "psycopg")

metadata = sa.MetaData()
merchants = sa.Table(
    "floor_merchants",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("secret", sa.String(100), nullable=False),
)
inbox = sa.Table(
    "floor_inbox",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
    sa.Column("webhook_id", sa.String(255), nullable=False, unique=True),
    sa.Column("status", sa.String(20), nullable=False),
)
accounts = sa.Table(
    "floor_accounts",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("balance", sa.BigInteger, nullable=False),
)
invoices = sa.Table(
    "floor_invoices",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
    sa.Column("host_invoice_id", sa.String(64), nullable=False, unique=True),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("total", sa.Numeric(14, 2), nullable=False),
)
entries = sa.Table(
    "floor_entries",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("points", sa.BigInteger, nullable=False),
    sa.Column("idempotency_key", sa.String(255), nullable=False, unique=True),
)
lots = sa.Table(
    "floor_lots",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
    sa.Column("entry_id", sa.BigInteger, nullable=False),
    sa.Column("remaining", sa.BigInteger, nullable=False),
)


def create_floor_tables(engine: sa.Engine, *, secret: str, customers: int) -> None:
    """The scratch tables, one merchant ``default`` and an account per customer ``c<n>``."""
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(merchants.insert(), [{"id": "default", "secret": secret}])
        connection.execute(
            accounts.insert(), [{"id": f"c{n}", "balance": 0} for n in range(customers)]
        )


def points_of(total: str) -> int:
    """A point per 10.00, as the default program of the benchmark earns."""
    return int(Decimal(total) // 10)


Store = Callable[[str, str, str, str, int], None]


def core_store(url: str) -> Store:
    """The eight statements through SQLAlchemy Core on a pooled engine."""
    engine = sa.create_engine(url, pool_size=10)

    def store(merchant_id: str, webhook_id: str, invoice_id: str, customer_id: str,
              points: int) -> None:  # fmt: skip
        with engine.begin() as connection:
            connection.execute(sa.select(merchants.c.secret).where(merchants.c.id == merchant_id))
            inbox_id = connection.execute(
                inbox.insert()
                .values(webhook_id=webhook_id, status="received")
                .returning(inbox.c.id)
            ).scalar_one()
            connection.execute(
                sa.select(accounts.c.balance).where(accounts.c.id == customer_id).with_for_update()
            ).scalar_one()
            connection.execute(
                invoices.insert().values(
                    host_invoice_id=invoice_id, account_id=customer_id, total=points
                )
            )
            entry_id = connection.execute(
                entries.insert()
                .values(account_id=customer_id, points=points, idempotency_key=invoice_id)
                .returning(entries.c.id)
            ).scalar_one()
            connection.execute(lots.insert().values(entry_id=entry_id, remaining=points))
            connection.execute(
                accounts.update()
                .where(accounts.c.id == customer_id)
                .values(balance=accounts.c.balance + points)
            )
            connection.execute(
                inbox.update().where(inbox.c.id == inbox_id).values(status="processed")
            )

    return store


def psycopg_store(url: str) -> Store:
    """The same eight statements through psycopg alone, one connection per thread."""
    parsed = sa.engine.make_url(url)
    conninfo = psycopg.conninfo.make_conninfo(
        host=parsed.host, port=parsed.port or 5432, user=parsed.username,
        password=parsed.password or "", dbname=parsed.database,
    )  # fmt: skip
    local = threading.local()

    def store(merchant_id: str, webhook_id: str, invoice_id: str, customer_id: str,
              points: int) -> None:  # fmt: skip
        if not hasattr(local, "connection"):
            local.connection = psycopg.connect(conninfo)
        connection = local.connection
        with connection.transaction(), connection.cursor() as cursor:
            cursor.execute("SELECT secret FROM floor_merchants WHERE id = %s", (merchant_id,))
            cursor.fetchone()
            cursor.execute(
                "INSERT INTO floor_inbox (webhook_id, status) VALUES (%s, 'received') RETURNING id",
                (webhook_id,),
            )
            (inbox_id,) = cursor.fetchone()
            cursor.execute(
                "SELECT balance FROM floor_accounts WHERE id = %s FOR UPDATE", (customer_id,)
            )
            cursor.fetchone()
            cursor.execute(
                "INSERT INTO floor_invoices (host_invoice_id, account_id, total)"
                " VALUES (%s, %s, %s)",
                (invoice_id, customer_id, points),
            )
            cursor.execute(
                "INSERT INTO floor_entries (account_id, points, idempotency_key)"
                " VALUES (%s, %s, %s) RETURNING id",
                (customer_id, points, invoice_id),
            )
            (entry_id,) = cursor.fetchone()
            cursor.execute(
                "INSERT INTO floor_lots (entry_id, remaining) VALUES (%s, %s)", (entry_id, points)
            )
            cursor.execute(
                "UPDATE floor_accounts SET balance = balance + %s WHERE id = %s",
                (points, customer_id),
            )
            cursor.execute("UPDATE floor_inbox SET status = 'processed' WHERE id = %s", (inbox_id,))

    return store


def create_floor_app(url: str | None = None, driver: str | None = None) -> Flask:
    """The floor app on ``url`` (default ``LOYALTY_DATABASE_URL``) with ``driver``."""
    url = url or os.environ["LOYALTY_DATABASE_URL"]
    driver = driver or os.environ.get(DRIVER_VARIABLE, "core")
    if driver not in DRIVERS:
        raise ValueError(f"{DRIVER_VARIABLE} must be one of {', '.join(DRIVERS)}")
    store = core_store(url) if driver == "core" else psycopg_store(url)
    secret = _merchant_secret(url)
    app = Flask(__name__)

    @app.get("/loyalty/health")
    def health() -> ResponseReturnValue:
        return jsonify(status="ok", driver=driver)

    @app.post("/loyalty/webhooks")
    def receive() -> ResponseReturnValue:
        body = request.get_data()
        headers = {name.lower(): value for name, value in request.headers.items()}
        try:
            verify([secret], headers=headers, body=body, now=datetime.now(UTC))
        except SignatureError as error:
            return jsonify(error=str(error)), 401
        invoice: dict[str, Any] = json.loads(body)["data"]["invoice"]
        points = points_of(invoice["total"])
        store("default", headers["webhook-id"], invoice["id"], invoice["customer_id"], points)
        return jsonify(status="processed", points=points)

    return app


def _merchant_secret(url: str) -> str:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(
                sa.select(merchants.c.secret).where(merchants.c.id == "default")
            ).scalar_one()
    finally:
        engine.dispose()
