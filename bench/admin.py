"""Admin pages at 100,000 customers and 1,000,000 ledger entries (issue 14): server time and SQL.

Seeds a merchant's customers (names, e-mails, phones, customer numbers, cards, groups,
levels) and their ledger history in bulk, at one tenth of the size first; copies that
database and grows the copy to the full size. Then, through the real app (Flask's test
client, signed in as the merchant's owner), it requests the customer search (by name
prefix, e-mail, phone, customer number and card number), the customer page (a typical
customer and the busiest ones), the dashboard and the aging report on both databases, in
one randomly interleaved sequence, and prints p50 and p99 per page and size, the SQL
statements each request ran (counted by a SQLAlchemy event listener) at both sizes, and
the goal of issue 14 (p99 under 300 ms at the full size) with PASS or FAIL. Baselines
from the same run: the app's ``GET /health`` through the same client, and a plain
``SELECT`` of one customer by primary key.

    python bench/admin.py                                         # 100,000 and 1,000,000
    python bench/admin.py --customers 2000 --entries 20000 --samples 20   # a smoke run

See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from _admin_data import create_merchant_and_program, person, seed
from _common import (
    Samples,
    benchmark_parser,
    cloned_database,
    existing_database,
    fresh_database,
    quiet_gc,
    settle,
    step,
    table,
)
from _ledger_data import MERCHANT
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from loyalty_plugin import create_app
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import StaffRole
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.customers.desk import customer_page
from loyalty_plugin.services.customers.search import search_customers
from loyalty_plugin.services.ledger.integrity import verify_ledger
from loyalty_plugin.services.reports.aging import aging
from loyalty_plugin.services.reports.dashboard import dashboard
from loyalty_plugin.services.reports.rollup import roll_up
from loyalty_plugin.services.staff import StaffPolicy
from loyalty_plugin.services.staff.accounts import add_to_merchant, create_staff, find_staff
from loyalty_plugin.services.staff.sessions import start_session
from loyalty_plugin.web.admin.access import COOKIE

ADMIN = "/loyalty/admin"
STAFF_EMAIL = "owner@bench.example"
#: The goal of issue 14: every page under this p99 at the full size.
GOAL_MS = 300.0
#: The history: two years up to the start of the run (so ages and expiry months are current).
HISTORY = timedelta(days=730)
BUSIEST = 20
#: Fewest timed requests of a page per size, however slow it is.
MIN_SAMPLES = 20


def main() -> None:
    args = parse_args()
    os.environ.setdefault("LOYALTY_INSTANCE_PATH", tempfile.mkdtemp(prefix="loyalty-bench-"))
    rng = random.Random(args.seed)
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    small = Size("small", customers=max(args.customers // 10, 1), entries=args.entries // 10)
    large = Size("large", customers=args.customers, entries=args.entries)
    if args.reuse:
        reuse(args, small, large, rng=rng)
        return
    with fresh_database(args.url, keep=args.keep, sql=args.sql) as small_db:
        program_id = create_merchant_and_program(small_db, at=end - HISTORY - timedelta(days=1))
        build(small_db, small, None, program_id=program_id, end=end, rng=rng)
        with cloned_database(small_db, "large", keep=args.keep) as large_db:
            build(large_db, large, small, program_id=program_id, end=end, rng=rng)
            for size in (small, large):
                size.start(small_db if size is small else large_db)
            now = end + timedelta(minutes=5)
            cases = Cases.build(small.app, small, rng, per_kind=args.queries, now=now)
            measure([small, large], cases, args, rng)
            for size in (small, large):
                size.stop()
    print()
    print(report(small, large))


def reuse(args: argparse.Namespace, small: Size, large: Size, *, rng: random.Random) -> None:
    """Time the databases an earlier ``--keep`` run left: migrated, rolled up, not seeded.

    The same data for two versions of the code (each run's own baselines beside it).
    """
    url = make_url(args.url)
    large_url = url.set(database=f"{url.database}_large")
    kept_small = existing_database(args.url)
    with kept_small as small_db, existing_database(large_url, exclusive=False) as large_db:
        for size, engine in ((small, small_db), (large, large_db)):
            finish(engine, size)
            size.start(engine)
        now = datetime.now(UTC).replace(microsecond=0)
        cases = Cases.build(small.app, small, rng, per_kind=args.queries, now=now)
        measure([small, large], cases, args, rng)
        for size in (small, large):
            size.stop()
    print()
    print(report(small, large))


def parse_args() -> argparse.Namespace:
    parser = benchmark_parser(__doc__, database="admin")
    parser.add_argument("--customers", type=int, default=100_000, help="customers (100,000)")
    parser.add_argument(
        "--entries", type=int, default=1_000_000, help="ledger entries, about (1,000,000)"
    )
    parser.add_argument("--samples", type=int, default=300, help="timed requests per page and size")
    parser.add_argument(
        "--budget",
        type=float,
        default=40.0,
        help="seconds a page's timed requests may take per size; slower pages get fewer "
        f"samples (at least {MIN_SAMPLES})",
    )
    parser.add_argument("--warmup", type=int, default=20, help="untimed requests per page first")
    parser.add_argument("--queries", type=int, default=50, help="distinct searches of each kind")
    parser.add_argument("--seed", type=int, default=14, help="random seed (same data each run)")
    parser.add_argument(
        "--explain", action="store_true", help="EXPLAIN ANALYZE the SELECTs of one request per page"
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="time the databases a --keep run left (migrated and rolled up, not seeded again)",
    )
    return parser.parse_args()


# -- data ------------------------------------------------------------------------------


@dataclass(eq=False)
class Size:
    """One database size: how it was built, the app serving it, and what was measured there."""

    label: str
    customers: int
    entries: int
    engine: sa.Engine | None = None
    app: Flask | None = None
    client: FlaskClient | None = None
    #: The app's own engine (the pages' statements run there).
    app_engine: sa.Engine | None = None
    counter: StatementCounter | None = None
    #: Entries actually written (expiries make the count approximate), busiest customers.
    entry_count: int = 0
    busiest: list[int] = field(default_factory=list)
    results: dict[str, Samples] = field(default_factory=dict)
    #: SQL statements of each page's requests: page -> case -> statements.
    statements: dict[str, dict[str, int]] = field(default_factory=dict)

    def start(self, engine: sa.Engine) -> None:
        """Serve this size's database with the real app, signed in as the merchant's owner."""
        self.engine = engine
        url = engine.url.render_as_string(hide_password=False)
        self.app = create_app(
            {
                "LOYALTY_DATABASE_URL": url,
                "LOYALTY_SECRET_KEY": "bench",
                "LOYALTY_SCHEDULER": "off",
                "LOYALTY_PLUGIN_ENTRY_POINTS": False,
            }
        )
        self.client = self.app.test_client()
        with self.app.app_context():
            self.app_engine = get_session().get_bind()
        self.counter = StatementCounter(self.app_engine, engine)
        sign_in(self.app, self.client)

    def stop(self) -> None:
        """Close the app's pool, so that the database can be dropped."""
        if self.app_engine is not None:
            self.app_engine.dispose()


def build(
    engine: sa.Engine,
    size: Size,
    before: Size | None,
    *,
    program_id: int,
    end: datetime,
    rng: random.Random,
) -> None:
    """Seed ``size`` (on top of the ``before`` size it was copied from), verify and settle."""
    first = before.customers + 1 if before else 1
    customers = size.customers - (before.customers if before else 0)
    entries = size.entries - (before.entry_count if before else 0)
    with step(f"seed {customers:,} customers with about {entries:,} entries (simulate and COPY)"):
        seed(
            engine,
            program_id=program_id,
            first=first,
            customers=customers,
            entries=entries,
            start=end - HISTORY,
            end=end,
            rng=rng,
        )
    with step("verify_ledger"):
        check_ledger(engine)
    finish(engine, size)


def finish(engine: sa.Engine, size: Size) -> None:
    """Roll the reports up as the scheduler would, settle, and note the busiest customers.

    The tables are analyzed first, as autovacuum would have done by the time the scheduler
    runs the job: on the statistics of a tenth of the data the job's plans took 1,337 s
    over the grown copy, against 50 s analyzed.
    """
    autocommit = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    with step("ANALYZE (the statistics autovacuum would have by the job's run)"), autocommit:
        autocommit.exec_driver_sql("ANALYZE")
    with step("roll-up-reports (the job adds the new entries to the reports' daily totals)"):
        with Session(engine) as session:
            run = roll_up(session)
        print(f"rolled up {run.entries:,} entries, watermark {run.watermark:,}")
    with step("VACUUM ANALYZE and CHECKPOINT"):
        settle(engine)
    with engine.connect() as conn:
        size.entry_count = conn.exec_driver_sql("SELECT count(*) FROM ledger_entries").scalar()
        size.busiest = list(
            conn.exec_driver_sql(
                "SELECT account_id FROM ledger_entries GROUP BY account_id "
                f"ORDER BY count(*) DESC LIMIT {BUSIEST}"
            ).scalars()
        )
    print(shape(engine))


def check_ledger(engine: sa.Engine) -> None:
    """``loyalty ledger verify``'s checks over the whole database: stop on any violation."""
    with Session(engine) as session:
        violations = verify_ledger(session)
    for violation in violations[:20]:
        print(f"  {violation}")
    if violations:
        raise SystemExit(f"the ledger is broken: {len(violations)} violation(s)")
    print("ledger clean: every verify_ledger check passed")


def shape(engine: sa.Engine) -> str:
    """Row counts and sizes, for the closing note."""
    with engine.connect() as conn:
        row = conn.exec_driver_sql(
            "SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM ledger_entries), "
            "(SELECT count(*) FROM lots), (SELECT count(*) FROM lots WHERE remaining > 0), "
            "(SELECT count(*) FROM allocations), "
            "(SELECT max(n) FROM (SELECT count(*) n FROM ledger_entries GROUP BY account_id) m), "
            "pg_size_pretty(pg_database_size(current_database()))"
        ).one()
    customers, entries, lots, open_lots, allocations, most, size = row
    return (
        f"data: {customers:,} customers, {entries:,} entries, {lots:,} lots "
        f"({open_lots:,} open), {allocations:,} allocations, at most {most:,} entries "
        f"for one customer; database {size}"
    )


# -- requests --------------------------------------------------------------------------


class StatementCounter:
    """Counts the SQL statements an engine runs (SQLAlchemy's ``before_cursor_execute``)."""

    def __init__(self, *engines: sa.Engine) -> None:
        self.statements = 0
        for engine in engines:
            event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *_args: Any) -> None:
        self.statements += 1


def sign_in(app: Flask, client: FlaskClient) -> None:
    """Sign ``client`` in as the merchant's owner, as the admin tests' ``admin_client`` does.

    The staff account and its stored session come from the staff services; the session's
    cookie goes on the client, and the merchant's staff page (owners only) must then answer.
    """
    with app.app_context():
        session, now = get_session(), utcnow()
        staff = find_staff(session, STAFF_EMAIL) or create_staff(
            session, email=STAFF_EMAIL, name="Bench Owner", now=now
        )
        add_to_merchant(session, staff, merchant_id=MERCHANT, role=StaffRole.OWNER, now=now)
        token, _row = start_session(
            session,
            staff,
            method="password",
            address="127.0.0.1",
            user_agent="bench/admin.py",
            policy=StaffPolicy(),
            now=now,
        )
        session.commit()
    client.set_cookie(COOKIE, token, path=f"{ADMIN}/")
    staff_page = client.get(f"{ADMIN}/m/{MERCHANT}/staff")
    if staff_page.status_code != 200:
        answer = staff_page.get_data()[:300]
        raise SystemExit(f"signing in failed: {staff_page.status_code} {answer!r}")


@dataclass(frozen=True)
class Case:
    """One request of one page: a path (the same on both sizes), or a service call."""

    page: str
    label: str
    path: str | None = None
    service: Callable[[Session], Any] | None = None


@dataclass(frozen=True)
class Screen:
    """An admin screen: its rule and view, and how one request of it is made."""

    rule: str
    view: str
    path: Callable[[Any], str]
    service: Callable[[Session, Any, datetime], Any]

    def served(self, app: Flask) -> bool:
        """Whether the app serves this screen: its rule, answered by its view."""
        return any(
            rule.rule == f"{ADMIN}{self.rule}"
            and app.view_functions[rule.endpoint].__name__ == self.view
            for rule in app.url_map.iter_rules()
        )

    def case(self, app: Flask, page: str, value: Any, *, now: datetime) -> Case:
        """The page's request if the app serves the screen, else the service call it makes."""
        label = str(value)
        if self.served(app):
            return Case(page, label, path=f"{ADMIN}{self.path(value)}")
        return Case(f"{page} (service)", label, service=lambda s: self.service(s, value, now))


M = f"/m/{MERCHANT}"
SEARCH = Screen(
    "/m/<merchant_id>/customers",
    "customers",
    lambda q: f"{M}/customers?{urlencode({'q': q})}",
    lambda s, q, _now: search_customers(s, merchant_id=MERCHANT, query=q),
)
CUSTOMER = Screen(
    "/m/<merchant_id>/customers/<int:customer_id>",
    "customers_show",
    lambda i: f"{M}/customers/{i}",
    lambda s, i, now: customer_page(s, merchant_id=MERCHANT, customer_id=i, now=now),
)
DASHBOARD = Screen(
    "/m/<merchant_id>/",
    "dashboard",
    lambda span: f"{M}/" + (f"?from={span['first']}&to={span['last']}" if span else ""),
    lambda s, span, now: dashboard(
        s, merchant_id=MERCHANT, now=now, **{k: date.fromisoformat(v) for k, v in span.items()}
    ),
)
AGING = Screen(
    "/m/<merchant_id>/aging",
    "aging",
    lambda by: f"{M}/aging?{urlencode({'by': by})}",
    lambda s, by, now: aging(s, merchant_id=MERCHANT, now=now, by=by),
)
HEALTH = "GET /health (baseline)"


@dataclass
class Cases:
    """The requests of every page; a page's cases are picked from at random."""

    by_page: dict[str, list[Case]]

    @classmethod
    def build(
        cls, app: Flask, small: Size, rng: random.Random, *, per_kind: int, now: datetime
    ) -> Cases:
        """Searches for customers present at both sizes; pages of typical and busiest ones."""
        people = [person(i) for i in rng.sample(range(1, small.customers + 1), per_kind)]
        today = now.date()
        year = {"first": str(today - timedelta(days=364)), "last": str(today)}
        screens: list[tuple[str, Screen, list[Any]]] = [
            ("search: name prefix", SEARCH,
             [(p.first_name if n % 2 else p.last_name)[:3] for n, p in enumerate(people)]),
            ("search: e-mail", SEARCH, [p.email for p in people]),
            ("search: phone", SEARCH, [p.phone for p in people]),
            ("search: customer number", SEARCH, [p.number for p in people]),
            ("search: card number", SEARCH, [p.card for p in people if p.card]),
            ("customer page: typical", CUSTOMER, [p.id for p in people]),
            (f"customer page: {BUSIEST} busiest", CUSTOMER, small.busiest),
            ("dashboard: default period", DASHBOARD, [{}]),
            ("dashboard: a year", DASHBOARD, [year]),
            ("aging by group", AGING, ["group"]),
            ("aging by customer", AGING, ["customer"]),
            ("aging by card", AGING, ["card"]),
        ]  # fmt: skip
        by_page: dict[str, list[Case]] = {}
        for page, screen, values in screens:
            cases = [screen.case(app, page, value, now=now) for value in values]
            by_page[cases[0].page] = cases
        by_page[HEALTH] = [Case(HEALTH, "health", path="/loyalty/health")]
        return cls(by_page)


def request(size: Size, case: Case) -> int:
    """Run the case on the size (GET through its client, or the service); returns statements."""
    before = size.counter.statements
    if case.service is not None:
        with Session(size.engine) as session:
            case.service(session)
        return size.counter.statements - before
    response = size.client.get(case.path)
    body = response.get_data()
    if response.status_code != 200:
        raise SystemExit(f"{case.path} on {size.label}: {response.status_code} {body[:300]!r}")
    return size.counter.statements - before


def primary_key_select(size: Size, rng: random.Random, customers: int) -> Callable[[], Any]:
    """The floor: one customer's row by primary key, on a pooled connection of its own."""
    customer_id = rng.randint(1, customers)

    def run() -> Any:
        with size.engine.connect() as conn:
            return conn.exec_driver_sql(
                "SELECT * FROM customers WHERE id = %(id)s", {"id": customer_id}
            ).one()

    return run


PK_LABEL = "SELECT customer by id (baseline)"


def measure(sizes: list[Size], cases: Cases, args: argparse.Namespace, rng: random.Random) -> None:
    """Count each case's statements once per size, then time all pages, interleaved."""
    with step("count the SQL statements of every case at both sizes"):
        for size in sizes:
            for page, page_cases in cases.by_page.items():
                size.statements[page] = {case.label: request(size, case) for case in page_cases}
    if args.explain:
        for size in sizes:
            explain(size, cases)
    pages = [*cases.by_page, PK_LABEL]
    for size in sizes:
        size.results = {page: Samples(page) for page in pages}
    with step(f"warm up: up to {args.warmup} requests of each page at each size"):
        slowest = warm_up(sizes, pages, cases, args, rng)
    # A page gets --samples requests per size, or fewer (but MIN_SAMPLES) when that
    # many would take more than --budget seconds: the slowest pages take seconds each.
    counts = {
        page: min(args.samples, max(MIN_SAMPLES, int(args.budget / max(slowest[page], 1e-3))))
        for page in pages
    }
    plan = [(size, page) for size in sizes for page in pages for _ in range(counts[page])]
    rng.shuffle(plan)
    quiet_gc()
    with step(f"time {len(pages)} pages at both sizes, interleaved ({len(plan):,} requests)"):
        for size, page in plan:
            size.results[page].time(one_call(size, page, cases, rng, small=sizes[0].customers))


def warm_up(
    sizes: list[Size], pages: list[str], cases: Cases, args: argparse.Namespace, rng: random.Random
) -> dict[str, float]:
    """Untimed requests of every page (pool, caches, plans); the slowest mean per page, in s.

    A page stops warming up after ``--warmup`` requests or a tenth of ``--budget``
    seconds, whichever comes first (one request at least).
    """
    took: dict[str, float] = {}
    for size in sizes:
        for page in pages:
            start, done = time.perf_counter(), 0
            while done < max(args.warmup, 1) and (
                done == 0 or time.perf_counter() - start < args.budget / 10
            ):
                one_call(size, page, cases, rng, small=sizes[0].customers)()
                done += 1
            took[page] = max(took.get(page, 0.0), (time.perf_counter() - start) / done)
    return took


def one_call(
    size: Size, page: str, cases: Cases, rng: random.Random, *, small: int
) -> Callable[[], Any]:
    if page == PK_LABEL:
        return primary_key_select(size, rng, small)
    case = rng.choice(cases.by_page[page])
    return lambda: request(size, case)


def explain(size: Size, cases: Cases) -> None:
    """Print EXPLAIN (ANALYZE, BUFFERS) of every SELECT of one request of each page."""
    for page, page_cases in cases.by_page.items():
        print(f"\n-- {page} at {size.customers:,} customers: {page_cases[0].label}")
        with captured(size.engine, size.app_engine) as statements:
            request(size, page_cases[0])
        with size.engine.connect() as conn:
            for statement, params in statements:
                plan = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", params)
                print(f"\n{' '.join(statement.split())}\n  " + "\n  ".join(plan.scalars()))
            conn.rollback()


@contextmanager
def captured(*engines: sa.Engine) -> Iterator[list[tuple[str, Any]]]:
    """The SELECT statements (and their parameters) run on ``engines`` inside the block."""
    statements: list[tuple[str, Any]] = []

    def capture(_c: Any, _cur: Any, statement: str, params: Any, _ctx: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            statements.append((statement, params))

    for engine in engines:
        event.listen(engine, "before_cursor_execute", capture)
    try:
        yield statements
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", capture)


# -- report ----------------------------------------------------------------------------


def report(small: Size, large: Size) -> str:
    """p50/p99 at both sizes, statements per request at both, and the goal per page.

    A page passes when its p99 at the large size is under the goal and each of its
    requests ran as many statements at both sizes.
    """
    rows, failed = [], 0
    for page, results in large.results.items():
        before = small.results[page]
        counts = small.statements.get(page, {}), large.statements.get(page, {})
        verdict = "-" if "baseline" in page else _verdict(results.p99, *counts)
        failed += verdict.startswith("FAIL")
        rows.append(
            (page, len(results.ns), before.p50, before.p99, results.p50, results.p99,
             _counts(counts[0]), _counts(counts[1]), verdict)
        )  # fmt: skip
    s, m = f"{small.customers:,}", f"{large.customers:,}"
    headers = ("page", "n", f"p50 ms {s}", f"p99 ms {s}", f"p50 ms {m}", f"p99 ms {m}",
               f"SQL {s}", f"SQL {m}", "goal")  # fmt: skip
    return (
        f"{table(headers, rows)}\n\n"
        f"sizes: {small.customers:,} customers and {small.entry_count:,} entries; "
        f"{large.customers:,} customers and {large.entry_count:,} entries. n: timed requests "
        f"per size. SQL: statements "
        f"per request (a range: they differ between customers, not between sizes). Goal "
        f"(issue 14): p99 under {GOAL_MS:.0f} ms at {m} customers, and the same statements "
        f"per request at both sizes. {failed} page(s) FAIL. "
        f"Load average {os.getloadavg()[0]:.1f} (1 minute)."
    )


def _verdict(p99: float, small: dict[str, int], large: dict[str, int]) -> str:
    reasons = []
    if p99 >= GOAL_MS:
        reasons.append("p99")
    if small != large:
        reasons.append("SQL grows")
    return f"FAIL ({', '.join(reasons)})" if reasons else "PASS"


def _counts(seen: dict[str, int]) -> str:
    if not seen:
        return "-"
    low, high = min(seen.values()), max(seen.values())
    return str(low) if low == high else f"{low}-{high}"


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"whole run {time.perf_counter() - started:.0f} s")
