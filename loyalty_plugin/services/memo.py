"""Lookups a unit of work repeats, remembered until its transaction ends (issue 20).

One ``invoice.paid`` event asks for the merchant's programs in force three times (to earn,
for the level of the new lot, to review the levels) and locks the customer's account three
times (to earn by program, in the ledger, to review the levels). Each answer cannot change
within the transaction, except by this transaction's own writes, so it is kept in
``session.info`` and forgotten:

* when any transaction of the session ends (commit, rollback, or a savepoint released or
  rolled back: a lock taken inside a savepoint that rolls back may be released with it);
* after a flush that wrote a row of a class the caller named (a program edited in the same
  transaction as an earning is read again);
* after any ORM ``UPDATE`` or ``DELETE`` statement, which may change rows behind the
  identity map (``synchronize_session=False``).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import (
    ORMExecuteState,
    Session,
    SessionTransaction,
    UOWTransaction,
    scoped_session,
)

T = TypeVar("T")

_MEMO = "loyalty_memo"


def remembered(
    session: Session, key: Hashable, compute: Callable[[], T], *, watch: tuple[type, ...] = ()
) -> T:
    """``compute()``, or what it returned for ``key`` earlier in this transaction.

    ``watch``: classes whose rows, when flushed, make the answer stale.
    """
    memo = _memo(session)
    if key in memo:
        return memo[key][0]
    value = compute()
    memo[key] = (value, watch)
    return value


def forget(session: Session, key: Hashable) -> None:
    """Drop what was remembered for ``key``."""
    _memo(session).pop(key, None)


def remember(session: Session, key: Hashable, value: object) -> None:
    """Record ``value`` for ``key`` until the transaction ends (see :func:`remembered`)."""
    _memo(session)[key] = (value, ())


def recall(session: Session, key: Hashable) -> Any:
    """What was remembered for ``key`` in this transaction, or ``None``."""
    found = _memo(session).get(key)
    return None if found is None else found[0]


def _memo(session: Session) -> dict[Hashable, tuple[Any, tuple[type, ...]]]:
    if isinstance(session, scoped_session):
        session = session()
    return session.info.setdefault(_MEMO, {})


@event.listens_for(Session, "after_transaction_end")
def _forget_all(session: Session, transaction: SessionTransaction) -> None:
    # A flush runs in a subtransaction of its own (neither root nor savepoint): not an end.
    if transaction.parent is None or transaction.nested:
        session.info.pop(_MEMO, None)


@event.listens_for(Session, "after_flush")
def _forget_written(session: Session, _flush: UOWTransaction) -> None:
    memo = session.info.get(_MEMO)
    if not memo:
        return
    # ``session.dirty`` also lists rows whose attributes were set to the same value.
    changed = (row for row in session.dirty if session.is_modified(row))
    written = {type(row) for rows in (session.new, changed, session.deleted) for row in rows}
    for key in [k for k, (_v, watch) in memo.items() if written.intersection(watch)]:
        del memo[key]


@event.listens_for(Session, "do_orm_execute")
def _forget_on_bulk_write(state: ORMExecuteState) -> None:
    if state.is_update or state.is_delete:
        state.session.info.pop(_MEMO, None)
