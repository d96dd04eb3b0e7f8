"""Engine settings per backend: how each database is made safe for concurrent writers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

#: PostgreSQL SQLSTATEs (or their class) that mean the server is gone or not accepting yet:
#: connection exceptions, admin shutdown, crash shutdown, "the database system is starting up".
_UNAVAILABLE_PG = ("08", "57P01", "57P02", "57P03")
#: MariaDB/MySQL client and server codes of the same kind: server shutdown, cannot connect,
#: server gone away, connection lost during a query.
_UNAVAILABLE_MYSQL = {1053, 2002, 2003, 2006, 2013, 2055}


def engine_options(url: str, *, timeout: int | None = None) -> dict[str, Any]:
    """Options for ``create_engine`` (or ``SQLALCHEMY_ENGINE_OPTIONS``) by backend.

    ``timeout`` bounds, in seconds, how long opening a connection may take (PostgreSQL
    rounds anything under 2 up to 2), so a request fails fast when the server is gone.
    """
    backend = make_url(url).get_backend_name()
    connect = {"connect_args": {"connect_timeout": int(timeout)}} if timeout else {}
    if backend == "mysql" or backend == "mariadb":
        # READ COMMITTED, as on PostgreSQL: after waiting for an account lock, a transaction
        # sees what the lock holder committed (REPEATABLE READ would show a stale snapshot).
        return {
            "isolation_level": "READ COMMITTED",
            "pool_pre_ping": True,
            "pool_recycle": 3600,
        } | connect
    if backend == "postgresql":
        return {"pool_pre_ping": True} | connect
    return {}


def is_unavailable(error: BaseException) -> bool:
    """True when ``error`` means the database cannot be reached now (down, restarting, gone).

    Such a failure is worth retrying later as it is; a constraint violation or a bad query
    is not. The pool's own timeout (every connection busy) counts as unavailable too.
    """
    if isinstance(error, sa_exc.TimeoutError):
        return True
    if not isinstance(error, sa_exc.DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    if not isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError):
        return False
    orig = error.orig
    if type(orig).__module__.split(".")[0] == "psycopg":
        # psycopg gives no SQLSTATE for failures of the connection itself.
        state = getattr(orig, "sqlstate", None)
        return state is None or state.startswith(_UNAVAILABLE_PG)
    args = getattr(orig, "args", ())
    return bool(args) and args[0] in _UNAVAILABLE_MYSQL


#: ``Connection.info`` key set when MariaDB rolled back the whole transaction under us.
TRANSACTION_LOST = "loyalty_transaction_lost"
#: MariaDB errors after which the transaction is gone: a deadlock (InnoDB rolls back the
#: whole transaction, not the statement) and a savepoint that no longer exists.
_LOST_MYSQL = {1213, 1305}


def prepare_engine(engine: Engine) -> Engine:
    """Apply per-backend connection setup; SQLite gets WAL and ``BEGIN IMMEDIATE``; on
    MariaDB a transaction the server rolled back is marked (:data:`TRANSACTION_LOST`)."""
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    if engine.dialect.name == "mysql":
        event.listen(engine, "handle_error", _mark_lost)
        event.listen(engine, "rollback", _clear_lost)
        event.listen(engine, "commit", _clear_lost)
    return engine


def _mark_lost(context: Any) -> None:
    # After a deadlock MariaDB has rolled back everything and silently starts a new
    # transaction with the next statement: code that caught the error in a savepoint would
    # go on and commit half a unit of work without its locks. The mark makes
    # :func:`~loyalty_plugin.services.transaction.run_in_transaction` refuse that commit.
    args = getattr(context.original_exception, "args", ())
    if context.connection is not None and args and args[0] in _LOST_MYSQL:
        context.connection.info[TRANSACTION_LOST] = True


def _clear_lost(connection: Any) -> None:
    connection.info.pop(TRANSACTION_LOST, None)


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy issue BEGIN itself (pysqlite would defer it until the first write).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "memory":
        cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # Take the write lock up front: concurrent writers then wait (busy_timeout) instead of
    # failing with "database is locked" when a read transaction tries to upgrade.
    connection.exec_driver_sql("BEGIN IMMEDIATE")
