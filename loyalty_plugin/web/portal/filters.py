"""The points history's filters: read from the address, so a filtered page can be bookmarked.

``?kind=earned&from=2026-05-01&to=2026-05-31``: the kind is one of :data:`KINDS`, the dates
are days in the merchant's time zone (``to`` included). A value that is none of these is
named back to the customer with a ``400``; nothing is guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from loyalty_plugin.domain.ledger import EntryKind
from loyalty_plugin.i18n import N_

#: The kinds a customer filters by, in their words, and the entries each covers.
KINDS: dict[str, tuple[str, frozenset[EntryKind]]] = {
    "earned": (
        N_("Earned"),
        frozenset({EntryKind.EARN, EntryKind.MIGRATION, EntryKind.TRANSFER_IN, EntryKind.MERGE_IN}),
    ),
    "spent": (
        N_("Spent"),
        frozenset({EntryKind.REDEEM, EntryKind.HOLD, EntryKind.TRANSFER, EntryKind.MERGE_OUT}),
    ),
    "expired": (N_("Expired"), frozenset({EntryKind.EXPIRE})),
    "adjusted": (N_("Adjusted by our team"), frozenset({EntryKind.ADJUST})),
    "refunded": (N_("Refunds and returns"), frozenset({EntryKind.REVERSE, EntryKind.RELEASE})),
}


@dataclass(frozen=True, kw_only=True)
class LogFilters:
    """What the customer asked for, as typed, and what it means."""

    kind: str = ""
    start: str = ""
    end: str = ""
    #: Field name -> what is wrong with it.
    errors: dict[str, str] = field(default_factory=dict)
    kinds: frozenset[EntryKind] | None = None
    since: datetime | None = None
    before: datetime | None = None

    @property
    def active(self) -> bool:
        return bool(self.kind or self.start or self.end)

    def args(self) -> dict[str, str]:
        """The filters for a link to another page of the same list."""
        given = {"kind": self.kind, "from": self.start, "to": self.end}
        return {name: value for name, value in given.items() if value}


def read_filters(query: Mapping[str, str], *, timezone: str) -> LogFilters:
    """The filters of the address, checked; errors name the field they concern."""
    kind = query.get("kind", "").strip()
    start, end = query.get("from", "").strip(), query.get("to", "").strip()
    errors: dict[str, str] = {}
    if kind and kind not in KINDS:
        errors["kind"] = N_("Choose one of the kinds in the list.")
    zone = ZoneInfo(timezone)
    first, last = _day(start, "from", errors), _day(end, "to", errors)
    if first and last and last < first:
        errors["to"] = N_("The end date is before the start date.")
    return LogFilters(
        kind=kind,
        start=start,
        end=end,
        errors=errors,
        kinds=KINDS[kind][1] if kind in KINDS else None,
        since=None if first is None else datetime.combine(first, time(), zone),
        before=None if last is None else datetime.combine(last + timedelta(days=1), time(), zone),
    )


def _day(text: str, name: str, errors: dict[str, str]) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors[name] = N_("Enter a date such as 2026-05-31.")
        return None
