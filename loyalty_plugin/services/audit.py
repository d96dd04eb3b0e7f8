"""The audit trail: who changed what, when, with the thing before and after.

Every service that staff, an API key or the ``loyalty`` command can call records its change
with :func:`record_change` **inside its own transaction**: the audit row commits or rolls
back with the change. Services take the acting party as an :class:`Actor` keyword argument
(``actor``); a service called with none records :data:`SYSTEM` (set-up code, jobs, tests).

Reading: :func:`search_audit` (filters, newest first, keyset pages) for the admin page and
the API, and :func:`export_csv` (the same query, streamed row by row) for the download.
"Newest first" is by ``occurred_at`` then ``id``, and every search index ends in those two
columns: no list is ever sorted, and no index but the merchant's can give that order (a
list by ``id`` alone could be read from the primary key, which PostgreSQL's generic plans
chose, walking every newer row of every other merchant first).
"""

from __future__ import annotations

import csv
import enum
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import ColumnElement, Select, String, func, or_, select, tuple_
from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import NotFound, ValidationError
from loyalty_plugin.domain.reports import local_midnight
from loyalty_plugin.models import AuditEntry, Merchant

#: The kinds of acting party, in the order the admin page's filter lists them.
ACTOR_KINDS = ("staff", "api_key", "cli", "host", "customer", "system")

_REQUEST = "loyalty_audit_request"

#: The actions the engine records (a search may also name a thing, e.g. ``program``).
KNOWN_ACTIONS = (
    "adjustment.requested",
    "adjustment.approved",
    "adjustment.rejected",
    "api_key.created",
    "api_key.revoked",
    "card.assigned",
    "card.blocked",
    "card.replaced",
    "card_batch.generated",
    "card_batch.imported",
    "config.imported",
    "consent.changed",
    "coupon.cancelled",
    "coupon_campaign.created",
    "coupon_campaign.ended",
    "coupon_campaign.updated",
    "customer.merged",
    "email_template.reset",
    "email_template.saved",
    "exchange_rate.set",
    "expiry_policy.updated",
    "level.given",
    "merchant.updated",
    "notifications.updated",
    "points.transferred",
    "portal_link.issued",
    "program.created",
    "program.updated",
    "program.activated",
    "program.archived",
    "program.paused",
    "reward.created",
    "reward.updated",
    "settings.updated",
    "staff.added",
    "staff.role_changed",
    "staff.removed",
    "staff.signed_out",
    "webhook_endpoint.pinged",
    "webhook_endpoint.updated",
    "webhook_secret.created",
    "webhook_secret.revoked",
)


@dataclass(frozen=True)
class Actor:
    """Who makes a change: a staff member, an API key, a command-line user, the host."""

    #: ``staff``, ``api_key``, ``cli``, ``host``, ``customer`` or ``system``.
    kind: str
    #: The staff member's id, the key's prefix, the operating-system user, ...
    id: str
    #: A readable name (a staff member's name; otherwise the id).
    name: str

    _LABEL_PREFIX: ClassVar[dict[str, str]] = {"api_key": "api"}

    def __post_init__(self) -> None:
        if self.kind not in ACTOR_KINDS:
            raise ValueError(f"unknown actor kind {self.kind!r}; one of {', '.join(ACTOR_KINDS)}")

    @classmethod
    def staff(cls, staff_id: int | str, name: str) -> Actor:
        """A signed-in staff member of the admin pages."""
        return cls("staff", str(staff_id), name)

    @classmethod
    def api_key(cls, prefix: str, name: str | None = None) -> Actor:
        """The API key a request was made with (its public prefix, never the secret)."""
        return cls("api_key", prefix, name or prefix)

    @classmethod
    def cli(cls, user: str) -> Actor:
        """Someone running the ``loyalty`` command as operating-system user ``user``."""
        return cls("cli", user, user)

    @classmethod
    def host(cls, name: str) -> Actor:
        """The host application, acting on its own (a signed event, a sync)."""
        return cls("host", name, name)

    @classmethod
    def customer(cls, host_customer_id: str, name: str) -> Actor:
        """A customer acting on their own record (the unsubscribe link, the portal)."""
        return cls("customer", host_customer_id, name or host_customer_id)

    @classmethod
    def from_label(cls, label: str) -> Actor:
        """Read back a label (``"api:lk_ab12"``, ``"staff:Ana"``, ``"cli"``, ``"demo"``).

        Services that always took the actor as a string keep accepting one.
        """
        prefix, colon, rest = label.partition(":")
        kind = {"api": "api_key", "staff": "staff", "cli": "cli", "host": "host"}.get(prefix)
        if kind is None:
            return cls("system", label, label)
        if kind == "staff":
            staff_id, _, name = rest.partition(" ")
            return cls("staff", staff_id, name or staff_id)
        who = rest if colon and rest else prefix
        return cls(kind, who, who)

    @property
    def label(self) -> str:
        """How ledger rows name the actor: ``"staff:12 Ana"``, ``"api:lk_ab12"``, ``"cli:root"``."""
        if self.kind == "system":
            return self.id
        prefix = self._LABEL_PREFIX.get(self.kind, self.kind)
        if self.kind == "staff" and self.name != self.id:
            return f"{prefix}:{self.id} {self.name}"
        return f"{prefix}:{self.id}"


#: Changes made by the engine itself or by set-up code that names no one.
SYSTEM = Actor("system", "system", "system")


def as_actor(actor: Actor | str) -> Actor:
    """An :class:`Actor`, from one or from the string label services used to take."""
    return actor if isinstance(actor, Actor) else Actor.from_label(actor)


def bind_request(session: Session, *, request_id: str | None, address: str | None) -> None:
    """Note the HTTP request a session serves; its audit rows then carry its id and address."""
    session.info[_REQUEST] = ((request_id or None) and request_id[:64], address and address[:45])


def record_change(
    session: Session,
    *,
    merchant_id: str,
    actor: Actor | str,
    action: str,
    target_type: str,
    target_id: str | int,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    now: datetime,
) -> AuditEntry:
    """Add the audit row of one change to the session's transaction (and flush it).

    ``before`` and ``after`` are the changed thing's fields (``None`` when it is created or
    removed); decimals, datetimes and enums are stored as text.
    """
    actor = as_actor(actor)
    request_id, address = session.info.get(_REQUEST, (None, None))
    entry = AuditEntry(
        merchant_id=merchant_id,
        occurred_at=now,
        actor_kind=actor.kind,
        actor_id=actor.id[:128],
        actor_name=actor.name[:200],
        action=action,
        target_type=target_type,
        target_id=str(target_id)[:128],
        before=None if before is None else jsonable(dict(before)),
        after=None if after is None else jsonable(dict(after)),
        request_id=request_id,
        address=address,
    )
    session.add(entry)
    session.flush()
    return entry


def jsonable(value: Any) -> Any:
    """``value`` with decimals, datetimes, enums, sets and tuples made JSON-friendly."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(jsonable(v) for v in value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


# -- reading ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AuditQuery:
    """What to look for; every filter is optional and they combine with AND."""

    #: ``kind:id`` (``staff:12``, ``api_key:lk_ab12``) exactly, or part of the actor's name or id.
    actor: str | None = None
    #: An action (``adjustment.approved``), or a thing (``adjustment``) for all its actions.
    action: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    #: From this moment (inclusive) ...
    since: datetime | None = None
    #: ... to this one (exclusive).
    until: datetime | None = None


def query_for_days(
    session: Session,
    *,
    merchant_id: str,
    first: date | None = None,
    last: date | None = None,
    actor: str | None = None,
    action: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
) -> AuditQuery:
    """A query whose dates are days of the merchant's calendar (its time zone), both
    included: what the admin page, the API and the command take."""
    merchant = session.get(Merchant, merchant_id)
    if merchant is None:
        raise NotFound(f"merchant {merchant_id!r} does not exist", field="merchant_id")
    if first is not None and last is not None and last < first:
        raise ValidationError("the last day comes before the first", field="to")
    zone = merchant.timezone or "UTC"
    return AuditQuery(
        actor=actor or None,
        action=action or None,
        target_type=target_type or None,
        target_id=target_id or None,
        since=local_midnight(first, zone) if first else None,
        until=local_midnight(last + timedelta(days=1), zone) if last else None,
    )


@dataclass(frozen=True)
class AuditPage:
    """One page of a search, newest first."""

    entries: list[AuditEntry]
    #: Pass as ``before_id`` for the next (older) page; ``None`` on the last page.
    next_before: int | None


#: The largest page a search answers.
MAX_PAGE = 200


def search_audit(
    session: Session,
    *,
    merchant_id: str,
    query: AuditQuery,
    limit: int = 50,
    before_id: int | None = None,
) -> AuditPage:
    """The merchant's audit rows that match ``query``, newest first, one page at a time."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationError(f"limit must be 1 to {MAX_PAGE}", field="limit")
    after = None if before_id is None else _position(session, merchant_id, before_id)
    statement = _select(select(AuditEntry), merchant_id, query, after).limit(limit + 1)
    rows = list(session.scalars(statement))
    more = len(rows) > limit
    shown = rows[:limit]
    return AuditPage(shown, shown[-1].id if more else None)


#: The CSV export's columns, in order.
CSV_COLUMNS = (
    "id",
    "occurred_at",
    "actor_kind",
    "actor_id",
    "actor_name",
    "action",
    "target_type",
    "target_id",
    "before",
    "after",
    "request_id",
    "address",
)


def export_csv(
    session: Session, *, merchant_id: str, query: AuditQuery, batch: int = 1000
) -> Iterator[str]:
    """The search as CSV text, header first, one line per row, newest first.

    Rows are read ``batch`` at a time by keyset (older than the last one seen) as plain
    tuples, so the identity map never fills: a million rows never sit in memory.
    """
    columns = [getattr(AuditEntry, name) for name in CSV_COLUMNS]
    yield _csv_line(CSV_COLUMNS)
    after: tuple[datetime, int] | None = None
    while True:
        statement = _select(select(*columns), merchant_id, query, after).limit(batch)
        rows = session.execute(statement).all()
        for row in rows:
            yield _csv_line(_csv_cells(row))
        if len(rows) < batch:
            return
        after = (rows[-1].occurred_at, rows[-1].id)


def changes(entry: AuditEntry) -> list[tuple[str, Any, Any]]:
    """The fields that differ between before and after: ``(field, before, after)``, sorted."""
    before, after = entry.before or {}, entry.after or {}
    names = sorted(set(before) | set(after))
    return [(n, before.get(n), after.get(n)) for n in names if before.get(n) != after.get(n)]


def _position(session: Session, merchant_id: str, entry_id: int) -> tuple[datetime, int]:
    """Where the row a page ended on sits in the list."""
    occurred_at = session.scalar(
        select(AuditEntry.occurred_at).where(
            AuditEntry.id == entry_id, AuditEntry.merchant_id == merchant_id
        )
    )
    if occurred_at is None:
        raise ValidationError("not a page of this list", field="cursor")
    return occurred_at, entry_id


def _select(
    statement: Select[Any],
    merchant_id: str,
    query: AuditQuery,
    after: tuple[datetime, int] | None,
) -> Select[Any]:
    conditions = [AuditEntry.merchant_id == merchant_id, *_conditions(query)]
    if after is not None:
        conditions.append(tuple_(AuditEntry.occurred_at, AuditEntry.id) < tuple_(*after))
    return statement.where(*conditions).order_by(
        AuditEntry.occurred_at.desc(), AuditEntry.id.desc()
    )


def _conditions(query: AuditQuery) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if query.actor:
        found.append(_actor_condition(query.actor.strip()))
    if query.action:
        action = query.action.strip()
        found.append(
            AuditEntry.action == action
            if "." in action
            else AuditEntry.action.startswith(f"{action}.", autoescape=True)
        )
    if query.target_type:
        found.append(AuditEntry.target_type == query.target_type.strip())
    if query.target_id:
        found.append(AuditEntry.target_id == query.target_id.strip())
    if query.since is not None:
        found.append(AuditEntry.occurred_at >= query.since)
    if query.until is not None:
        found.append(AuditEntry.occurred_at < query.until)
    return found


def _actor_condition(actor: str) -> ColumnElement[bool]:
    kind, colon, actor_id = actor.partition(":")
    if colon and kind in ACTOR_KINDS and actor_id:
        return (AuditEntry.actor_kind == kind) & (AuditEntry.actor_id == actor_id)
    pattern = actor.lower()
    return or_(
        func.lower(AuditEntry.actor_name, type_=String).contains(pattern, autoescape=True),
        func.lower(AuditEntry.actor_id, type_=String).contains(pattern, autoescape=True),
    )


def _csv_cells(row: Any) -> list[str]:
    cells = []
    for name, value in zip(CSV_COLUMNS, row, strict=True):
        if name in ("before", "after"):
            value = "" if value is None else json.dumps(value, sort_keys=True)
        elif name == "occurred_at":
            value = value.isoformat()
        cells.append("" if value is None else _defused(str(value)))
    return cells


def _defused(cell: str) -> str:
    """A cell a spreadsheet will not run as a formula (names and reasons are typed by people)."""
    return f"'{cell}" if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell


def _csv_line(cells: Any) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(cells)
    return buffer.getvalue()
