"""The reports' known shop (tests/reports/data.py), and a counter of SQL statements."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session

from loyalty_plugin.database import engine_options
from loyalty_plugin.models import Account, ApiScope, Merchant
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.merchants.api_keys import create_api_key
from tests.reports.data import MERCHANT, build_shop


@pytest.fixture
def shop(session: Session) -> dict[str, Account]:
    """The known shop, on the test session's database."""
    return build_shop(session)


@pytest.fixture
def count_queries(engine: sa.Engine) -> Callable[[], Any]:
    """``with count_queries() as counted:`` then ``counted[0]`` is the statements run."""

    @contextmanager
    def counting() -> Iterator[list[int]]:
        counted = [0]

        def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            if not statement.lstrip().upper().startswith("BEGIN"):  # SQLite's own BEGIN
                counted[0] += 1

        event.listen(engine, "before_cursor_execute", count)
        try:
            yield counted
        finally:
            event.remove(engine, "before_cursor_execute", count)

    return counting


@pytest.fixture
def served_shop(app: Flask, database_url: str) -> dict[str, str]:
    """The known shop on the app's database, and a read key and a write key for it."""
    plain = sa.create_engine(database_url, **engine_options(database_url))
    with Session(plain, expire_on_commit=False) as db:
        build_shop(db)
        keys = {}
        for scope in (ApiScope.READ, ApiScope.WRITE):
            _row, keys[scope.value] = create_api_key(
                db, merchant_id=MERCHANT, scope=scope, name=f"reports {scope}", now=utcnow()
            )
        db.add(Merchant(id="other", name="Other", currency="EUR"))
        db.flush()
        _row, keys["other"] = create_api_key(
            db, merchant_id="other", scope=ApiScope.READ, name="other", now=utcnow()
        )
        db.commit()
    plain.dispose()
    return keys
