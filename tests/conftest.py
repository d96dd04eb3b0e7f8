"""Fixtures shared by every test: one suite, run on SQLite, PostgreSQL and MariaDB.

``--backends`` (or ``LOYALTY_TEST_BACKENDS``) picks the databases, all three by default;
every test that touches the database runs once per backend. A server that cannot be
reached fails the run: it is never skipped silently.
"""

from __future__ import annotations

import gc
import inspect
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from flask import Flask
from jinja2.bccache import Bucket, BytecodeCache
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from werkzeug.routing.rules import Rule
from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

from loyalty_plugin import create_app, migrations
from loyalty_plugin.database import engine_options, prepare_engine
from loyalty_plugin.models import Account, Base, Customer, Merchant
from loyalty_plugin.services.staff import passwords

#: Playwright's fixtures (a live server, one Chromium), shared by every page test.
pytest_plugins = ("tests.browser",)

ALL_BACKENDS = ("sqlite", "postgresql", "mariadb")
#: The shared MariaDB speaks no TLS on loopback: without ``ssl_disabled``, PyMySQL builds a
#: certificate store for every new connection to try it (22 ms of a 23 ms connect).
SERVER_URLS = {
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:5432/{name}",
    "mariadb": "mysql+pymysql://root@127.0.0.1:3306/{name}?charset=utf8mb4&ssl_disabled=true",
}
ADMIN_URLS = {
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    "mariadb": "mysql+pymysql://root@127.0.0.1:3306/?charset=utf8mb4&ssl_disabled=true",
}


def _share_url_builders() -> None:
    """One compiled URL builder per route for the whole run, not one per app.

    Most tests make an app, and werkzeug writes and compiles Python code for the URL
    builder of each of its 228 routes: half of ``create_app``'s time. That code depends
    only on the rule, its parsed parts and its defaults, so a builder compiled once serves
    every app (bound to each app's own rule, whose converters it calls). Left alone if
    werkzeug's internals are not the ones this expects.
    """
    compile_builder = getattr(Rule, "_compile_builder", None)
    if compile_builder is None or list(inspect.signature(compile_builder).parameters) != [
        "self",
        "append_unknown",
    ]:
        return
    builders: dict[tuple[Any, ...], Any] = {}

    def shared(self: Rule, append_unknown: bool = True) -> Any:
        defaults = repr(sorted((self.defaults or {}).items()))
        key = (self.rule, tuple(self._trace), defaults, append_unknown)
        if key not in builders:
            builders[key] = compile_builder(self, append_unknown)
        return builders[key]

    Rule._compile_builder = shared  # type: ignore[method-assign]


_share_url_builders()


#: The service's password hasher (argon2-cffi's defaults), for the test that checks it.
SERVICE_HASHER = passwords._HASHER


def _cheap_password_hashes() -> None:
    """Staff passwords hashed at argon2id's smallest cost in this run.

    At the service's cost each hash or check takes 0.1 to 0.25 s: a sixth of the admin
    tests' time. ``tests/admin/test_staff_services.py`` checks the service's own hasher.
    """
    passwords._HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    passwords._DUMMY = passwords._HASHER.hash("not a password of anyone")


_cheap_password_hashes()


class SharedTemplateCode(BytecodeCache):
    """Compiled templates kept in memory for every app of the run.

    Each test's app has its own Jinja environment, which compiled every template it
    rendered again (a slice of 473 tests: 94.0 s before, 91.4 s after). Jinja checks each
    entry against the template's source before using it.
    """

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


Flask.jinja_options = {**Flask.jinja_options, "bytecode_cache": SharedTemplateCode()}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backends",
        default=os.environ.get("LOYALTY_TEST_BACKENDS", ",".join(ALL_BACKENDS)),
        help="comma-separated databases to run on: sqlite, postgresql, mariadb",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        chosen = [b.strip() for b in metafunc.config.getoption("backends").split(",") if b]
        unknown = set(chosen) - set(ALL_BACKENDS)
        if unknown:
            raise pytest.UsageError(f"unknown backend(s): {', '.join(sorted(unknown))}")
        # Marks on the function, its class or its module (``pytestmark``) all count.
        marks = metafunc.definition.iter_markers("backends")
        only = {b for m in marks for b in m.args}
        params = [b for b in chosen if not only or b in only]
        metafunc.parametrize("backend", params, scope="session")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "backends(*names): run only on these backends")


def pytest_collection_finish(session: pytest.Session) -> None:
    """The garbage collector tuned for a run of many short tests.

    Each test's app leaves cycles behind, and the collector's full passes over a heap of
    every loaded module took a fifth of a worker's time (14 to 16 s of 75 in a slice of
    473 tests). What is loaded by now is set apart from those passes, and collections run
    less often (2 to 3 s).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under ``pytest -n``, the real-thread tests run on one worker, one after another.

    Each opens dozens of connections at once; two of them side by side could pass the
    server's ``max_connections`` (100 on a stock PostgreSQL). First among the hooks:
    xdist's own reads the group marker to keep the group on one worker.
    """
    for item in items:
        if item.get_closest_marker("concurrency"):
            item.add_marker(pytest.mark.xdist_group("concurrency"))


def database_name(purpose: str = "test") -> str:
    """A database name of this pytest process alone, so parallel runs never collide."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"loyalty_{purpose}_{worker}_{os.getpid()}"


def drop_server_database(backend: str, name: str) -> None:
    """Drop a database made by :func:`_recreate_server_database`."""
    admin = sa.create_engine(ADMIN_URLS[backend], isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        if backend == "postgresql":
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
    admin.dispose()


def _recreate_server_database(backend: str, name: str) -> str:
    admin = sa.create_engine(ADMIN_URLS[backend], isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            if backend == "postgresql":
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
            else:
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
                connection.exec_driver_sql(
                    f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                )
    except sa.exc.OperationalError as error:
        pytest.fail(
            f"{backend} is not reachable at {make_url(ADMIN_URLS[backend]).render_as_string()}: "
            f"{error.orig}. Start it (see DEVELOPERS notes in docs/operations.md) or pass "
            f"--backends to choose others.",
            pytrace=False,
        )
    finally:
        admin.dispose()
    return SERVER_URLS[backend].format(name=name)


def make_engine(url: str, **extra: Any) -> sa.Engine:
    """An engine configured exactly as the service configures its own."""
    return prepare_engine(sa.create_engine(url, **engine_options(url) | extra))


@pytest.fixture(scope="session")
def migrated_databases() -> Iterator[dict[str, str]]:
    """The migrated database of each backend this pytest process has used, by backend;
    the server ones are dropped when the process ends."""
    databases: dict[str, str] = {}
    yield databases
    for backend in databases:
        if backend != "sqlite":
            drop_server_database(backend, database_name())


@pytest.fixture(scope="session")
def database_url(
    backend: str,
    tmp_path_factory: pytest.TempPathFactory,
    migrated_databases: dict[str, str],
) -> str:
    """A migrated database of ``backend``, shared by the tests of one session.

    pytest sets a session fixture up again each time the backend changes from one test to
    the next (hundreds of times in a run): the database is made and migrated on the first
    time only, and emptied on each return, as a new one would be.
    """
    url = migrated_databases.get(backend)
    if url is not None:
        engine = make_engine(url)
        wipe(engine)
        engine.dispose()
        return url
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'loyalty.sqlite3'}"
    else:
        url = _recreate_server_database(backend, database_name())
    engine = make_engine(url)
    migrations.upgrade(engine)
    engine.dispose()
    migrated_databases[backend] = url
    return url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[sa.Engine]:
    """The session-wide engine of the current backend."""
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def wipe(engine: sa.Engine) -> None:
    """Delete every row, keeping the schema (tests commit for real, so they clean up)."""
    with engine.begin() as connection:
        if engine.dialect.name == "mysql":
            connection.exec_driver_sql("SET FOREIGN_KEY_CHECKS=0")
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
        if engine.dialect.name == "mysql":
            connection.exec_driver_sql("SET FOREIGN_KEY_CHECKS=1")


@pytest.fixture
def clean_engine(engine: sa.Engine) -> Iterator[sa.Engine]:
    """The engine, with every table emptied after the test."""
    yield engine
    wipe(engine)


@pytest.fixture
def session(clean_engine: sa.Engine) -> Iterator[Session]:
    """A plain SQLAlchemy session, as services receive it (no Flask)."""
    with Session(clean_engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def app(database_url: str, engine: sa.Engine, tmp_path: Path) -> Iterator[Flask]:
    """The standalone service on the current backend."""
    app = create_app(
        {
            "TESTING": True,
            "LOYALTY_DATABASE_URL": database_url,
            "LOYALTY_SECRET_KEY": "test-secret-key",
        }
    )
    yield app
    with app.app_context():
        dispose_when_idle(app.extensions["loyalty"].db.engine)
    wipe(engine)


def dispose_when_idle(engine: sa.Engine, timeout: float = 10) -> None:
    """Dispose ``engine`` once no connection is checked out (or after ``timeout`` seconds).

    A live server's request thread may still hold a connection when its test ends;
    disposing under it would orphan that connection unclosed.
    """
    deadline = time.monotonic() + timeout
    while engine.pool.checkedout() and time.monotonic() < deadline:
        time.sleep(0.01)
    engine.dispose()


@pytest.fixture
def client(app: Flask) -> Any:
    return app.test_client()


@pytest.fixture
def now() -> datetime:
    """A fixed clock: services take the time as an argument."""
    return datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def make_account(session: Session) -> Callable[..., Account]:
    """Create a merchant (once), a customer and their account; returns the account."""

    def make(merchant_id: str = "shop", host_customer_id: str | None = None) -> Account:
        if session.get(Merchant, merchant_id) is None:
            session.add(Merchant(id=merchant_id, name=merchant_id.title(), currency="EUR"))
            session.flush()
        make.counter += 1  # type: ignore[attr-defined]
        customer = Customer(
            merchant_id=merchant_id,
            host_customer_id=host_customer_id or f"c{make.counter}",  # type: ignore[attr-defined]
            first_name="Test",
        )
        session.add(customer)
        session.flush()
        account = Account(merchant_id=merchant_id, customer_id=customer.id)
        session.add(account)
        session.commit()
        return account

    make.counter = 0  # type: ignore[attr-defined]
    return make


def port_is_open(host: str, port: int) -> bool:
    """True when something listens on ``host:port``."""
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


#: Where ``remembering_body`` keeps a request's response body for ``ClosingRequestHandler``.
RESPONSE_BODY = "tests.response_body"


def remembering_body(app: Flask) -> Callable[..., Any]:
    """``app``, keeping each response body in the WSGI environ so it can be closed later."""

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        body = app(environ, start_response)
        environ[RESPONSE_BODY] = body
        return body

    return wsgi


class ClosingRequestHandler(WSGIRequestHandler):
    """Closes the response body when the client drops the connection.

    Werkzeug's server drains the rest of the request in the ``finally`` that then closes
    the body; a reset there (a browser leaving a page while its static files load) skips
    the close, and the open file later fails an unrelated test as an unraisable warning.
    """

    def connection_dropped(
        self, error: BaseException, environ: dict[str, Any] | None = None
    ) -> None:
        body = (environ or {}).get(RESPONSE_BODY)
        if hasattr(body, "close"):
            body.close()


class JoiningServer(ThreadedWSGIServer):
    """A threaded server whose ``server_close`` waits for every request thread.

    Werkzeug's request threads are daemons that nobody waits for: a request that arrived
    before the test ended could take a database connection after the app's engine was
    disposed, and that connection, never closed, later failed an unrelated test as an
    unraisable warning. Closing also ends the browser's idle keep-alive connections, so
    the wait is only as long as the requests still being answered.
    """

    daemon_threads = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._open_requests: set[socket.socket] = set()
        self._requests_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._requests_lock:
            self._open_requests.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._requests_lock:
            self._open_requests.discard(request)
        super().shutdown_request(request)

    def server_close(self) -> None:
        with self._requests_lock:
            for request in self._open_requests:
                with suppress(OSError):
                    request.shutdown(socket.SHUT_RD)
        super().server_close()


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """``app`` on a threaded HTTP server on a free loopback port; yields its base URL.

    On leaving, every request thread has finished.
    """
    server = JoiningServer("127.0.0.1", 0, remembering_body(app), handler=ClosingRequestHandler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
