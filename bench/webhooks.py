"""How many signed ``invoice.paid`` webhooks per second does the service sustain?

The service runs under gunicorn on PostgreSQL; a load generator on loopback posts signed
events, each for a new invoice of one of the customers, from a few keep-alive connections,
for a bounded time and count. It prints sustained events/s and p50/p99 latency, then runs
pgbench on the same server (a one-row UPDATE per transaction, same number of clients) as the
physical reference: the goal is at least half of pgbench's TPS.

With ``--mode both`` (the default) the same run then measures the high-load intake
(``LOYALTY_WEBHOOK_INTAKE=queue``): gunicorn restarted in queue mode takes new events for as
long (intake events/s, against ``GET /health`` of the synchronous server and against
``GET /health`` of the queue server measured right before and after its intake load: on a
shared machine the floor moves by 2x within minutes), then ``--apply-workers`` processes of
``loyalty intake work --drain`` apply the queue (applied events/s, against the synchronous
path's events/s). ``ledger verify`` is run at the end and its verdict printed.

After the synchronous path (``--floor``, on by default) gunicorn serves, in the same shape
and under the same load, the floor app of ``bench/_floor_app.py``: the signature checked
and eight single-row statements in one transaction on scratch tables, with no rules,
through SQLAlchemy Core and then through psycopg alone. Each is set against the product's
``GET /health`` measured right before and after it: the highest share of ``/health`` that
any write path of eight statements on that stack could reach.

It also counts the SQL statements of a new-invoice event on the synchronous path (issue 20's
goal: at most 8) with an SQLAlchemy ``before_cursor_execute`` listener on the app run
in-process after the load: measured, not estimated.

    python bench/webhooks.py                       # ~1.5 minutes
    python bench/webhooks.py --seconds 5 --clients 4 --workers 2   # a smoke run

Like every benchmark here it creates, migrates and drops its own database (see
``_common.py``); nothing but 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

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
    table,
)
from bench._floor_app import DRIVER_VARIABLE, DRIVERS, create_floor_tables
from bench._floor_app import accounts as floor_accounts
from bench._floor_app import entries as floor_entries
from bench._floor_app import inbox as floor_inbox
from loyalty_plugin import create_app
from loyalty_plugin.domain.ledger import EntryKind
from loyalty_plugin.domain.signatures import signature_headers
from loyalty_plugin.models import Customer, InboxStatus, Invoice, LedgerEntry, WebhookEvent
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.ledger.integrity import verify_ledger
from loyalty_plugin.services.merchants.registration import create_merchant
from loyalty_plugin.services.merchants.secrets import create_secret

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#: The default program takes effect then, before every event this script sends.
PROGRAM_START = datetime(2026, 1, 1, tzinfo=UTC)
PATH = "/loyalty/webhooks"


@dataclass
class Results:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, status: int, seconds: float) -> None:
        with self.lock:
            self.latencies.append(seconds)
            self.statuses[status] = self.statuses.get(status, 0) + 1


@dataclass
class Queued:
    """The high-load intake's figures: intake alone, then the workers' drain."""

    intake: Results
    intake_seconds: float
    applied: int
    apply_seconds: float
    #: ``GET /health`` req/s of the queue-mode server, measured right before and after its
    #: intake load (their mean): the floor at the same moment as the intake, on a machine
    #: whose load moves by 2x within minutes.
    health: float = 0.0


@dataclass
class Floor:
    """The floor app's events/s with one driver (see ``bench/_floor_app.py``)."""

    driver: str
    rate: float
    statuses: dict[int, int]
    #: The product's ``GET /health`` req/s right before and after this floor's load (their
    #: mean), its server idle meanwhile: the baseline at the same moment.
    health: float


def main() -> None:
    args = parse_args()
    queued: Queued | None = None
    results = Results()
    elapsed = health = 0.0
    floors: list[Floor] = []
    with fresh_database(args.url, keep=args.keep, sql=args.sql) as engine:
        seed(engine, customers=args.customers)
        url = engine.url.render_as_string(hide_password=False)
        events = signed_events(args.max_events, customers=args.customers)
        with served(url, workers=args.workers, threads=args.threads) as port:
            warm = run_load(port, events[: args.warmup], clients=args.clients, seconds=60)
            # With both modes each gets half of the events left after the warm-up.
            half = args.warmup + (len(events) - args.warmup) // 2
            if args.mode in ("sync", "both"):
                sync_events = events[args.warmup : half if args.mode == "both" else None]
                results, elapsed = timed_load(port, sync_events, args)
            health = health_rate(port, clients=args.clients, seconds=args.health_seconds)
            if args.floor and args.mode != "queue":
                floors = floor_runs(engine, args, product_port=port, health=health)
        if args.mode in ("queue", "both"):
            queued = queue_run(url, events[half if args.mode == "both" else args.warmup :], args)
        statements = statements_per_event(url, customers=args.customers, events=args.count_events)
        violations = check(engine, results, warm, queued, extra=args.count_events + 2)
        tps = pgbench(engine, clients=args.clients, seconds=args.pgbench_seconds)
    report(results, elapsed, tps, health, args, queued, violations, statements, floors)


def parse_args() -> argparse.Namespace:
    parser = benchmark_parser(__doc__, database="webhooks")
    parser.add_argument("--seconds", type=float, default=20, help="measured load duration")
    parser.add_argument("--max-events", type=int, default=60_000, help="hard cap on events")
    parser.add_argument("--warmup", type=int, default=300, help="events sent before measuring")
    parser.add_argument("--clients", type=int, default=8, help="concurrent connections")
    add_server_arguments(parser, threads=4, help="threads per gunicorn worker")
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--pgbench-seconds", type=int, default=15)
    parser.add_argument(
        "--health-seconds", type=float, default=5, help="duration of the GET /health baseline"
    )
    parser.add_argument(
        "--count-events", type=int, default=20, help="new-invoice events whose SQL is counted"
    )
    parser.add_argument(
        "--mode",
        choices=("sync", "queue", "both"),
        default="both",
        help="synchronous path, high-load intake (LOYALTY_WEBHOOK_INTAKE=queue), or both",
    )
    parser.add_argument(
        "--floor",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure the floor app (the eight statements, no rules) with SQLAlchemy "
        "Core and with psycopg alone, after the synchronous path",
    )
    parser.add_argument(
        "--apply-workers", type=int, default=2, help="`loyalty intake work` processes"
    )
    parser.add_argument(
        "--apply-threads",
        type=int,
        default=4,
        help="worker threads per `loyalty intake work` process (--threads)",
    )
    return parser.parse_args()


def seed(engine: sa.Engine, *, customers: int) -> None:
    """One merchant with a signing secret and enrolled customers."""
    with Session(engine) as session:
        # The default program starts before the events' occurred_at (2026-03-01), so they earn.
        create_merchant(
            session, merchant_id="default", name="Bench", currency="EUR", now=PROGRAM_START
        )
        create_secret(session, merchant_id="default", now=utcnow(), secret=SECRET)
        session.add_all(
            Customer(merchant_id="default", host_customer_id=f"c{n}", first_name="Bench")
            for n in range(customers)
        )
        session.commit()


class served:
    """gunicorn serving ``create_app()`` on a free loopback port (``queue``: the high-load
    intake)."""

    def __init__(
        self, url: str, *, workers: int, threads: int, queue: bool = False, floor: str = ""
    ) -> None:
        self.url, self.workers, self.threads, self.queue = url, workers, threads, queue
        #: A driver of ``bench/_floor_app.py`` to serve that app instead of the product.
        self.floor = floor

    def __enter__(self) -> int:
        self.port = free_port()
        self.instance = tempfile.mkdtemp(prefix="loyalty-bench-")
        options = ["--keep-alive", "30", "--log-level", "warning"]
        # start_gunicorn passes this process's environment on.
        os.environ["LOYALTY_WEBHOOK_INTAKE"] = "queue" if self.queue else "sync"
        os.environ[DRIVER_VARIABLE] = self.floor
        app = "bench._floor_app:create_floor_app()" if self.floor else "loyalty_plugin:create_app()"
        try:
            self.process = start_gunicorn(
                self.url,
                port=self.port,
                instance=self.instance,
                workers=self.workers,
                threads=self.threads,
                options=options,
                app=app,
            )
        finally:
            os.environ.pop("LOYALTY_WEBHOOK_INTAKE", None)
            os.environ.pop(DRIVER_VARIABLE, None)
        return self.port

    def __exit__(self, *_: object) -> None:
        stop_gunicorn(self.process)
        shutil.rmtree(self.instance, ignore_errors=True)


def floor_runs(
    engine: sa.Engine, args: argparse.Namespace, *, product_port: int, health: float
) -> list[Floor]:
    """The floor app under the same gunicorn shape and load, once per driver, each on fresh
    events, with the product's ``GET /health`` (on ``product_port``, ``health`` req/s just
    before) measured after each; the scratch tables are checked at the end (every event
    stored once)."""
    create_floor_tables(engine, secret=SECRET, customers=args.customers)
    url = engine.url.render_as_string(hide_password=False)
    floors = []
    before = health
    for driver in DRIVERS:
        prefix = f"F{driver[0].upper()}"
        events = signed_events(args.max_events, customers=args.customers, prefix=prefix)
        with served(url, workers=args.workers, threads=args.threads, floor=driver) as port:
            run_load(port, events[: args.warmup], clients=args.clients, seconds=60)
            results, seconds = timed_load(port, events[args.warmup :], args)
        after = health_rate(product_port, clients=args.clients, seconds=args.health_seconds)
        rate = len(results.latencies) / seconds
        floors.append(Floor(driver, rate, results.statuses, health=(before + after) / 2))
        before = after
    check_floor(engine, floors, warmup=args.warmup)
    return floors


def check_floor(engine: sa.Engine, floors: list[Floor], *, warmup: int) -> None:
    """Every floor answer 200, one inbox row and one entry per answer, balances = entries."""
    answered = sum(sum(floor.statuses.values()) + warmup for floor in floors)
    with engine.connect() as connection:
        stored = connection.scalar(sa.select(sa.func.count()).select_from(floor_inbox))
        processed = connection.scalar(
            sa.select(sa.func.count()).where(floor_inbox.c.status == "processed")
        )
        entries = connection.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(floor_entries.c.points), 0))
        )
        balances = connection.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(floor_accounts.c.balance), 0))
        )
    statuses = {status for floor in floors for status in floor.statuses}
    if statuses - {200} or stored != answered or processed != stored or entries != balances:
        raise SystemExit(
            f"floor check failed: statuses {statuses}, {stored} stored and {processed} "
            f"processed for {answered} answers, entries {entries} against balances {balances}"
        )


def queue_run(url: str, events: list, args: argparse.Namespace) -> Queued:
    """Intake alone for ``--seconds`` (no worker running), then the workers drain it."""
    with served(url, workers=args.workers, threads=args.threads, queue=True) as port:
        before = health_rate(port, clients=args.clients, seconds=args.health_seconds)
        intake, intake_seconds = timed_load(port, events, args)
        after = health_rate(port, clients=args.clients, seconds=args.health_seconds)
    applied, apply_seconds = drain_queue(
        url, workers=args.apply_workers, threads=args.apply_threads
    )
    return Queued(intake, intake_seconds, applied, apply_seconds, health=(before + after) / 2)


def drain_queue(url: str, *, workers: int, threads: int) -> tuple[int, float]:
    """Run ``workers`` processes of ``loyalty intake work --drain --threads THREADS``; events
    applied, seconds."""
    instance = tempfile.mkdtemp(prefix="loyalty-bench-")
    env = os.environ | {
        "LOYALTY_DATABASE_URL": url,
        "LOYALTY_INSTANCE_PATH": instance,
        "LOYALTY_SECRET_KEY": "bench",
        "LOYALTY_PLUGIN_ENTRY_POINTS": "false",
        "LOYALTY_SCHEDULER": "off",
        "LOYALTY_WEBHOOK_INTAKE": "queue",
    }
    command = [sys.executable, "-m", "loyalty_plugin", "intake", "work", "--drain"]
    command += ["--threads", str(threads)]
    started = time.monotonic()
    processes = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        for _ in range(workers)
    ]
    applied = 0
    for process in processes:
        output, _ = process.communicate()
        if process.returncode:
            raise SystemExit(f"loyalty intake work failed with status {process.returncode}")
        match = re.search(rb"applied (\d+) host events", output)
        applied += int(match.group(1)) if match else 0
    seconds = time.monotonic() - started
    shutil.rmtree(instance, ignore_errors=True)
    return applied, seconds


def signed_events(
    count: int, *, customers: int, prefix: str = "B", start: int = 0
) -> list[tuple[bytes, dict[str, str]]]:
    """``count`` invoice.paid events numbered from ``start``, signed now (valid for 5
    minutes); invoice ids and webhook ids start with ``prefix``."""
    now = int(time.time())
    events = []
    for number in range(start, start + count):
        total = f"{(number * 37) % 50000 / 100 + 5:.2f}"
        body = json.dumps(
            {
                "type": "invoice.paid",
                "occurred_at": "2026-03-01T10:00:00Z",
                "data": {
                    "invoice": {
                        "id": f"{prefix}{number}",
                        "customer_id": f"c{number % customers}",
                        "currency": "EUR",
                        "total": total,
                        "items": [{"id": "L1", "qty": 1, "total": total}],
                    }
                },
            }
        ).encode()
        headers = signature_headers(
            [SECRET], msg_id=f"bench-{prefix}{number}", timestamp=now, body=body
        )
        events.append((body, headers | {"content-type": "application/json"}))
    return events


def run_load(
    port: int, events: list[tuple[bytes, dict[str, str]]], *, clients: int, seconds: float
) -> Results:
    """Post ``events`` from ``clients`` keep-alive connections until done or out of time."""
    results = Results()
    cursor = iter(range(len(events)))
    cursor_lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < deadline:
            with cursor_lock:
                index = next(cursor, None)
            if index is None:
                break
            body, headers = events[index]
            started = time.perf_counter()
            connection.request("POST", PATH, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            results.add(response.status, time.perf_counter() - started)
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def health_rate(port: int, *, clients: int, seconds: float) -> float:
    """Requests/s of ``GET /health`` (Flask, gunicorn and one ``SELECT 1``): the stack's floor."""
    count = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < deadline:
            connection.request("GET", "/loyalty/health")
            connection.getresponse().read()
            with lock:
                count[0] += 1
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return count[0] / seconds


def timed_load(port: int, events: list, args: argparse.Namespace) -> tuple[Results, float]:
    started = time.monotonic()
    results = run_load(port, events, clients=args.clients, seconds=args.seconds)
    return results, time.monotonic() - started


def statements_per_event(url: str, *, customers: int, events: int) -> float:
    """SQL statements per new-invoice ``invoice.paid`` event on the synchronous path, counted
    by an SQLAlchemy ``before_cursor_execute`` listener on the app run in-process (the Flask
    test client), after two events of warm-up.

    The customers have earned before (the load), so this is the steady state: a new invoice
    of a known customer. ``BEGIN`` and ``COMMIT`` are not cursor executions and not counted.
    """
    app = create_app(
        {
            "LOYALTY_DATABASE_URL": url,
            "LOYALTY_SECRET_KEY": "bench",
            "LOYALTY_PLUGIN_ENTRY_POINTS": False,
            "LOYALTY_SCHEDULER": "off",
            "LOYALTY_WEBHOOK_INTAKE": "sync",
        }
    )
    client = app.test_client()
    # From 100 on, every total is over 10.00: each event earns points.
    posts = signed_events(events + 2, customers=customers, prefix="S", start=100)
    for body, headers in posts[:2]:
        _posted(client, body, headers)
    with app.app_context():
        engine = app.extensions["loyalty"].db.engine
    count = [0]

    def counted(*_: object) -> None:
        count[0] += 1

    sa.event.listen(engine, "before_cursor_execute", counted)
    for body, headers in posts[2:]:
        _posted(client, body, headers)
    sa.event.remove(engine, "before_cursor_execute", counted)
    engine.dispose()
    return count[0] / events


def _posted(client: object, body: bytes, headers: dict[str, str]) -> None:
    response = client.post(PATH, data=body, headers=headers)  # type: ignore[attr-defined]
    if response.status_code != 200 or response.json["status"] != "processed":
        raise SystemExit(f"{response.status_code}: {response.get_data(as_text=True)}")


def check(
    engine: sa.Engine, results: Results, warm: Results, queued: Queued | None, *, extra: int = 0
) -> int:
    """Every event answered (200, or 202 in the queue), counted once, earned once, nothing
    left queued; the ledger's violations (``ledger verify``), which must be none.

    ``extra``: events sent besides (those of :func:`statements_per_event`)."""
    answered = sum(results.statuses.values()) + sum(warm.statuses.values()) + extra
    statuses = set(results.statuses) | set(warm.statuses)
    if queued is not None:
        answered += sum(queued.intake.statuses.values())
        if set(queued.intake.statuses) - {202}:
            statuses.add(min(set(queued.intake.statuses) - {202}))
    left = 0
    with Session(engine) as session:
        invoices = session.scalar(sa.select(sa.func.count()).select_from(Invoice))
        # The default program gives 1 point per 10.00: an invoice under 10.00 earns nothing.
        earning = session.scalar(
            sa.select(sa.func.count()).select_from(Invoice).where(Invoice.total >= Decimal(10))
        )
        earned = session.scalar(
            sa.select(sa.func.count()).where(LedgerEntry.kind == EntryKind.EARN)
        )
        violations = verify_ledger(session)
        left = session.scalar(
            sa.select(sa.func.count()).where(WebhookEvent.status != InboxStatus.PROCESSED)
        )
    if statuses - {200} or invoices != answered or earned != earning or violations or left:
        raise SystemExit(
            f"check failed: statuses {results.statuses}, {invoices} invoices for {answered} "
            f"answers, {earned} earnings for {earning} invoices of 10.00 or more, "
            f"{left} events not processed, {len(violations)} ledger violations"
        )
    return len(violations)


def pgbench(engine: sa.Engine, *, clients: int, seconds: int) -> float:
    """TPS of pgbench running one single-row UPDATE per transaction on the same server."""
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TABLE bench_rows (id integer PRIMARY KEY, n bigint NOT NULL DEFAULT 0)"
        )
        connection.exec_driver_sql("INSERT INTO bench_rows (id) SELECT generate_series(1, 100000)")
    script = tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False)  # noqa: SIM115
    with script:
        script.write(
            "\\set id random(1, 100000)\nUPDATE bench_rows SET n = n + 1 WHERE id = :id;\n"
        )
    binary = shutil.which("pgbench") or "/usr/lib/postgresql/15/bin/pgbench"
    url = engine.url
    command = [
        binary,
        "-n",
        "-f",
        script.name,
        "-c",
        str(clients),
        "-j",
        "2",
        "-T",
        str(seconds),
        "-h",
        url.host or "127.0.0.1",
        "-p",
        str(url.port or 5432),
        "-U",
        url.username or "postgres",
        url.database or "",
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    os.unlink(script.name)
    match = re.search(r"tps = ([\d.]+)", output)
    if match is None:
        raise SystemExit(f"could not read pgbench's output:\n{output}")
    return float(match.group(1))


def percentile(latencies: list[float], share: float) -> float:
    """The ``share`` percentile of sorted ``latencies``, in ms."""
    if not latencies:
        return 0.0
    return latencies[min(len(latencies) - 1, int(share * len(latencies)))] * 1000


def report(
    results: Results,
    elapsed: float,
    tps: float,
    health: float,
    args: argparse.Namespace,
    queued: Queued | None,
    violations: int,
    statements: float,
    floors: list[Floor],
) -> None:
    latencies = sorted(results.latencies)
    rate = len(latencies) / elapsed if elapsed else 0.0
    print(
        f"\n{len(latencies)} signed invoice.paid events in {elapsed:.1f} s; "
        f"gunicorn {args.workers} workers x {args.threads} threads, {args.clients} clients\n"
    )
    rows = []
    if latencies:
        rows += [
            ("webhooks: events/s", f"{rate:.0f}"),
            ("webhooks: p50 latency", f"{percentile(latencies, 0.50):.1f} ms"),
            ("webhooks: p99 latency", f"{percentile(latencies, 0.99):.1f} ms"),
        ]
    rows += [
        ("GET /health (the stack's floor): req/s", f"{health:.0f}"),
        ("pgbench one-row UPDATE: TPS", f"{tps:.0f}"),
    ]
    if latencies:
        rows.append(("webhooks / pgbench", f"{rate / tps:.0%} (goal: at least 50%)"))
        rows.append(("webhooks / GET /health", f"{rate / health:.0%} (goal: at least 40%)"))
    rows.append(("SQL statements per new-invoice event", f"{statements:.1f} (goal: at most 8)"))
    rows += floor_rows(floors, rate)
    if queued is not None:
        rows += queue_rows(queued, rate, health, args)
    rows.append(("ledger verify", "clean" if violations == 0 else f"{violations} violations"))
    print(table(["measure", "value"], rows))


def floor_rows(floors: list[Floor], rate: float) -> list[tuple[str, str]]:
    """The floor app's lines: its events/s, against ``/health`` around it and against the
    real synchronous path."""
    rows = []
    for floor in floors:
        name = "SQLAlchemy Core" if floor.driver == "core" else "psycopg alone"
        rows += [
            (f"floor, 8 statements and no rules, {name}: events/s", f"{floor.rate:.0f}"),
            (f"GET /health around the floor, {name}: req/s", f"{floor.health:.0f}"),
            (f"floor, {name} / GET /health around it", f"{floor.rate / floor.health:.0%}"),
        ]
        if rate:
            rows.append((f"webhooks / floor, {name}", f"{rate / floor.rate:.0%}"))
    return rows


def queue_rows(
    queued: Queued, rate: float, health: float, args: argparse.Namespace
) -> list[tuple[str, str]]:
    """The high-load intake's lines of the table."""
    latencies = sorted(queued.intake.latencies)
    intake = len(latencies) / queued.intake_seconds if queued.intake_seconds else 0.0
    applied = queued.applied / queued.apply_seconds if queued.apply_seconds else 0.0
    rows = [
        ("queue intake (202): events/s", f"{intake:.0f}"),
        ("queue intake: p50 latency", f"{percentile(latencies, 0.50):.1f} ms"),
        ("queue intake: p99 latency", f"{percentile(latencies, 0.99):.1f} ms"),
        ("queue intake / GET /health", f"{intake / health:.0%} (goal: at least 70%)"),
        ("GET /health around the intake (queue server): req/s", f"{queued.health:.0f}"),
        (
            "queue intake / GET /health around it",
            f"{intake / queued.health:.0%} (goal: at least 70%)" if queued.health else "-",
        ),
        (
            f"queue applied by {args.apply_workers}x{args.apply_threads} workers: events/s",
            f"{applied:.0f} ({queued.applied} in {queued.apply_seconds:.1f} s)",
        ),
    ]
    if rate:
        rows.append(("queue applied / webhooks", f"{applied / rate:.1f}x (goal: at least 2x)"))
    return rows


if __name__ == "__main__":
    main()
