"""Counting the SQL statements a service runs, to hold it to a constant number."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.orm import Session


@contextmanager
def counted(session: Session) -> Iterator[list[str]]:
    """The SQL statements run inside the block (SQLite's ``BEGIN IMMEDIATE`` left out)."""
    statements: list[str] = []
    engine = session.get_bind()

    def record(*args: object) -> None:
        if not str(args[2]).lstrip().upper().startswith("BEGIN"):
            statements.append(str(args[2]))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
