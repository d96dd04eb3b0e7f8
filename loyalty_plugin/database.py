"""Engine settings per backend: how each database is made safe for concurrent writers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url


def engine_options(url: str) -> dict[str, Any]:
    """Options for ``create_engine`` (or ``SQLALCHEMY_ENGINE_OPTIONS``) by backend."""
    backend = make_url(url).get_backend_name()
    if backend == "mysql" or backend == "mariadb":
        # READ COMMITTED, as on PostgreSQL: after waiting for an account lock, a transaction
        # sees what the lock holder committed (REPEATABLE READ would show a stale snapshot).
        return {"isolation_level": "READ COMMITTED", "pool_pre_ping": True, "pool_recycle": 3600}
    if backend == "postgresql":
        return {"pool_pre_ping": True}
    return {}


def prepare_engine(engine: Engine) -> Engine:
    """Apply per-backend connection setup; SQLite gets WAL and ``BEGIN IMMEDIATE``."""
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


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
