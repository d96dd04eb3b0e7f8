"""Per-merchant settings kept across requests, checked against a version stamp (issue 20).

Kept: the expiry policy, the notification switches, the webhook endpoint's event types,
the versions of the active programs (without their settings, which are parsed once per
version and settings hash by :mod:`~loyalty_plugin.services.earning.rule_engine`) and the
bonus campaigns not ended, parsed (issue 18), without their budget counter ``given``.
Signing secrets bump the version too, but are kept apart, with their end: the high-load
intake verifies with them and inserts a delivery only while the stamp stands
(:func:`~loyalty_plugin.services.merchants.secrets.known_keys`).

Every event reads its merchant's row (with the signing secrets) first. That row carries a
random ``settings_token``, set when the row is inserted, and a ``settings_version``, which
every write of a cached settings model bumps in the writing transaction (a ``before_flush``
listener: one ``UPDATE merchants SET settings_version = settings_version + 1``, atomic under
concurrency). :func:`note_stamp` records the stamp read for the rest of that transaction;
:func:`cached` then answers a lookup from the process-wide snapshot made at the same stamp,
or runs the query and keeps its answer.

Why this is safe with several processes and machines: the stamp is read in each
transaction, and a settings change commits together with its bump, so a transaction that
reads the stamp after the change committed reads a new version and misses the old
snapshot. A snapshot is read after its stamp, so it is never older than the stamp it is
kept under. The token makes a merchant deleted and created again (a ``TRUNCATE`` between
tests, a restored backup) a new key, whose version starts at 0 again; the database's URL
is in the key too, as several databases can be used in one process.

Only immutable values are kept (frozen dataclasses, tuples, frozensets), never ORM rows.
A transaction that writes cached settings itself neither reads nor fills the cache until
it ends: its answers may hold rows that are not committed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from cachetools import LRUCache
from sqlalchemy import event, inspect, update
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, scoped_session

from loyalty_plugin.models import (
    BonusCampaign,
    ExpirySettings,
    Merchant,
    NotificationSettings,
    Program,
    ProgramVersion,
    WebhookEndpoint,
    WebhookSecret,
)

T = TypeVar("T")

#: The models whose rows are cached: a write of one bumps its merchant's version.
CACHED_MODELS: tuple[type, ...] = (
    BonusCampaign,
    ExpirySettings,
    NotificationSettings,
    Program,
    ProgramVersion,
    WebhookEndpoint,
    # Not cached here: the high-load intake keeps the signing secrets read at a stamp and
    # inserts a delivery only while the stamp stands (services/merchants/secrets.py).
    WebhookSecret,
)
#: Columns of cached models that no snapshot holds, by table: writing only these bumps
#: nothing, and a bulk UPDATE that sets only these is allowed. A campaign's budget counter
#: changes with every grant (read under lock when charging, never from a snapshot): a bump
#: per earning would make every invoice miss the cache.
UNCACHED_COLUMNS: dict[str, frozenset[str]] = {"bonus_campaigns": frozenset({"given"})}
#: Merchants kept per process; the least recently used is dropped beyond it.
MAX_MERCHANTS = 4096

_WRITTEN = "loyalty_settings_written"
_STAMPS = "loyalty_settings_stamps"
_TABLES = frozenset(model.__table__.name for model in CACHED_MODELS)  # type: ignore[attr-defined]


class _Snapshots:
    """(database, merchant, token) -> (version, {lookup: value}), least recently used out,
    thread-safe."""

    def __init__(self, size: int) -> None:
        self._rows: LRUCache[tuple[str, str, str], tuple[int, dict[Hashable, Any]]] = LRUCache(
            maxsize=size
        )
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, str], version: int, name: Hashable) -> tuple[bool, Any]:
        with self._lock:
            found = self._rows.get(key)
            if found is None or found[0] != version or name not in found[1]:
                return False, None
            return True, found[1][name]

    def put(self, key: tuple[str, str, str], version: int, name: Hashable, value: Any) -> None:
        with self._lock:
            found = self._rows.get(key)
            if found is not None and found[0] > version:
                return  # a reader of an older stamp: keep the newer snapshot
            values = found[1] if found is not None and found[0] == version else {}
            self._rows[key] = (version, values | {name: value})

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()


_SNAPSHOTS = _Snapshots(MAX_MERCHANTS)


def note_stamp(session: Session, merchant_id: str, *, token: str, version: int) -> None:
    """Record the merchant's stamp, read in this transaction, until the transaction ends.

    Unlike :mod:`~loyalty_plugin.services.memo`, a savepoint's end keeps it: it is a value
    read, not a lock, and a savepoint that wrote settings marks the transaction anyway. An
    empty token (a row inserted by hand, without one) is no stamp: nothing is cached.
    """
    if not token:
        return
    _plain(session).info.setdefault(_STAMPS, {})[merchant_id] = (token, version)


def has_stamp(session: Session, merchant_id: str) -> bool:
    """Whether this transaction read the merchant's stamp (its lookups can be cached)."""
    return merchant_id in _plain(session).info.get(_STAMPS, {})


def can_cache(session: Session, merchant_id: str) -> bool:
    """Whether :func:`cached` would use the cache: a stamp read, no settings written."""
    session = _plain(session)
    return has_stamp(session, merchant_id) and not _writes_settings(session)


def cached(session: Session, merchant_id: str, name: Hashable, compute: Callable[[], T]) -> T:
    """``compute()``, or its answer kept at the stamp this transaction read for the merchant.

    Without a stamp in this transaction (a job, the admin pages), or while this transaction
    writes cached settings, it is ``compute()``.
    """
    session = _plain(session)
    stamp = session.info.get(_STAMPS, {}).get(merchant_id)
    if stamp is None or _writes_settings(session):
        return compute()
    token, version = stamp
    key = (database_key(session), merchant_id, token)
    hit, value = _SNAPSHOTS.get(key, version, name)
    if hit:
        return value  # type: ignore[no-any-return]
    value = compute()
    _SNAPSHOTS.put(key, version, name, value)
    return value


def clear() -> None:
    """Forget every snapshot (never needed for correctness; for tests and operators)."""
    _SNAPSHOTS.clear()


def _plain(session: Session) -> Session:
    return session() if isinstance(session, scoped_session) else session


def database_key(session: Session) -> str:
    """Which database ``session`` reads: per-process caches keep each database apart."""
    return repr(_plain(session).get_bind().url)


def _writes_settings(session: Session) -> bool:
    if session.info.get(_WRITTEN):
        return True
    return any(
        isinstance(row, CACHED_MODELS)
        for rows in (session.new, _changed(session), session.deleted)
        for row in rows
    )


def _changed(session: Session) -> list[Any]:
    """The dirty rows of cached models with a cached column really changed.

    ``session.dirty`` also lists rows whose attributes were set to the same value; an extra
    bump would only cost a read, a missed one a stale setting.
    """
    found = []
    for row in session.dirty:
        if not isinstance(row, CACHED_MODELS) or not session.is_modified(row):
            continue
        skip = UNCACHED_COLUMNS.get(row.__table__.name, frozenset())
        state = inspect(row)
        if not skip or any(
            attr.history.has_changes() for attr in state.attrs if attr.key not in skip
        ):
            found.append(row)
    return found


@event.listens_for(Session, "before_flush")
def _bump_versions(session: Session, _flush: Any, _instances: Any) -> None:
    merchants = {
        row.merchant_id
        for rows in (session.new, _changed(session), session.deleted)
        for row in rows
        if isinstance(row, CACHED_MODELS)
    }
    if not merchants:
        return
    session.info[_WRITTEN] = True
    session.connection().execute(
        update(Merchant.__table__)
        .where(Merchant.__table__.c.id.in_(sorted(merchants)))
        .values(settings_version=Merchant.__table__.c.settings_version + 1)
    )


@event.listens_for(Session, "after_transaction_end")
def _transaction_ended(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_WRITTEN, None)
        session.info.pop(_STAMPS, None)


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_writes(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    name = getattr(table, "name", None)
    if name in _TABLES and not _sets_only_uncached(state.statement, name):
        raise RuntimeError(
            f"bulk UPDATE/DELETE of {table.name} would bypass the settings version "
            "(loyalty_plugin/services/settings_cache.py): change the rows through the ORM"
        )


def _sets_only_uncached(statement: Any, table: str) -> bool:
    """Whether ``statement`` is an UPDATE that sets only :data:`UNCACHED_COLUMNS`."""
    allowed = UNCACHED_COLUMNS.get(table)
    values = getattr(statement, "_values", None)  # SQLAlchemy's SET clause, by column
    if not allowed or not values or not statement.is_update:
        return False
    return all(getattr(column, "key", column) in allowed for column in values)
