"""Chaos run: the races and the kill -9 scenario of issue 12, against gunicorn on PostgreSQL.

It prints each check with PASS or FAIL and what it saw, and exits 1 if any failed:

1. concurrent ``POST /adjustments`` on one account all succeed and add up;
2. concurrent holds by different customers on one invoice: one hold at most;
3. ``invoice.paid`` (capturing a hold) racing ``invoice.cancelled``: every point comes back;
4. one webhook sent many times at once: earned once;
5. ``kill -9`` of a gunicorn worker and then of the master mid-burst; after a restart the
   host re-sends what got no 2xx: each invoice earned exactly once;

and ``ledger verify`` over everything at the end. Every scenario has a fixed count, every
request a timeout, and the run a deadline; only 127.0.0.1 is contacted. Like every script
here it creates, migrates and drops its own database (``_common.py``).

    python bench/chaos.py                     # about a minute
    python bench/chaos.py --threads 4 --invoices 3 --burst 30   # a smoke run
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    add_server_arguments,
    benchmark_parser,
    free_port,
    fresh_database,
    start_gunicorn,
    stop_gunicorn,
)
from loyalty_plugin import create_app
from loyalty_plugin.domain.ledger import EntryKind
from loyalty_plugin.domain.signatures import signature_headers
from loyalty_plugin.extensions import loyalty_state
from loyalty_plugin.models import (
    Account,
    ApiScope,
    Customer,
    LedgerEntry,
    Redemption,
    WebhookEvent,
)
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.plugins import bind_session
from loyalty_plugin.services.intake.webhooks import IntakeSettings, retry_due
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.accounts import open_account
from loyalty_plugin.services.ledger.integrity import verify_ledger
from loyalty_plugin.services.merchants.api_keys import create_api_key
from loyalty_plugin.services.merchants.registration import create_merchant
from loyalty_plugin.services.merchants.secrets import create_secret

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#: The default program takes effect then, before every event this script sends.
PROGRAM_START = datetime(2026, 1, 1, tzinfo=UTC)
MERCHANT = "chaos"
REQUEST_TIMEOUT = 30
#: What a failed connection (a killed server) is recorded as.
NO_ANSWER = 0

Answer = tuple[int, dict[str, Any]]


def main() -> None:
    args = parse_args()
    deadline = time.monotonic() + args.deadline
    checks = Checks()
    # It times nothing, so it does not wait for a benchmark that holds the server-wide lock.
    with fresh_database(args.url, keep=args.keep, sql=args.sql, exclusive=False) as engine:
        key = seed(engine)
        url = engine.url.render_as_string(hide_password=False)
        with Gunicorn(url, workers=args.workers, threads=args.threads) as server:
            host = Host(server, key)
            scenarios: list[Callable[[], None]] = [
                lambda: adjustments_on_one_account(engine, host, checks, args.threads),
                lambda: holds_on_one_invoice(engine, host, checks, args.threads),
                lambda: capture_against_cancel(engine, host, checks, args.invoices),
                lambda: duplicate_webhooks(engine, host, checks, args.invoices, args.threads),
                lambda: kill_nine(engine, host, checks, args.burst, args.threads),
            ]
            for scenario in scenarios:
                if time.monotonic() > deadline:
                    checks.record("deadline", False, f"stopped after {args.deadline}s")
                    break
                scenario()
        settle(url)
        with Session(engine) as session:
            problems = verify_ledger(session)
        checks.record("ledger verify", not problems, f"{len(problems)} violations {problems[:3]}")
    sys.exit(checks.summary())


def parse_args() -> argparse.Namespace:
    parser = benchmark_parser(__doc__, database="chaos")
    parser.add_argument("--invoices", type=int, default=20, help="invoices per race")
    parser.add_argument("--burst", type=int, default=300, help="webhooks in the kill -9 burst")
    add_server_arguments(parser, threads=16, help="requests sent at once, threads per worker")
    parser.add_argument("--deadline", type=float, default=600, help="seconds for the whole run")
    return parser.parse_args()


class Checks:
    """Each check's verdict, printed as it comes."""

    def __init__(self) -> None:
        self.failed: list[str] = []
        self.count = 0

    def record(self, name: str, ok: bool, detail: str) -> None:
        self.count += 1
        if not ok:
            self.failed.append(name)
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {detail}", flush=True)

    def summary(self) -> int:
        print(f"{self.count - len(self.failed)} of {self.count} checks passed", flush=True)
        return 1 if self.failed else 0


def seed(engine: sa.Engine) -> str:
    """The merchant, its signing secret and a write key."""
    with Session(engine) as session:
        # The default program starts before the events' occurred_at (2026-03-01), so they earn.
        create_merchant(
            session, merchant_id=MERCHANT, name="Chaos", currency="EUR", now=PROGRAM_START
        )
        create_secret(session, merchant_id=MERCHANT, now=utcnow(), secret=SECRET)
        _row, key = create_api_key(
            session, merchant_id=MERCHANT, scope=ApiScope.WRITE, name="chaos", now=utcnow()
        )
        session.commit()
    return key


def customers(engine: sa.Engine, ids: Sequence[str], *, points: int = 0) -> dict[str, int]:
    """Customers with ``points`` each; their account ids by host id."""
    accounts = {}
    with Session(engine) as session:
        for host_id in ids:
            customer = Customer(merchant_id=MERCHANT, host_customer_id=host_id, first_name="C")
            session.add(customer)
            session.flush()
            account = open_account(session, merchant_id=MERCHANT, customer_id=customer.id)
            if points:
                ledger.earn(
                    session, account_id=account.id, points=points, now=utcnow(), actor="chaos"
                )
            accounts[host_id] = account.id
        session.commit()
    return accounts


class Gunicorn:
    """gunicorn serving ``create_app()`` on a loopback port; ``kill_worker``/``kill_master``."""

    def __init__(self, url: str, *, workers: int, threads: int) -> None:
        self.url, self.workers, self.threads = url, workers, threads
        self.port = free_port()
        self.instance = tempfile.mkdtemp(prefix="loyalty-chaos-")
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Gunicorn:
        self.start()
        return self

    def start(self) -> None:
        self.process = start_gunicorn(
            self.url,
            port=self.port,
            instance=self.instance,
            workers=self.workers,
            threads=self.threads,
            options=["--log-level", "error"],
        )

    def worker_pids(self) -> list[int]:
        assert self.process is not None
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children")
        return [int(p) for p in children.read_text().split()] if children.exists() else []

    def kill_worker(self) -> None:
        """``kill -9`` one worker; the master starts another."""
        workers = self.worker_pids()
        if workers:
            os.kill(workers[0], signal.SIGKILL)

    def kill_master(self) -> None:
        """``kill -9`` the master, then its orphaned workers: the whole service is gone."""
        assert self.process is not None
        workers = self.worker_pids()
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def __exit__(self, *_: object) -> None:
        if self.process is not None:
            stop_gunicorn(self.process)
        shutil.rmtree(self.instance, ignore_errors=True)


def request(
    port: int, method: str, path: str, body: bytes, headers: dict[str, str], timeout: float
) -> Answer:
    """Status and JSON body; ``NO_ANSWER`` when the connection failed or was cut."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        raw = response.read()
        try:
            return response.status, json.loads(raw or b"{}")
        except ValueError:
            return response.status, {"raw": raw[:200].decode(errors="replace")}
    except (OSError, http.client.HTTPException):
        return NO_ANSWER, {}
    finally:
        connection.close()


class Host:
    """The CRM: signed webhooks and API calls with idempotency keys."""

    def __init__(self, server: Gunicorn, key: str) -> None:
        self.server, self.key = server, key

    def webhook(self, kind: str, data: dict[str, Any], msg_id: str) -> Answer:
        body = json.dumps(
            {
                "type": kind,
                "merchant_id": MERCHANT,
                "occurred_at": "2026-03-01T10:00:00Z",
                "data": data,
            }
        ).encode()
        headers = signature_headers([SECRET], msg_id=msg_id, timestamp=int(time.time()), body=body)
        headers["Content-Type"] = "application/json"
        return request(
            self.server.port, "POST", "/loyalty/webhooks", body, headers, REQUEST_TIMEOUT
        )

    def api(self, path: str, body: dict[str, Any], key: str | None = None) -> Answer:
        headers = {
            "Authorization": f"Bearer {self.key}",
            "Idempotency-Key": key or str(uuid.uuid4()),
            "Content-Type": "application/json",
        }
        payload = json.dumps(body).encode()
        return request(
            self.server.port, "POST", f"/loyalty/api/v1{path}", payload, headers, REQUEST_TIMEOUT
        )


def at_once(count: int, send: Callable[[int], Answer]) -> list[Answer]:
    """``send(0..count-1)`` from ``count`` threads released together."""
    barrier = threading.Barrier(count)

    def one(number: int) -> Answer:
        barrier.wait()
        return send(number)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def statuses(answers: Sequence[Answer]) -> dict[int, int]:
    counted: dict[int, int] = {}
    for status, _body in answers:
        counted[status] = counted.get(status, 0) + 1
    return dict(sorted(counted.items()))


def invoice(invoice_id: str, customer_id: str | None = None) -> dict[str, Any]:
    fields: dict[str, Any] = {"id": invoice_id, "currency": "EUR", "total": "100.00"}
    fields["subtotal"] = "100.00"
    if customer_id is not None:
        fields["customer_id"] = customer_id
        fields["items"] = [{"id": "L1", "qty": 1, "total": "100.00"}]
    return fields


def balances(engine: sa.Engine, accounts: dict[str, int]) -> dict[str, int]:
    with Session(engine) as session:
        rows = session.execute(
            sa.select(Account.id, Account.balance).where(Account.id.in_(accounts.values()))
        ).all()
    by_id = dict(rows)
    return {host_id: by_id[account_id] for host_id, account_id in accounts.items()}


# -- the races -------------------------------------------------------------------------------


def adjustments_on_one_account(engine: sa.Engine, host: Host, checks: Checks, n: int) -> None:
    accounts = customers(engine, ["adj"])
    started = time.monotonic()
    answers = at_once(
        n,
        lambda i: host.api(
            "/adjustments",
            {"customer_id": "adj", "points": 5, "reason": f"race {i}", "staff": "chaos"},
        ),
    )
    seconds = time.monotonic() - started
    balance = balances(engine, accounts)["adj"]
    ok = statuses(answers) == {201: n} and balance == 5 * n
    detail = f"{n} at once: {statuses(answers)} in {seconds:.1f}s, balance {balance}/{5 * n}"
    checks.record("concurrent adjustments on one account", ok, detail)


def holds_on_one_invoice(engine: sa.Engine, host: Host, checks: Checks, n: int) -> None:
    customers(engine, [f"h{i}" for i in range(n)], points=1_000)
    answers = at_once(
        n,
        lambda i: host.api(
            "/redemptions",
            {"customer_id": f"h{i}", "points": 100, "invoice": invoice("SHARED-1")},
        ),
    )
    with Session(engine) as session:
        held = session.scalar(
            sa.select(sa.func.count())
            .select_from(Redemption)
            .where(Redemption.invoice_id == "SHARED-1", Redemption.status == "held")
        )
    created = statuses(answers).get(201, 0)
    ok = created == 1 and held == 1 and NO_ANSWER not in statuses(answers)
    detail = f"{n} customers at once: {statuses(answers)}, {held} active holds"
    checks.record("concurrent holds on one invoice", ok, detail)


def capture_against_cancel(engine: sa.Engine, host: Host, checks: Checks, n: int) -> None:
    accounts = customers(engine, [f"x{i}" for i in range(n)], points=1_000)
    for i in range(n):
        host.api(
            "/redemptions", {"customer_id": f"x{i}", "points": 100, "invoice": invoice(f"CC-{i}")}
        )

    def send(number: int) -> Answer:
        i, cancel = divmod(number, 2)
        if cancel:
            return host.webhook("invoice.cancelled", {"invoice_id": f"CC-{i}"}, f"cancel-{i}")
        return host.webhook("invoice.paid", {"invoice": invoice(f"CC-{i}", f"x{i}")}, f"paid-{i}")

    answers = at_once(2 * n, send)
    settle(host.server.url)
    after = balances(engine, accounts)
    with Session(engine) as session:
        refused = session.scalar(
            sa.select(sa.func.count())
            .select_from(WebhookEvent)
            .where(
                WebhookEvent.webhook_id.like("cancel-%"),
                WebhookEvent.status.in_(("rejected", "dead")),
            )
        )
    wrong = {k: v for k, v in after.items() if v != 1_000}
    ok = set(statuses(answers)) <= {200, 202} and not refused and not wrong
    detail = (
        f"{n} invoices paid and cancelled at once: {statuses(answers)}, {refused} cancels "
        f"refused, {len(wrong)} balances not back to 1,000 {dict(list(wrong.items())[:3])}"
    )
    checks.record("capture against cancel", ok, detail)


def duplicate_webhooks(engine: sa.Engine, host: Host, checks: Checks, n: int, copies: int) -> None:
    customers(engine, [f"d{i}" for i in range(n)])
    answers: list[Answer] = []
    for i in range(n):
        data = {"invoice": invoice(f"DUP-{i}", f"d{i}")}
        answers += at_once(copies, lambda _c, i=i, data=data: host.webhook(
            "invoice.paid", data, f"dup-{i}"))  # fmt: skip
    earned = earn_entries(engine, "DUP-")
    once = all(earned.get(f"DUP-{i}") == 1 for i in range(n))
    ok = statuses(answers) == {200: n * copies} and once and len(earned) == n
    detail = (
        f"{n} invoices x {copies} copies at once: {statuses(answers)}, "
        f"earned {earned_summary(earned)}"
    )
    checks.record("duplicate webhooks", ok, detail)


def earn_entries(engine: sa.Engine, prefix: str) -> dict[str, int]:
    """Earn entries per invoice whose host id starts with ``prefix``."""
    with Session(engine) as session:
        rows = session.execute(
            sa.select(LedgerEntry.reference_id, sa.func.count())
            .where(LedgerEntry.kind == EntryKind.EARN, LedgerEntry.reference_id.like(f"{prefix}%"))
            .group_by(LedgerEntry.reference_id)
        ).all()
    return dict(rows)


def earned_summary(earned: dict[str, int]) -> str:
    counts: dict[int, int] = {}
    for count in earned.values():
        counts[count] = counts.get(count, 0) + 1
    return ", ".join(
        f"{invoices} invoice(s) {times}x" for times, invoices in sorted(counts.items())
    )


# -- kill -9 ---------------------------------------------------------------------------------


def kill_nine(engine: sa.Engine, host: Host, checks: Checks, burst: int, threads: int) -> None:
    """A burst of invoices; kill -9 a worker at a third, the master at two thirds; re-send."""
    customers(engine, [f"k{i}" for i in range(50)])
    answers: dict[int, Answer] = {}
    lock = threading.Lock()

    def send(i: int) -> None:
        answer = host.webhook(
            "invoice.paid", {"invoice": invoice(f"KILL-{i}", f"k{i % 50}")}, f"kill-{i}"
        )
        with lock:
            answers[i] = answer
            done = len(answers)
        if done == burst // 3:
            host.server.kill_worker()
        elif done == 2 * burst // 3:
            host.server.kill_master()

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(send, range(burst)))
    lost = sorted(i for i, (status, _body) in answers.items() if not 200 <= status < 300)
    first = statuses(list(answers.values()))
    host.server.start()
    resent = 0
    for _round in range(5):
        again = [i for i, (status, _body) in answers.items() if not 200 <= status < 300]
        if not again:
            break
        resent += len(again)
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(send_again(host, answers, lock), again))
    settle(host.server.url)
    earned = earn_entries(engine, "KILL-")
    once = len(earned) == burst and set(earned.values()) == {1}
    final = statuses(list(answers.values()))
    ok = once and set(final) <= {200, 202}
    detail = (
        f"{burst} invoices, first answers {first} ({len(lost)} without a 2xx), {resent} "
        f"re-sent after a restart, final {final}; earned {earned_summary(earned)}"
    )
    checks.record("kill -9 of a worker and the master, then re-send", ok, detail)


def send_again(host: Host, answers: dict[int, Answer], lock: threading.Lock) -> Callable:
    def send(i: int) -> None:
        answer = host.webhook(
            "invoice.paid", {"invoice": invoice(f"KILL-{i}", f"k{i % 50}")}, f"kill-{i}"
        )
        with lock:
            answers[i] = answer

    return send


def settle(url: str) -> None:
    """Retry stored host events as the ``retry-host-events`` job would, a day on."""
    app = create_app(
        {
            "LOYALTY_DATABASE_URL": url,
            "LOYALTY_SECRET_KEY": "chaos",
            "LOYALTY_PLUGIN_ENTRY_POINTS": False,
            "LOYALTY_INSTANCE_PATH": tempfile.gettempdir(),
        }
    )
    with app.app_context():
        state = loyalty_state(app)
        for days in (1, 2, 3):
            retry_due(
                bind_session(state.db.session, state.plugin_manager),
                hooks=state.plugin_manager.hook,
                settings=IntakeSettings.from_config(app.config),
                now=utcnow() + timedelta(days=days),
            )
        state.db.engine.dispose()


if __name__ == "__main__":
    main()
