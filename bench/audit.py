"""The audit trail at 1,000,000 rows (issue 14): search p50/p99 and the CSV export's memory.

Seeds one merchant's audit trail with COPY (staff, API keys, the command line and the system
as actors; every known action; 100,000 customers and a few programs and keys as targets;
two years of history), plus a fifth as many rows of another merchant. Then it times
``search_audit`` (a first page of 50, as the admin page and ``GET /api/v1/audit`` ask) for
each kind of filter, and a page deep in the history by keyset; the baseline, in the same
run, is a plain ``SELECT`` of one row by primary key. Last, it streams the CSV export
(``export_csv``) of 100,000 rows and of the whole trail and prints rows per second and, from
a second run under ``tracemalloc``, the peak of Python memory while streaming, against
reading the same 100,000 rows into a list at once.

    python bench/audit.py                              # 1,000,000 rows
    python bench/audit.py --rows 20000 --samples 5     # a smoke run

See bench/README.md for what each figure means.
"""

from __future__ import annotations

import io
import json
import random
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from _common import Samples, benchmark_parser, copy_text, fresh_database, settle, step, table
from sqlalchemy.orm import Session

from loyalty_plugin.models import AuditEntry, Merchant
from loyalty_plugin.services.audit import KNOWN_ACTIONS, AuditQuery, export_csv, search_audit

MERCHANT, OTHER = "bench", "other"
START = datetime(2025, 1, 1, tzinfo=UTC)
DAYS = 730
COLUMNS = (
    "merchant_id", "occurred_at", "actor_kind", "actor_id", "actor_name", "action",
    "target_type", "target_id", "before", "after", "request_id", "address",
)  # fmt: skip
STAFF = [(str(n), name) for n, name in enumerate(
    ("Ana Lima", "Bruno Costa", "Carla Dias", "Diego Ramos", "Eva Nunes", "Filipe Sousa",
     "Gina Rocha", "Hugo Pires", "Irene Melo", "Joao Alves"), start=1)]  # fmt: skip
KEYS = [f"lk_{n:08d}" for n in range(1, 6)]


def actor(rng: random.Random) -> tuple[str, str, str]:
    """Staff most of the time, then API keys, the command line, the system."""
    draw = rng.random()
    if draw < 0.6:
        staff_id, name = rng.choice(STAFF)
        return "staff", staff_id, name
    if draw < 0.9:
        key = rng.choice(KEYS)
        return "api_key", key, key
    if draw < 0.97:
        return "cli", "ops", "ops"
    return "system", "system", "system"


def target(rng: random.Random, action: str) -> tuple[str, str]:
    thing = action.split(".")[0]
    if thing in ("adjustment", "card", "card_batch", "reward", "coupon_campaign"):
        return thing, str(rng.randrange(1, 200_000))
    if thing in ("consent", "level", "customer", "points"):
        return "customer", f"c{rng.randrange(1, 100_000)}"
    if thing == "program":
        return "program", rng.choice(("default", "summer", "vip"))
    if thing == "api_key":
        return "api_key", rng.choice(KEYS)
    return thing, MERCHANT


def rows_text(count: int, merchant: str, rng: random.Random) -> str:
    """``count`` audit rows in COPY text format, oldest first (ids follow time)."""
    # Actions are skewed as in a shop: adjustments and consents daily, keys rarely.
    weights = [40 if a.startswith(("adjustment", "consent", "level", "card.")) else 1
               for a in KNOWN_ACTIONS]  # fmt: skip
    actions = rng.choices(KNOWN_ACTIONS, weights=weights, k=count)
    step_seconds = DAYS * 86_400 / count
    out = io.StringIO()
    for n, action in enumerate(actions):
        kind, actor_id, name = actor(rng)
        target_type, target_id = target(rng, action)
        at = START + timedelta(seconds=n * step_seconds)
        before = json.dumps({"points": rng.randrange(0, 5000), "status": "pending"})
        after = json.dumps({"points": rng.randrange(0, 5000), "status": "applied"})
        request = f"req-{n}" if kind != "cli" else "\\N"
        address = "203.0.113.7" if kind != "cli" else "\\N"
        fields = (merchant, at.strftime("%Y-%m-%d %H:%M:%S.%f"), kind, actor_id, name, action,
                  target_type, target_id, before, after, request, address)  # fmt: skip
        out.write("\t".join(fields) + "\n")
    return out.getvalue()


def seed(engine: sa.Engine, rows: int, rng: random.Random) -> None:
    with Session(engine) as session:
        session.add_all([Merchant(id=MERCHANT, name="Bench", currency="EUR"),
                         Merchant(id=OTHER, name="Other", currency="EUR")])  # fmt: skip
        session.commit()
    with engine.begin() as connection:
        for merchant, count in ((MERCHANT, rows), (OTHER, rows // 5)):
            for start in range(0, count, 200_000):
                chunk = rows_text(min(200_000, count - start), merchant, rng)
                copy_text(connection, "audit_entries", COLUMNS, chunk)


QUERIES: dict[str, AuditQuery] = {
    "newest first, no filter": AuditQuery(),
    "actor staff:3 (exact)": AuditQuery(actor="staff:3"),
    "actor 'ramos' (part of a name)": AuditQuery(actor="ramos"),
    "action adjustment.approved": AuditQuery(action="adjustment.approved"),
    "thing 'adjustment' (prefix)": AuditQuery(action="adjustment"),
    "rare action api_key.revoked": AuditQuery(action="api_key.revoked"),
    "target customer c4242": AuditQuery(target_type="customer", target_id="c4242"),
    "one week, a year ago": AuditQuery(
        since=START + timedelta(days=365), until=START + timedelta(days=372)
    ),
    "actor + action + week": AuditQuery(
        actor="api_key:lk_00000002",
        action="settings.updated",
        since=START + timedelta(days=300),
        until=START + timedelta(days=307),
    ),
}


def time_searches(engine: sa.Engine, samples: int) -> list[tuple[object, ...]]:
    results = []
    with Session(engine) as session:
        top = session.scalar(sa.select(sa.func.max(AuditEntry.id)))
        deep = top // 2
        timed: dict[str, Callable[[], object]] = {
            name: (lambda q=query: search_audit(session, merchant_id=MERCHANT, query=q))
            for name, query in QUERIES.items()
        }
        timed["page deep in the history (keyset)"] = lambda: search_audit(
            session, merchant_id=MERCHANT, query=AuditQuery(), before_id=deep
        )
        timed["baseline: one row by primary key"] = lambda: session.execute(
            sa.select(AuditEntry.id, AuditEntry.action).where(AuditEntry.id == deep)
        ).one()
        for name, action in timed.items():
            for _ in range(3):
                action()
                session.expunge_all()
            timing = Samples(name)
            for _ in range(samples):
                timing.time(action)
                session.expunge_all()
            found = action()
            shown = len(found.entries) if hasattr(found, "entries") else 1
            results.append((name, shown, timing.p50, timing.p99))
    return results


def measure_export(
    engine: sa.Engine, query: AuditQuery, limit: int | None, *, traced: bool
) -> tuple[int, float, float | None]:
    """Rows written, rows per second and, when ``traced``, the peak of Python memory (MiB)
    while streaming (tracing slows Python down, so the rate comes from an untraced run)."""
    with Session(engine) as session:
        if traced:
            tracemalloc.start()
        start = time.perf_counter()
        lines = 0
        for _line in export_csv(session, merchant_id=MERCHANT, query=query):
            lines += 1
            if limit is not None and lines > limit:
                break
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1] / 2**20 if traced else None
        tracemalloc.stop()
    return lines - 1, (lines - 1) / seconds, peak


def export_row(name: str, engine: sa.Engine, limit: int | None) -> tuple[object, ...]:
    rows, rate, _none = measure_export(engine, AuditQuery(), limit, traced=False)
    _rows, _rate, peak = measure_export(engine, AuditQuery(), limit, traced=True)
    return name, rows, rate, peak


def measure_list(engine: sa.Engine, count: int, *, traced: bool) -> tuple[int, float, float | None]:
    """The naive way, as a baseline: the same rows read into a list at once."""
    with Session(engine) as session:
        if traced:
            tracemalloc.start()
        start = time.perf_counter()
        rows = session.scalars(
            sa.select(AuditEntry).where(AuditEntry.merchant_id == MERCHANT)
            .order_by(AuditEntry.occurred_at.desc(), AuditEntry.id.desc()).limit(count)
        ).all()  # fmt: skip
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1] / 2**20 if traced else None
        tracemalloc.stop()
    return len(rows), len(rows) / seconds, peak


def main() -> None:
    parser = benchmark_parser(__doc__, database="audit")
    parser.add_argument("--rows", type=int, default=1_000_000, help="the merchant's audit rows")
    parser.add_argument("--samples", type=int, default=50, help="timed searches per filter")
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with fresh_database(args.url, keep=args.keep, sql=args.sql) as engine:
        with step(f"seeding {args.rows:,} + {args.rows // 5:,} audit rows"):
            seed(engine, args.rows, rng)
            settle(engine)
        with step("timing searches"):
            searches = time_searches(engine, args.samples)
        print(table(("search (first page of 50)", "rows", "p50 ms", "p99 ms"), searches))
        part = min(100_000, args.rows)
        with step("streaming the CSV export"):
            listed = measure_list(engine, part, traced=False)
            exports = [
                export_row("export_csv, first 100,000 rows", engine, part),
                export_row("export_csv, the whole trail", engine, None),
                ("baseline: 100,000 rows read into a list", *listed[:2],
                 measure_list(engine, part, traced=True)[2]),
            ]  # fmt: skip
        print(table(("export", "rows", "rows/s", "peak MiB"), exports))


if __name__ == "__main__":
    main()
