"""Conditions any rule (and later a campaign) may carry: when, where, channel, who, what.

Pure: :func:`check_conditions` takes a :class:`Conditions` set and a
:class:`ConditionContext` (the moment, the store, the channel, the customer and the lines)
and says which conditions matched and which did not. It knows nothing of programs, so a
bonus campaign can carry the same conditions and call the same function.

Times are read in the merchant's time zone with :mod:`zoneinfo`, from the aware moment the
invoice was paid, so daylight-saving changes need no special case: 14:00 in Berlin is
13:00 UTC in winter and 12:00 UTC in summer. An hour range whose end is not after its
start crosses midnight (``22:00-02:00``) and belongs to the day it starts on: Friday
22:00-02:00 includes Saturday 01:30.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from loyalty_plugin.domain.errors import ValidationError
from loyalty_plugin.domain.rules.settings import CategoryTree

if TYPE_CHECKING:
    from loyalty_plugin.domain.rules.invoice import CustomerView, LineView

#: Weekday names as rules write them, Monday first (``date.weekday()`` order).
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: Sales channels hosts are encouraged to send (any other label works as well).
SUGGESTED_CHANNELS = ("online", "pos", "app", "marketplace")


@dataclass(frozen=True, slots=True)
class HourRange:
    """Local hours from ``start`` (included) to ``end`` (excluded); crosses midnight when
    ``end <= start``."""

    start: time
    end: time

    @property
    def overnight(self) -> bool:
        return self.end <= self.start

    def label(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def opening_day(self, local: datetime) -> date | None:
        """The day the range that holds ``local`` started on, or ``None`` if none does."""
        clock = local.time().replace(tzinfo=None)
        if not self.overnight:
            return local.date() if self.start <= clock < self.end else None
        if clock >= self.start:
            return local.date()
        if clock < self.end:
            return local.date() - timedelta(days=1)
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class When:
    """A date range (local dates, both included), weekdays and local hour ranges."""

    start: date | None = None
    end: date | None = None
    weekdays: frozenset[int] = frozenset()
    hours: tuple[HourRange, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.start or self.end or self.weekdays or self.hours)


@dataclass(frozen=True, slots=True, kw_only=True)
class Who:
    """Customer segments: groups, levels and tags (any of each), how new, how lapsed."""

    groups: frozenset[str] = frozenset()
    levels: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    #: Only in the first N days after the customer registered.
    registered_within_days: int | None = None
    #: Win-back: the customer bought before, but not in the last N days.
    inactive_days: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class What:
    """Lines by product (id or sku), category (children too) and line tag.

    Within one list any entry matches; lists given together must all match a line.
    """

    products: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.products or self.categories or self.tags)

    def selects(self, line: LineView, categories: CategoryTree) -> bool:
        """True when ``line`` is one of the lines these conditions are about."""
        if self.products and not (line.product_id in self.products or line.sku in self.products):
            return False
        if self.tags and self.tags.isdisjoint(line.tags):
            return False
        return not self.categories or categories.within(line.category_id, self.categories)

    @property
    def specificity(self) -> int:
        """3 for products, 2 for categories, 1 for line tags, 0 for none (conflicts)."""
        return 3 if self.products else 2 if self.categories else 1 if self.tags else 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Conditions:
    """Every condition a rule carries; all must hold for the rule to earn."""

    when: When = field(default_factory=When)
    stores: frozenset[str] = frozenset()
    store_groups: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()
    who: Who = field(default_factory=Who)
    what: What = field(default_factory=What)

    def __bool__(self) -> bool:
        return self is not _NONE and self != _NONE

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> Conditions:
        """From a rule's validated ``conditions`` object (see the program schema)."""
        if not config:
            return _NONE
        when, where = config.get("when") or {}, config.get("where") or {}
        who, what = config.get("who") or {}, config.get("what") or {}
        dates = when.get("dates") or {}
        return cls(
            when=When(
                start=_day(dates.get("from")),
                end=_day(dates.get("to")),
                weekdays=frozenset(WEEKDAYS.index(d) for d in when.get("weekdays") or ()),
                hours=tuple(
                    HourRange(_clock(h["from"]), _clock(h["to"])) for h in when.get("hours") or ()
                ),
            ),
            stores=frozenset(where.get("stores") or ()),
            store_groups=frozenset(where.get("store_groups") or ()),
            channels=frozenset(config.get("channels") or ()),
            who=Who(
                groups=frozenset(who.get("groups") or ()),
                levels=frozenset(who.get("levels") or ()),
                tags=frozenset(who.get("tags") or ()),
                registered_within_days=who.get("registered_within_days"),
                inactive_days=who.get("inactive_days"),
            ),
            what=What(
                products=frozenset(what.get("products") or ()),
                categories=frozenset(what.get("categories") or ()),
                tags=frozenset(what.get("tags") or ()),
            ),
        )


_NONE = Conditions()


@dataclass(frozen=True, slots=True, kw_only=True)
class MerchantFacts:
    """What conditions need of the merchant: the time zone and the store groups."""

    timezone: str = "UTC"
    #: Group name to the store ids in it (merchant settings ``store_groups``).
    store_groups: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True, slots=True, kw_only=True)
class ConditionContext:
    """The facts one evaluation is made on."""

    customer: CustomerView
    #: The moment the invoice was paid (aware); ``None`` when only its date is known.
    at: datetime | None = None
    #: The invoice's date, used for dates and weekdays when ``at`` is not known.
    day: date | None = None
    channel: str | None = None
    store_id: str | None = None
    merchant: MerchantFacts = field(default_factory=MerchantFacts)
    lines: tuple[LineView, ...] = ()
    categories: CategoryTree | None = None

    def local(self) -> datetime | None:
        """The moment in the merchant's time zone."""
        return None if self.at is None else self.at.astimezone(self.merchant.zone())


@dataclass(frozen=True, slots=True)
class ConditionCheck:
    """Which conditions held (``matched``) and which did not (``failed``), each a short
    ``name: detail`` text."""

    matched: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_json(self) -> dict[str, list[str]]:
        return {"matched": list(self.matched), "failed": list(self.failed)}


def check_conditions(
    conditions: Conditions, ctx: ConditionContext, *, lines: Sequence[LineView] | None = None
) -> ConditionCheck:
    """Test every condition of ``conditions`` on ``ctx``; all must hold.

    ``lines``, when given, are the lines of ``ctx`` that can meet ``what`` (in order, a
    superset of those it selects): the rule index knows them, sparing a pass over them all.
    """
    matched: list[str] = []
    failed: list[str] = []
    for name, held, detail in _checks(conditions, ctx, lines):
        (matched if held else failed).append(f"{name}: {detail}")
    return ConditionCheck(tuple(matched), tuple(failed))


def _checks(
    c: Conditions, ctx: ConditionContext, lines: Sequence[LineView] | None
) -> Iterable[tuple[str, bool, str]]:
    if c.when:
        yield from _when(c.when, ctx)
    if c.stores or c.store_groups:
        yield _where(c, ctx)
    if c.channels:
        yield "channels", ctx.channel in c.channels, f"channel {ctx.channel!r}"
    yield from _who(c.who, ctx)
    if c.what:
        yield _what(c.what, ctx, ctx.lines if lines is None else lines)


def _when(when: When, ctx: ConditionContext) -> Iterable[tuple[str, bool, str]]:
    local = ctx.local()
    day = local.date() if local is not None else ctx.day
    zone = ctx.merchant.timezone
    if when.hours:
        if local is None:
            yield "when.hours", False, "the invoice's time of day is not known"
            return
        opened = [(r, r.opening_day(local)) for r in when.hours]
        opened = [(r, d) for r, d in opened if d is not None]
        shown = f"{local:%a %H:%M} {zone}"
        if not opened:
            ranges = ", ".join(r.label() for r in when.hours)
            yield "when.hours", False, f"{shown} is outside {ranges}"
            return
        hour_range, day = opened[0]
        yield "when.hours", True, f"{shown} is within {hour_range.label()}"
    if day is None:
        yield "when", False, "the invoice's date is not known"
        return
    if when.weekdays:
        name = WEEKDAYS[day.weekday()]
        wanted = ", ".join(WEEKDAYS[d] for d in sorted(when.weekdays))
        yield "when.weekdays", day.weekday() in when.weekdays, f"{name} (rule: {wanted})"
    if when.start or when.end:
        inside = (when.start is None or when.start <= day) and (when.end is None or day <= when.end)
        span = f"{when.start or '...'} to {when.end or '...'}"
        yield "when.dates", inside, f"{day} (rule: {span})"


def _where(c: Conditions, ctx: ConditionContext) -> tuple[str, bool, str]:
    store = ctx.store_id
    if store is None:
        return "where", False, "the invoice names no store"
    if store in c.stores:
        return "where", True, f"store {store!r}"
    groups = sorted(g for g in c.store_groups if store in ctx.merchant.store_groups.get(g, ()))
    if groups:
        return "where", True, f"store {store!r} in group {groups[0]!r}"
    return "where", False, f"store {store!r} is not among the rule's stores"


def _who(who: Who, ctx: ConditionContext) -> Iterable[tuple[str, bool, str]]:
    customer = ctx.customer
    if who.groups:
        groups = customer.all_groups()
        shown = ", ".join(sorted(groups)) or "none"
        yield "who.groups", not who.groups.isdisjoint(groups), f"groups {shown}"
    if who.levels:
        yield "who.levels", customer.level in who.levels, f"level {customer.level!r}"
    if who.tags:
        shown = ", ".join(sorted(customer.tags)) or "none"
        yield "who.tags", not who.tags.isdisjoint(customer.tags), f"tags {shown}"
    if who.registered_within_days is not None:
        yield _registered(who.registered_within_days, ctx)
    if who.inactive_days is not None:
        yield _inactive(who.inactive_days, ctx)


def _registered(days: int, ctx: ConditionContext) -> tuple[str, bool, str]:
    name, since = "who.registered_within_days", ctx.customer.registered_at
    if since is None or ctx.at is None:
        return name, False, "registration date not known"
    age = ctx.at - since
    return name, age < timedelta(days=days), f"registered {age.days} day(s) before"


def _inactive(days: int, ctx: ConditionContext) -> tuple[str, bool, str]:
    name, last = "who.inactive_days", ctx.customer.last_purchase_at
    if last is None:
        return name, False, "no earlier purchase (a win-back needs one)"
    if ctx.at is None:
        return name, False, "the invoice's time is not known"
    gap = ctx.at - last
    return name, gap >= timedelta(days=days), f"last purchase {gap.days} day(s) before"


def _what(what: What, ctx: ConditionContext, lines: Sequence[LineView]) -> tuple[str, bool, str]:
    tree = ctx.categories or CategoryTree()
    chosen = [line.id for line in lines if what.selects(line, tree)]
    if not chosen:
        return "what", False, "no line matches"
    return "what", True, f"line(s) {', '.join(chosen)}"


def _day(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _clock(value: Any) -> time:
    if isinstance(value, time):
        return value
    try:
        return time.fromisoformat(str(value))
    except ValueError:
        raise ValidationError(f"{value!r} is not a time (HH:MM)", field="hours") from None
