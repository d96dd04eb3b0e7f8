"""The unit of work: commit, retry a lost race, and run effects only after commit."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, SessionTransaction, scoped_session

from loyalty_plugin.database import TRANSACTION_LOST

log = logging.getLogger(__name__)
T = TypeVar("T")

_AFTER_COMMIT = "loyalty_after_commit"

#: Driver error codes that mean "another transaction won; try again".
#: PostgreSQL SQLSTATEs: serialization failure, deadlock. MariaDB: lock wait timeout, deadlock.
_RETRYABLE_PG = {"40001", "40P01"}
_RETRYABLE_MYSQL = {1205, 1213}


def after_commit(session: Session, effect: Callable[[], object]) -> None:
    """Run ``effect`` once the session's outermost transaction commits; drop it on rollback.

    An effect queued inside a savepoint is dropped if that savepoint rolls back, and kept
    (for the outer commit) if it is released.
    """
    if isinstance(session, scoped_session):
        # Flask-SQLAlchemy's ``db.session`` is a proxy without the transaction accessors.
        session = session()
    transaction = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_AFTER_COMMIT, []).append((transaction, effect))


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint was released; the real commit is still to come
    for _transaction, effect in session.info.pop(_AFTER_COMMIT, []):
        try:
            effect()
        except Exception:
            # An effect (a plugin hook, a notification) must never undo committed points.
            log.exception("after-commit effect %r failed", effect)


@event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    queued = session.info.get(_AFTER_COMMIT)
    if queued:
        session.info[_AFTER_COMMIT] = [
            (t, e) for t, e in queued if not _within(t, previous_transaction)
        ]


def _within(transaction: SessionTransaction | None, ancestor: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False


class TransactionLost(Exception):
    """The database rolled the transaction back under a savepoint that caught the error
    (a MariaDB deadlock); committing what followed would commit half a unit of work."""


def is_retryable(error: BaseException) -> bool:
    """True for a lost race: a duplicate insert, a deadlock, a serialization failure."""
    if isinstance(error, IntegrityError | TransactionLost):
        return True
    if not isinstance(error, DBAPIError) or error.orig is None:
        return False
    orig = error.orig
    if getattr(orig, "sqlstate", None) in _RETRYABLE_PG:
        return True
    args = getattr(orig, "args", ())
    if args and args[0] in _RETRYABLE_MYSQL:
        return True
    return "database is locked" in str(orig)


def _refuse_if_lost(session: Session) -> None:
    """Refuse to commit what ran after MariaDB rolled the transaction back (a deadlock)."""
    if isinstance(session, scoped_session):
        session = session()
    if not session.in_transaction() or session.get_bind().dialect.name != "mysql":
        return
    if session.connection().info.get(TRANSACTION_LOST):
        raise TransactionLost("the database rolled this transaction back (a deadlock)")


def run_in_transaction(session: Session, work: Callable[[Session], T], *, attempts: int = 3) -> T:
    """Run ``work(session)`` and commit; on a lost race roll back and run it again.

    Services never commit; the web, CLI and job layers call them through this function.
    A retry sees the winner's committed rows, so an idempotent write then returns the
    winner's result instead of failing.
    """
    for attempt in range(1, attempts + 1):
        try:
            result = work(session)
            _refuse_if_lost(session)
            session.commit()
            return result
        except Exception as error:
            session.rollback()
            if attempt == attempts or not is_retryable(error):
                raise
            log.info("retrying unit of work after %s (attempt %d)", type(error).__name__, attempt)
    raise AssertionError("unreachable")
