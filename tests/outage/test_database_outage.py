"""The database goes away under load and comes back: nothing lost, nothing twice (issue 12).

A PostgreSQL server of this module's own (``postgres.py``) serves gunicorn; a burst of
signed webhooks and API writes runs while the server is stopped and started again. The
scheduler's side: a job cut off by the outage resumes on its next run.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty_plugin import create_app, migrations
from loyalty_plugin.domain.ledger import EntryKind
from loyalty_plugin.domain.signatures import signature_headers
from loyalty_plugin.extensions import loyalty_state
from loyalty_plugin.jobs.runner import JobRunner
from loyalty_plugin.models import (
    Account,
    Adjustment,
    ApiScope,
    Customer,
    LedgerEntry,
    Merchant,
    WebhookEvent,
)
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.plugins import bind_session
from loyalty_plugin.services.intake.webhooks import IntakeSettings, retry_due
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.integrity import verify_ledger
from loyalty_plugin.services.merchants.api_keys import create_api_key
from loyalty_plugin.services.merchants.registration import create_merchant
from loyalty_plugin.services.merchants.secrets import create_secret
from tests.conftest import make_engine
from tests.outage.postgres import OwnPostgres, free_port

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
TIMEOUT = 2  # LOYALTY_DATABASE_TIMEOUT_SECONDS of the served app
#: Longest any answer may take while the database is away (timeout plus slack for CI).
PATIENCE = TIMEOUT + 6
ITEMS = 60  # 40 webhooks and 20 API writes, each for its own customer


@pytest.fixture(scope="module")
def server(pytestconfig: pytest.Config) -> Iterator[OwnPostgres]:
    """A migrated PostgreSQL of our own (skipped when the run excludes PostgreSQL)."""
    if "postgresql" not in pytestconfig.getoption("backends"):
        pytest.skip("the outage tests run on PostgreSQL (--backends excludes it)")
    pg = OwnPostgres()
    try:
        pg.start()
        pg.create_database()
        engine = make_engine(pg.url)
        migrations.upgrade(engine)
        engine.dispose()
        yield pg
    finally:
        pg.destroy()


@pytest.fixture(scope="module")
def engine(server: OwnPostgres) -> Iterator[sa.Engine]:
    engine = make_engine(server.url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def api_key(engine: sa.Engine) -> str:
    """Merchant ``shop`` with a signing secret, a write key and customers c0..c59."""
    with Session(engine) as session:
        # Made as the service makes merchants: with the default program, so invoices earn.
        create_merchant(session, merchant_id="shop", name="Shop", currency="EUR")
        create_secret(session, merchant_id="shop", now=utcnow(), secret=SECRET)
        session.add_all(
            Customer(merchant_id="shop", host_customer_id=f"c{n}", first_name="C")
            for n in range(ITEMS)
        )
        _row, key = create_api_key(
            session, merchant_id="shop", scope=ApiScope.WRITE, name="host", now=utcnow()
        )
        session.commit()
    return key


@dataclass
class Gunicorn:
    port: int
    process: subprocess.Popen

    def get(self, path: str) -> tuple[int, dict, dict]:
        return self.request("GET", path, b"", {})

    def request(
        self, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, dict, dict]:
        """Status, headers and JSON body; a hang past PATIENCE raises (socket timeout)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=PATIENCE)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            raw = response.read()
            return response.status, dict(response.getheaders()), json.loads(raw or b"{}")
        finally:
            connection.close()


@pytest.fixture(scope="module")
def served(server: OwnPostgres, api_key: str) -> Iterator[Gunicorn]:
    """gunicorn (2 workers, 4 threads) serving the app on the server, no scheduler."""
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent))
    assert gunicorn, "gunicorn is in the test extra: pip install -e '.[test]'"
    port = free_port()
    instance = tempfile.mkdtemp(prefix="loyalty-outage-app-")
    env = os.environ | {
        "LOYALTY_DATABASE_URL": server.url,
        "LOYALTY_INSTANCE_PATH": instance,
        "LOYALTY_SECRET_KEY": "outage",
        "LOYALTY_PLUGIN_ENTRY_POINTS": "false",
        "LOYALTY_SCHEDULER": "off",
        "LOYALTY_DATABASE_TIMEOUT_SECONDS": str(TIMEOUT),
        "LOYALTY_RETRY_BASE_SECONDS": "1",
    }
    command = [
        gunicorn, "--bind", f"127.0.0.1:{port}", "--workers", "2", "--worker-class", "gthread",
        "--threads", "4", "--log-level", "warning", "loyalty_plugin:create_app()",
    ]  # fmt: skip
    process = subprocess.Popen(command, env=env)
    app = Gunicorn(port, process)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if app.get("/loyalty/health")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
        yield app
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(instance, ignore_errors=True)


@dataclass(frozen=True)
class Item:
    """One host request: a signed invoice.paid, or an API adjustment with its key."""

    number: int

    @property
    def is_webhook(self) -> bool:
        return self.number % 3 != 2

    def send(self, app: Gunicorn, api_key: str) -> tuple[int, dict, dict, float]:
        """Send (or re-send: same webhook-id, same Idempotency-Key); status, headers, body, s."""
        started = time.monotonic()
        if self.is_webhook:
            body = json.dumps(
                {
                    "type": "invoice.paid",
                    "merchant_id": "shop",
                    "occurred_at": "2026-03-01T10:00:00Z",
                    "data": {
                        "invoice": {
                            "id": f"INV-{self.number}",
                            "customer_id": f"c{self.number}",
                            "currency": "EUR",
                            "total": "100.00",
                            "items": [{"id": "L1", "qty": 1, "total": "100.00"}],
                        }
                    },
                }
            ).encode()
            headers = signature_headers(
                [SECRET], msg_id=f"wh-{self.number}", timestamp=int(time.time()), body=body
            )
            headers["Content-Type"] = "application/json"
            answer = app.request("POST", "/loyalty/webhooks", body, headers)
        else:
            body = json.dumps(
                {"customer_id": f"c{self.number}", "points": 7, "reason": "goodwill", "staff": "a"}
            ).encode()
            headers = {
                "Authorization": f"Bearer {api_key}",
                "Idempotency-Key": f"adj-{self.number}",
                "Content-Type": "application/json",
            }
            answer = app.request("POST", "/loyalty/api/v1/adjustments", body, headers)
        return (*answer, time.monotonic() - started)


def burst(app: Gunicorn, api_key: str, items: list[Item]) -> dict[Item, tuple]:
    with ThreadPoolExecutor(6) as pool:
        answers = pool.map(lambda item: item.send(app, api_key), items)
        return dict(zip(items, answers, strict=True))


def assert_unavailable_answer(status: int, headers: dict, body: dict, seconds: float) -> None:
    assert seconds < PATIENCE
    assert status == 503, (status, body)
    assert headers["Retry-After"].isdigit()
    assert body["error"]["code"] == "database_unavailable"
    assert "Traceback" not in json.dumps(body)


def test_a_burst_through_a_database_outage_earns_every_invoice_once(
    server, served, api_key, engine
) -> None:
    """Stopped mid-burst: 503s with Retry-After, health says so, recovery, re-sends apply once."""
    items = [Item(n) for n in range(ITEMS)]
    before, during, down = items[:20], items[20:40], items[40:]
    answers = burst(served, api_key, before)
    assert {a[0] for a in answers.values()} <= {200, 201}, answers

    with ThreadPoolExecutor(1) as pool:
        cut = pool.submit(lambda: (time.sleep(0.05), server.stop("immediate")))
        answers |= burst(served, api_key, during)
        cut.result()
    # Mid-burst an answer is success, stored for a retry (202), or 503; never a 500.
    assert {a[0] for a in answers.values()} <= {200, 201, 202, 503}, answers
    for status, headers, body, seconds in answers.values():
        if status == 503:
            assert_unavailable_answer(status, headers, body, seconds)

    answers |= burst(served, api_key, down)
    for item in down:
        assert_unavailable_answer(*answers[item])
    status, headers, body = served.get("/loyalty/health")
    assert (status, body) == (503, {"status": "unavailable", "database": "unreachable"})
    assert headers["Retry-After"].isdigit()
    time.sleep(2)  # a few seconds of outage

    server.start()
    deadline = time.monotonic() + 15
    while served.get("/loyalty/health")[0] != 200:
        assert time.monotonic() < deadline, "the service did not recover by itself"
        time.sleep(0.2)
    assert served.process.poll() is None, "gunicorn was not restarted"

    # The host re-sends what did not get a 2xx, until everything has one. An API write whose
    # Idempotency-Key was claimed just before the cut, with nothing done, answers 409
    # idempotency_key_in_use until the claim is 5 minutes old and can be taken over.
    for _round in range(5):
        again = [item for item, answer in answers.items() if answer[0] >= 300]
        again = [item for item in again if not key_in_use(answers[item])]
        if not again:
            break
        answers |= burst(served, api_key, again)
    unfinished = {i: a[0] for i, a in answers.items() if a[0] >= 300 and not key_in_use(a)}
    assert not unfinished
    stuck = [item for item, answer in answers.items() if key_in_use(answer)]
    assert all(not item.is_webhook for item in stuck)

    settle_stored_events(server)
    assert_applied_once(engine, items, stuck=stuck)


def key_in_use(answer: tuple) -> bool:
    status, _headers, body, _seconds = answer
    return status == 409 and body["error"]["code"] == "idempotency_key_in_use"


def settle_stored_events(server: OwnPostgres) -> None:
    """Retry the events stored for a retry (202), as ``retry-host-events`` will once due."""
    app = create_app(
        {
            "LOYALTY_DATABASE_URL": server.url,
            "LOYALTY_SECRET_KEY": "outage",
            "LOYALTY_PLUGIN_ENTRY_POINTS": False,
        }
    )
    with app.app_context():
        state = loyalty_state(app)
        for days in (1, 2):
            retry_due(
                bind_session(state.db.session, state.plugin_manager),
                hooks=state.plugin_manager.hook,
                settings=IntakeSettings.from_config(app.config),
                now=utcnow() + timedelta(days=days),
            )
        state.db.engine.dispose()


def assert_applied_once(engine: sa.Engine, items: list[Item], *, stuck: list[Item]) -> None:
    """Each invoice earned once; each API write applied once (a stuck one not at all)."""
    webhooks = [i for i in items if i.is_webhook]
    writes = [i for i in items if not i.is_webhook and i not in stuck]
    with Session(engine) as session:
        statuses = session.scalars(sa.select(WebhookEvent.status)).all()
        assert len(statuses) == len(webhooks)
        assert {s.value for s in statuses} == {"processed"}
        earned = session.execute(
            sa.select(Customer.host_customer_id, sa.func.count(), sa.func.sum(LedgerEntry.points))
            .join(Account, Account.customer_id == Customer.id)
            .join(LedgerEntry, LedgerEntry.account_id == Account.id)
            .where(LedgerEntry.kind == EntryKind.EARN)
            .group_by(Customer.host_customer_id)
        ).all()
        by_customer = {customer: (count, points) for customer, count, points in earned}
        assert set(by_customer) == {f"c{i.number}" for i in webhooks}
        assert {count for count, _points in by_customer.values()} == {1}
        assert len({points for _count, points in by_customer.values()}) == 1
        adjusted = session.scalars(
            sa.select(Customer.host_customer_id)
            .join(Account, Account.customer_id == Customer.id)
            .join(Adjustment, Adjustment.account_id == Account.id)
        ).all()
        assert sorted(adjusted) == sorted(f"c{i.number}" for i in writes)
        assert verify_ledger(session) == []


def test_a_job_cut_off_by_the_outage_resumes_on_its_next_run(server, engine) -> None:
    """expire-points stopped after its first batch finishes the rest next run, none twice."""
    now = utcnow()
    with Session(engine) as session:
        session.add(Merchant(id="jobs", name="Jobs", currency="EUR"))
        session.flush()
        accounts = []
        for n in range(6):
            customer = Customer(merchant_id="jobs", host_customer_id=f"j{n}", first_name="J")
            session.add(customer)
            session.flush()
            account = Account(merchant_id="jobs", customer_id=customer.id)
            session.add(account)
            session.flush()
            ledger.earn(
                session,
                account_id=account.id,
                points=10,
                actor="test",
                now=now - timedelta(days=400),
                expires_at=now - timedelta(days=1),
            )
            accounts.append(account.id)
        session.commit()

    app = create_app(
        {
            "LOYALTY_DATABASE_URL": server.url,
            "LOYALTY_SECRET_KEY": "outage",
            "LOYALTY_EXPIRY_BATCH_SIZE": 2,
            "LOYALTY_PLUGIN_ENTRY_POINTS": False,
            "LOYALTY_DATABASE_TIMEOUT_SECONDS": TIMEOUT,
        }
    )
    runner = JobRunner(app)
    stopped: list[int] = []

    def stop_after_first_batch(done: int, _total: int | None) -> None:
        if not stopped:
            stopped.append(done)
            server.stop("immediate")

    first = runner.run_now("expire-points", progress=stop_after_first_batch)
    assert first.status == "failed" and stopped == [2]
    assert runner.run_now("expire-points").status == "failed"  # still down: no hang, no crash
    server.start()

    second = runner.run_now("expire-points")
    assert second.status == "succeeded", second.detail
    with Session(engine) as session:
        expired = session.execute(
            sa.select(LedgerEntry.account_id, sa.func.count())
            .where(LedgerEntry.kind == EntryKind.EXPIRE, LedgerEntry.account_id.in_(accounts))
            .group_by(LedgerEntry.account_id)
        ).all()
        assert dict(expired) == {account: 1 for account in accounts}
        assert verify_ledger(session) == []
        statuses = session.execute(
            sa.text("SELECT status FROM job_runs WHERE job = 'expire-points' ORDER BY id")
        ).scalars()
        assert [s.lower() for s in statuses] == ["failed", "succeeded"]
    with app.app_context():
        app.extensions["loyalty"].db.engine.dispose()
