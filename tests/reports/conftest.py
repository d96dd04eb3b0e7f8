"""The reports' known shop (tests/reports/data.py), and a counter of SQL statements."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from loyalty_plugin.models import Account
from tests.reports.data import build_shop


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
