"""What PostgreSQL's plans touch: for tests that hold a page to a handful of index pages
whatever the merchant holds (``EXPLAIN (ANALYZE, BUFFERS)``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.orm import Session

#: Pages (8 kB blocks) one statement of a page may touch: a few index and heap pages.
MOST_BLOCKS = 30


def analyzed(session: Session) -> None:
    """Commit what the test wrote, refresh PostgreSQL's statistics so that the planner sees
    the bulk rows, and forget the loaded objects (the statements then read afresh)."""
    session.commit()
    session.execute(text("ANALYZE"))
    session.commit()
    session.expunge_all()


def blocks(session: Session, statement: str, parameters: object) -> int:
    """Shared-buffer pages (found and read in) the statement's plan touched."""
    explained = session.connection().exec_driver_sql(
        f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {statement}", parameters
    )
    plan = explained.scalar()
    plan = (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]
    return plan["Shared Hit Blocks"] + plan["Shared Read Blocks"]


@contextmanager
def selects_of(session: Session) -> Iterator[list[tuple[str, Any]]]:
    """The ``SELECT`` statements run on the session's engine within, with their parameters."""
    statements: list[tuple[str, Any]] = []

    def record(_conn: object, _cursor: object, statement: str, parameters: Any, *_: object):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def heavy_statements(session: Session, statements: list[tuple[str, Any]]) -> list[str]:
    """Each statement whose plan touched more than :data:`MOST_BLOCKS` pages, with the count."""
    return [
        f"{touched} pages: {' '.join(statement.split())}"
        for statement, parameters in statements
        if (touched := blocks(session, statement, parameters)) > MOST_BLOCKS
    ]
