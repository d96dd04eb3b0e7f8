"""Shared benchmark plumbing: a throw-away PostgreSQL database, bulk COPY, timing, tables.

Every benchmark runs against a database it creates, migrates with
:func:`loyalty_plugin.migrations.upgrade` and drops again, so a run never touches real data.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import http.client
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from loyalty_plugin import migrations
from loyalty_plugin.database import engine_options, prepare_engine

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/loyalty_bench"
URL_VARIABLE = "LOYALTY_BENCH_DATABASE_URL"
#: Set to ``1`` by the smoke runs in ``tests/test_bench_*.py``: their figures mean nothing,
#: so they neither wait for a benchmark another process is timing nor make it wait.
SMOKE_VARIABLE = "LOYALTY_BENCH_SMOKE"


def add_database_arguments(parser: argparse.ArgumentParser) -> None:
    """``--url`` and ``--keep``, shared by every benchmark."""
    parser.add_argument(
        "--url",
        default=os.environ.get(URL_VARIABLE, DEFAULT_URL),
        help=f"database to create, use and drop (default: ${URL_VARIABLE} or {DEFAULT_URL}); "
        "its name must contain 'bench'",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the database afterwards, to inspect it"
    )
    parser.add_argument(
        "--sql",
        action="append",
        default=[],
        metavar="STATEMENT",
        help="SQL to run after migrating (repeatable), e.g. to try an index before writing "
        "its migration",
    )


def benchmark_parser(doc: str, *, database: str | None = None) -> argparse.ArgumentParser:
    """A parser described by the script's docstring, with :func:`add_database_arguments`.

    ``database`` names the script's own database (``loyalty_bench_<database>``), so that it
    can run while another benchmark uses ``loyalty_bench``.
    """
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    add_database_arguments(parser)
    if database:
        parser.set_defaults(url=os.environ.get(URL_VARIABLE, f"{DEFAULT_URL}_{database}"))
    return parser


def add_server_arguments(parser: argparse.ArgumentParser, *, threads: int, help: str) -> None:
    """``--workers`` and ``--threads`` of the gunicorn that :func:`start_gunicorn` runs."""
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=threads, help=help)


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_gunicorn(
    url: str,
    *,
    port: int,
    instance: str,
    workers: int,
    threads: int,
    options: Sequence[str] = (),
    app: str = "loyalty_plugin:create_app()",
) -> subprocess.Popen:
    """gunicorn serving ``app`` (``create_app()``) on ``127.0.0.1:port``, once
    ``/loyalty/health`` is 200.

    No scheduler (the jobs would compete for the same cores; this measures requests alone)
    and no entry-point plugins. ``options`` are more gunicorn options.
    """
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent))
    if gunicorn is None:
        raise SystemExit("gunicorn is not installed: pip install -e '.[test]'")
    env = os.environ | {
        "LOYALTY_DATABASE_URL": url,
        "LOYALTY_INSTANCE_PATH": instance,
        "LOYALTY_SECRET_KEY": "bench",
        "LOYALTY_PLUGIN_ENTRY_POINTS": "false",
        "LOYALTY_SCHEDULER": "off",
    }
    command = [
        gunicorn, "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
        "--worker-class", "gthread", "--threads", str(threads), *options,
        "--pythonpath", str(Path(__file__).resolve().parent.parent), app,
    ]  # fmt: skip
    process = subprocess.Popen(command, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            connection.request("GET", "/loyalty/health")
            if connection.getresponse().status == 200:
                return process
        except (OSError, http.client.HTTPException):
            time.sleep(0.2)
        finally:
            connection.close()
    stop_gunicorn(process)
    raise SystemExit("gunicorn did not start")


def stop_gunicorn(process: subprocess.Popen) -> None:
    """SIGTERM, and SIGKILL if gunicorn has not stopped 20 s later."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def _checked_url(url: str) -> URL:
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise SystemExit(f"the benchmarks need PostgreSQL, not {parsed.get_backend_name()}")
    # The database is dropped and re-created: refuse anything that looks like real data.
    if not parsed.database or "bench" not in parsed.database:
        raise SystemExit(f"refusing to recreate {parsed.database!r}: its name must contain 'bench'")
    return parsed


def _admin(url: URL) -> sa.Engine:
    return sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")


def make_engine(url: str | URL) -> sa.Engine:
    """An engine configured exactly as the service configures its own."""
    text = url.render_as_string(hide_password=False) if isinstance(url, URL) else url
    return prepare_engine(sa.create_engine(text, **engine_options(text)))


@contextmanager
def fresh_database(
    url: str, *, keep: bool = False, sql: Sequence[str] = (), exclusive: bool = True
) -> Iterator[sa.Engine]:
    """Create the database at ``url`` (dropping any leftover), migrate it, drop it afterwards.

    ``sql`` statements run right after the migrations: a schema experiment for this run only.
    ``exclusive=False`` skips waiting for other benchmarks (for a script that times nothing),
    as does a smoke run (``LOYALTY_BENCH_SMOKE=1``).
    """
    parsed = _checked_url(url)
    create = f'CREATE DATABASE "{parsed.database}"'
    exclusive = exclusive and os.environ.get(SMOKE_VARIABLE) != "1"
    alone = _one_benchmark_at_a_time(parsed) if exclusive else contextlib.nullcontext()
    with alone, _database(parsed, keep=keep, create=create) as engine:
        migrations.upgrade(engine)
        with engine.begin() as connection:
            for statement in sql:
                print(f"schema experiment: {statement}")
                connection.exec_driver_sql(statement)
        yield engine


@contextmanager
def existing_database(url: str | URL, *, exclusive: bool = True) -> Iterator[sa.Engine]:
    """A database kept by an earlier run (``--keep``), migrated, never dropped.

    For timing other code on the same data without seeding it again; holds the benchmark
    lock as :func:`fresh_database` does.
    """
    text = url.render_as_string(hide_password=False) if isinstance(url, URL) else url
    parsed = _checked_url(text)
    exclusive = exclusive and os.environ.get(SMOKE_VARIABLE) != "1"
    alone = _one_benchmark_at_a_time(parsed) if exclusive else contextlib.nullcontext()
    with alone:
        engine = make_engine(parsed)
        try:
            migrations.upgrade(engine)
            yield engine
        finally:
            engine.dispose()


@contextmanager
def cloned_database(engine: sa.Engine, suffix: str, *, keep: bool = False) -> Iterator[sa.Engine]:
    """A copy of ``engine``'s database named ``<name>_<suffix>``, dropped afterwards.

    PostgreSQL copies the files (``CREATE DATABASE ... TEMPLATE``), which takes seconds where
    reloading the data would take minutes. The source must have no open connections.
    """
    source = engine.url.database
    engine.dispose()
    target = engine.url.set(database=f"{source}_{suffix}")
    create = f'CREATE DATABASE "{target.database}" TEMPLATE "{source}"'
    with _database(target, keep=keep, create=create) as clone:
        yield clone


@contextmanager
def _one_benchmark_at_a_time(url: URL) -> Iterator[None]:
    """Hold a server-wide advisory lock while a benchmark runs.

    Two benchmarks at once would drop each other's database (they share the default name)
    and skew each other's timings, so the second one waits for the first.
    """
    admin = _admin(url)
    with admin.connect() as connection:
        locked = connection.exec_driver_sql(
            "SELECT pg_try_advisory_lock(hashtext('loyalty_plugin benchmark'))"
        ).scalar()
        if not locked:
            print("another benchmark is running on this server; waiting for it to finish ...")
            connection.exec_driver_sql(
                "SELECT pg_advisory_lock(hashtext('loyalty_plugin benchmark'))"
            )
        try:
            yield
        finally:
            connection.exec_driver_sql("SELECT pg_advisory_unlock_all()")
    admin.dispose()


@contextmanager
def _database(url: URL, *, keep: bool, create: str) -> Iterator[sa.Engine]:
    admin = _admin(url)
    drop = f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'
    with admin.connect() as connection:
        connection.exec_driver_sql(drop)
        connection.exec_driver_sql(create)
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()
        if keep:
            print(f"kept database {url.database!r}")
        else:
            with admin.connect() as connection:
                connection.exec_driver_sql(drop)
        admin.dispose()


def copy_text(connection: sa.Connection, table: str, columns: Sequence[str], data: str) -> None:
    """Bulk-load ``data`` (PostgreSQL COPY text format: tab-separated, ``\\N`` for NULL)."""
    if not data:
        return
    cursor = connection.connection.driver_connection.cursor()
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        view = memoryview(data.encode())
        for start in range(0, len(view), 1 << 20):
            copy.write(view[start : start + (1 << 20)])


def sync_sequence(connection: sa.Connection, table: str) -> None:
    """Move ``table``'s id sequence past the ids a COPY wrote explicitly."""
    connection.exec_driver_sql(
        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
        f"COALESCE((SELECT max(id) FROM {table}), 0) + 1, false)"
    )


def settle(engine: sa.Engine) -> None:
    """VACUUM ANALYZE and CHECKPOINT, so timings start from fresh statistics and quiet disks.

    The bulk load leaves the visibility map unset and a checkpoint's worth of dirty pages;
    without this, the first minutes of measurement pay for the load.
    """
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM (ANALYZE)")
        connection.exec_driver_sql("CHECKPOINT")


def quiet_gc() -> None:
    """Collect and freeze what the set-up built, so a gen-2 pass does not land in a sample."""
    gc.collect()
    gc.freeze()


@dataclass
class Samples:
    """Wall-clock durations of one operation, in nanoseconds."""

    name: str
    ns: list[int] = field(default_factory=list)

    def time(self, action: Callable[[], object]) -> None:
        """Run ``action`` once and record how long it took."""
        start = time.perf_counter_ns()
        action()
        self.ns.append(time.perf_counter_ns() - start)

    def percentile(self, q: float) -> float:
        """The ``q``-th percentile in milliseconds (nearest rank)."""
        if not self.ns:
            return math.nan
        ordered = sorted(self.ns)
        rank = max(1, math.ceil(q / 100 * len(ordered)))
        return ordered[rank - 1] / 1e6

    @property
    def p50(self) -> float:
        return self.percentile(50)

    @property
    def p99(self) -> float:
        return self.percentile(99)


@contextmanager
def step(label: str) -> Iterator[None]:
    """Print ``label``, run the block and print how long it took."""
    print(f"{label} ...", flush=True)
    start = time.perf_counter()
    yield
    # The load average shows whether something else competed for the CPU meanwhile.
    load = os.getloadavg()[0]
    print(f"{label}: {time.perf_counter() - start:.1f} s (load {load:.1f})", flush=True)


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A plain-text table: first column left-aligned, figures right-aligned."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    lines = [headers, ["-" * w for w in widths], *cells]
    return "\n".join(_line(line, widths) for line in lines)


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    first, *rest = zip(cells, widths, strict=True)
    return "  ".join([first[0].ljust(first[1]), *(c.rjust(w) for c, w in rest)])


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
