"""The app fixture's teardown closes every database connection, even one still in use.

A page test's server answers on its own threads: a request may still hold a connection
when the test ends. Disposing the engine under it orphaned that connection, and the
driver's garbage-collection warning then failed a later, unrelated test.
"""

from __future__ import annotations

import threading
import time
from urllib.request import urlopen

import pytest
import sqlalchemy as sa
from flask import Flask

from tests.conftest import dispose_when_idle, make_engine, serving

pytestmark = pytest.mark.backends("postgresql", "mariadb")


def is_closed(dbapi_connection: object) -> bool:
    if hasattr(dbapi_connection, "closed"):  # psycopg
        return bool(dbapi_connection.closed)
    return not dbapi_connection.open  # PyMySQL


def test_a_connection_in_use_at_teardown_is_closed_once_returned(database_url: str) -> None:
    engine = make_engine(database_url)
    checked_out = threading.Event()
    used: list[object] = []

    def slow_request() -> None:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
            used.append(connection.connection.dbapi_connection)
            checked_out.set()
            time.sleep(0.3)

    worker = threading.Thread(target=slow_request)
    worker.start()
    assert checked_out.wait(5)
    dispose_when_idle(engine, timeout=5)
    worker.join()
    assert is_closed(used[0])


def test_a_request_that_reaches_the_database_after_teardown_began_leaves_no_connection_open(
    database_url: str,
) -> None:
    """The request arrived before the server closed but asks for its connection later:
    closing the server waits for it, so the engine's disposal closes that connection too."""
    engine = make_engine(database_url)
    opened: list[object] = []
    sa.event.listen(engine, "connect", lambda dbapi_connection, _: opened.append(dbapi_connection))
    app = Flask(__name__)
    arrived = threading.Event()

    @app.get("/late")
    def late() -> str:
        arrived.set()
        time.sleep(0.3)
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        return "done"

    answers: list[bytes] = []
    with serving(app) as base:
        client = threading.Thread(
            target=lambda: answers.append(urlopen(base + "/late", timeout=10).read())
        )
        client.start()
        assert arrived.wait(5)
    dispose_when_idle(engine, timeout=5)
    client.join(10)
    left_open = [dbapi_connection for dbapi_connection in opened if not is_closed(dbapi_connection)]
    engine.dispose()
    assert answers == [b"done"]
    assert len(opened) == 1 and not left_open
