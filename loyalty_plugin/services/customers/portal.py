"""The customer portal: signed links that open it, and what a customer sees there.

A portal link carries a token (itsdangerous, signed with the app's secret under its own
salt) naming the merchant, the customer (our row id) and when the link stops working. The
token is not stored anywhere: whoever holds an unexpired link sees that customer's page,
exactly as whoever holds the e-mail it came in. Nothing here knows of Flask; the portal
blueprint and the JSON API both call these functions.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.coupons import CouponStatus, Package
from loyalty_plugin.domain.errors import LoyaltyError, NotFound
from loyalty_plugin.domain.expiry import last_valid_day
from loyalty_plugin.domain.ledger import EntryKind
from loyalty_plugin.domain.levels import Level
from loyalty_plugin.i18n import N_, language_for, language_of
from loyalty_plugin.models import (
    Account,
    Coupon,
    Customer,
    Invoice,
    LedgerEntry,
    Lot,
    Merchant,
    MerchantSettings,
)
from loyalty_plugin.models.redemption import Redemption, RedemptionStatus
from loyalty_plugin.services.customers.statements import Standing, account_of, ledger_page, standing
from loyalty_plugin.services.ledger.accounts import find_customer, get_merchant
from loyalty_plugin.services.ledger.units import credit_accounts_of
from loyalty_plugin.services.levels import memberships as levels
from loyalty_plugin.services.messaging.notifications import notification_prefs
from loyalty_plugin.services.spending.coupons import convert_points_to_coupon
from loyalty_plugin.services.spending.settings import coupon_rules, merchant_settings

_SALT = "loyalty-portal"
#: Ledger entries on one page of the points log.
PER_PAGE = 20
#: Points expiring within this long are shown as "expiring soon".
EXPIRING_WITHIN = timedelta(days=90)
#: Coupons shown per group (active, used, expired), newest first.
COUPONS_SHOWN = 50
#: Reference types a customer recognises (the rest, such as adjustment keys, other
#: customers' ids or event ids, are bookkeeping and never shown).
SHOWN_REFS = frozenset({"invoice", "coupon"})
#: What points earned on an event (not an invoice) are called, by the event's trigger.
BONUSES = {"registration": N_("Welcome bonus"), "birthday": N_("Birthday bonus")}
#: Kinds whose reason was typed by a person for the customer (others are bookkeeping).
_REASONED = frozenset({EntryKind.ADJUST, EntryKind.TRANSFER, EntryKind.TRANSFER_IN})
#: What each kind of ledger entry is called on the customer's points log.
LABELS = {
    EntryKind.EARN: N_("Points earned"),
    EntryKind.REDEEM: N_("Points spent"),
    EntryKind.HOLD: N_("Points reserved for an order"),
    EntryKind.RELEASE: N_("Reserved points returned"),
    EntryKind.EXPIRE: N_("Points expired"),
    EntryKind.REVERSE: N_("Correction"),
    EntryKind.ADJUST: N_("Adjustment by our team"),
    EntryKind.TRANSFER: N_("Points given to another member"),
    EntryKind.TRANSFER_IN: N_("Points received from another member"),
    EntryKind.MERGE_OUT: N_("Points moved to your other membership"),
    EntryKind.MERGE_IN: N_("Points from a membership merged into yours"),
    EntryKind.MIGRATION: N_("Points brought from our previous programme"),
}

#: Kinds whose lot's expiry date the points log shows.
_CREDITS = frozenset({EntryKind.EARN, EntryKind.MIGRATION, EntryKind.TRANSFER_IN})


class PortalLinkInvalid(LoyaltyError):
    """The link was not made by us, is damaged, or names no customer we know."""

    code = "portal_link_invalid"


class PortalLinkExpired(PortalLinkInvalid):
    """The link was ours but is past its expiry."""

    code = "portal_link_expired"


@dataclass(frozen=True, kw_only=True)
class PortalAccess:
    """Who a valid token lets in, and until when."""

    merchant_id: str
    customer_id: int
    expires_at: datetime


@dataclass(frozen=True, kw_only=True)
class PortalLink:
    """A link to a customer's portal and when it stops working."""

    url: str
    expires_at: datetime
    merchant_id: str
    customer_id: str


# -- links ---------------------------------------------------------------------------------


def make_token(secret: str, *, merchant_id: str, customer_id: int, expires_at: datetime) -> str:
    """A signed token letting its holder see the customer's portal until ``expires_at``."""
    expiry = math.ceil(expires_at.timestamp())
    return URLSafeSerializer(secret, salt=_SALT).dumps([merchant_id, customer_id, expiry])


def read_token(secret: str, token: str, *, now: datetime) -> PortalAccess:
    """What a token grants; :class:`PortalLinkInvalid` or :class:`PortalLinkExpired` if none."""
    try:
        merchant_id, customer_id, expiry = URLSafeSerializer(secret, salt=_SALT).loads(token)
    except (BadSignature, ValueError, TypeError):
        raise PortalLinkInvalid("this link is not valid") from None
    if not (isinstance(merchant_id, str) and _is_int(customer_id) and _is_int(expiry)):
        raise PortalLinkInvalid("this link is not valid")
    expires_at = datetime.fromtimestamp(expiry, UTC)
    if expires_at <= now:
        raise PortalLinkExpired("this link has expired")
    return PortalAccess(merchant_id=merchant_id, customer_id=customer_id, expires_at=expires_at)


def shop_of_token(session: Session, secret: str, token: str) -> Merchant | None:
    """The merchant a token of ours names, expired or not (``None`` for anything else).

    Only to name the shop on the portal's error pages: it grants nothing.
    """
    try:
        merchant_id = URLSafeSerializer(secret, salt=_SALT).loads(token)[0]
    except (BadSignature, ValueError, TypeError, IndexError, KeyError):
        return None
    return session.get(Merchant, merchant_id) if isinstance(merchant_id, str) else None


def link_url(base_url: str, token: str) -> str:
    """The portal address that opens with ``token`` (``base_url`` includes the prefix)."""
    return f"{base_url.rstrip('/')}/portal/link/{token}"


def portal_link(
    session: Session,
    *,
    secret: str,
    base_url: str,
    merchant_id: str,
    host_customer_id: str,
    now: datetime,
    valid_for: timedelta,
) -> PortalLink:
    """A fresh link for the customer named by the host's id (:class:`NotFound` if unknown)."""
    get_merchant(session, merchant_id)
    customer = find_customer(session, merchant_id, host_customer_id)
    if customer is None:
        raise NotFound(f"customer {host_customer_id!r} does not exist", field="customer_id")
    expires_at = (now + valid_for).replace(microsecond=0)
    token = make_token(
        secret, merchant_id=merchant_id, customer_id=customer.id, expires_at=expires_at
    )
    return PortalLink(
        url=link_url(base_url, token),
        expires_at=expires_at,
        merchant_id=merchant_id,
        customer_id=customer.host_customer_id,
    )


def open_portal(session: Session, access: PortalAccess) -> Customer:
    """The customer a valid token names; :class:`PortalLinkInvalid` if they are gone.

    A link (or a signed-in portal) of a customer merged since shows the survivor: the
    points are there now.
    """
    customer = session.get(Customer, access.customer_id)
    if customer is None or customer.merchant_id != access.merchant_id:
        raise PortalLinkInvalid("this link is not valid")
    if customer.merged_into_id is not None:
        return session.get_one(Customer, customer.merged_into_id)
    return customer


def language(session: Session, customer: Customer) -> tuple[str, str]:
    """The customer's portal language and the locale of its numbers and dates.

    Their own locale when the host sent one we ship, else the merchant's (the e-mails'
    locale, ``loyalty emails settings --locale``), else English.
    """
    merchant_locale = notification_prefs(session, customer.merchant_id).locale
    shown = customer.locale if language_of(customer.locale) else merchant_locale
    return language_for(customer.locale, merchant_locale), shown


def customer_of_token(session: Session, secret: str, token: str) -> Customer | None:
    """The customer a token of ours names, expired or not (``None`` for anything else).

    Only to write an error page in their language: it grants nothing.
    """
    try:
        merchant_id, customer_id = URLSafeSerializer(secret, salt=_SALT).loads(token)[:2]
    except (BadSignature, ValueError, TypeError, IndexError, KeyError):
        return None
    if not isinstance(merchant_id, str) or not isinstance(customer_id, int):
        return None
    customer = session.get(Customer, customer_id)
    return customer if customer is not None and customer.merchant_id == merchant_id else None


def frame_ancestors(session: Session, merchant_id: str) -> list[str]:
    """The host origins the merchant lets frame its portal (empty: none may)."""
    row = session.get(MerchantSettings, merchant_id)
    return list(row.portal_frame_ancestors or ()) if row is not None else []


# -- what the customer sees ----------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Expiring:
    """Points that expire at the end of one day (the merchant's time zone)."""

    day: date
    points: int


@dataclass(frozen=True, kw_only=True)
class LevelView:
    """The customer's level, the next one, and how far along the way they are."""

    current: Level
    next: Level | None
    #: ``money`` or ``points``: what ``amount`` and ``needed`` count.
    measure: str
    amount: Decimal
    needed: Decimal | None
    #: 0 to 100.
    progress: int
    #: ``earned``, ``bought`` or ``given``; bought and given levels end at ``expires_at``.
    source: str
    expires_at: datetime | None
    review_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class Counted:
    """One part of an earning as stored on its entry: "Shoes x2: 40 points".

    ``label`` is the host's line name, or (``ours``) a message of ours to translate; a part
    with ``times`` is the level bonus, ``label`` then naming the level (empty: unnamed).
    """

    label: str
    points: int
    #: How many of the line were bought (``None``: one, or not a line).
    qty: Decimal | None = None
    ours: bool = False
    times: Decimal | None = None


@dataclass(frozen=True, kw_only=True)
class LogLine:
    """One ledger entry as the customer reads it."""

    id: int
    at: datetime
    kind: EntryKind
    label: str
    points: int
    balance_after: int
    reason: str | None
    #: What the entry concerns, in words ("Invoice", "Coupon"), and its number.
    reference: str | None
    number: str | None
    #: For points earned: when they expire.
    expires_at: datetime | None
    #: For an earning: how it was counted, by rule and line, in the customer's words.
    breakdown: tuple[Counted, ...] = ()
    #: The level bonus included in an earning's points, where the entry does not say how
    #: many points it gave (entries written before it did; ``None``: none).
    bonus: Decimal | None = None


@dataclass(frozen=True, kw_only=True)
class LogPage:
    """One page of the points log, newest first."""

    lines: list[LogLine]
    page: int
    pages: int
    total: int


@dataclass(frozen=True, kw_only=True)
class CouponOffer:
    """How the customer may turn points into a coupon (``None`` where not allowed)."""

    currency: str
    rate_points: int
    rate_amount: Decimal
    min_points: int
    packages: tuple[Package, ...]
    available: int
    valid_days: int | None
    valid_until: date | None


@dataclass(frozen=True, kw_only=True)
class Overview:
    """The portal's first page."""

    merchant: Merchant
    customer: Customer
    standing: Standing
    expiring: list[Expiring]
    level: LevelView | None
    recent: list[LogLine]
    offer: CouponOffer | None


@dataclass(frozen=True, kw_only=True)
class CouponGroups:
    """The customer's coupons: usable now, used, and expired or cancelled."""

    active: list[Coupon]
    used: list[Coupon]
    expired: list[Coupon]


def overview(session: Session, customer: Customer, *, now: datetime) -> Overview:
    """Balance, pending and expiring points, level, latest entries and the coupon offer."""
    account = account_of(session, customer)
    position = standing(session, customer, now=now)
    return Overview(
        merchant=get_merchant(session, customer.merchant_id),
        customer=customer,
        standing=position,
        expiring=[] if account is None else expiring_soon(session, account, now=now),
        level=level_view(session, customer.merchant_id, position.level, now=now),
        recent=[] if account is None else points_log(session, account, page=1, per_page=5).lines,
        offer=coupon_offer(session, customer, available=position.available),
    )


def expiring_soon(
    session: Session, account: Account, *, now: datetime, within: timedelta = EXPIRING_WITHIN
) -> list[Expiring]:
    """Points expiring within ``within``, summed per last valid day."""
    days = expiring_by_day(session, account, now=now, within=within)
    return [Expiring(day=day, points=points) for day, points in days.items()]


def expiring_by_day(
    session: Session, account: Account, *, now: datetime, within: timedelta = EXPIRING_WITHIN
) -> dict[date, int]:
    """What the account's lots expiring within ``within`` hold (points, or a currency's
    minor units), per last day they can be used in the merchant's time zone: the day the
    reminder e-mails name (``last_valid_day``), in expiry order."""
    zone = ZoneInfo(get_merchant(session, account.merchant_id).timezone)
    rows = session.execute(
        select(Lot.expires_at, Lot.remaining)
        .where(Lot.account_id == account.id, Lot.holds_points)
        .where(Lot.expires_at > now, Lot.expires_at <= now + within)
        .order_by(Lot.expires_at)
    )
    days: dict[date, int] = {}
    for expires_at, remaining in rows:
        day = last_valid_day(expires_at, zone)
        days[day] = days.get(day, 0) + remaining
    return {day: held for day, held in days.items() if held > 0}


def level_view(
    session: Session, merchant_id: str, summary: dict[str, Any] | None, *, now: datetime
) -> LevelView | None:
    """The level part of a customer's standing (:mod:`.statements`), made readable."""
    if summary is None:
        return None
    programs = levels.level_programs(session, at=now, merchant_id=merchant_id)
    scheme = next((p.scheme for p in programs if p.key == summary["program"]), None)
    if scheme is None:
        return None
    current = scheme.level(summary["level"]) or scheme.levels[0]
    upcoming = scheme.level(summary["next_level"]) if summary["next_level"] else None
    amount = Decimal(summary["qualifying_amount"])
    return LevelView(
        current=current,
        next=upcoming,
        measure=summary["measure"],
        amount=amount,
        needed=summary["needed"],
        progress=_progress(current, upcoming, amount),
        source=summary["source"],
        expires_at=summary["expires_at"],
        review_at=summary["review_at"],
    )


def points_log(
    session: Session,
    account: Account,
    *,
    page: int,
    per_page: int = PER_PAGE,
    kinds: Collection[EntryKind] | None = None,
    since: datetime | None = None,
    before: datetime | None = None,
) -> LogPage:
    """Page ``page`` (from 1; clamped to the last) of the account's entries, newest first.

    ``kinds``, ``since`` and ``before`` (exclusive) keep only those entries.
    """
    where = [LedgerEntry.account_id == account.id]
    if kinds is not None:
        where.append(LedgerEntry.kind.in_(list(kinds)))
    if since is not None:
        where.append(LedgerEntry.created_at >= since)
    if before is not None:
        where.append(LedgerEntry.created_at < before)
    total = session.scalar(select(func.count()).select_from(LedgerEntry).where(*where))
    pages = max(1, math.ceil((total or 0) / per_page))
    page = min(max(1, page), pages)
    first = session.scalar(
        select(LedgerEntry.id)
        .where(*where)
        .order_by(LedgerEntry.id.desc())
        .offset((page - 1) * per_page)
        .limit(1)
    )
    rows = (
        []
        if first is None
        else ledger_page(
            session, account_id=account.id, limit=per_page, before_id=first + 1, where=where[1:]
        )
    )
    names = _names(session, account.merchant_id, [row.entry for row in rows])
    return LogPage(
        lines=[_line(row, names) for row in rows], page=page, pages=pages, total=total or 0
    )


def customer_coupons(session: Session, customer: Customer, *, now: datetime) -> CouponGroups:
    """The customer's coupons, newest first, in three groups: bought with points or with
    store credit (a credit coupon sits on the credit account, #19)."""
    account = account_of(session, customer)
    if account is None:
        return CouponGroups(active=[], used=[], expired=[])
    credit = credit_accounts_of(customer.merchant_id, customer.id).with_only_columns(Account.id)
    mine = or_(Coupon.account_id == account.id, Coupon.account_id.in_(credit.order_by(None)))
    rows = session.scalars(select(Coupon).where(mine).order_by(Coupon.id.desc())).all()
    groups = CouponGroups(active=[], used=[], expired=[])
    for coupon in rows:
        group = _group_of(groups, coupon, now)
        if len(group) < COUPONS_SHOWN:
            group.append(coupon)
    return groups


def coupon_offer(session: Session, customer: Customer, *, available: int) -> CouponOffer | None:
    """The merchant's points-to-coupon terms, or ``None`` if the merchant does not allow it."""
    settings = merchant_settings(session, customer.merchant_id)
    if not settings.coupon_conversion:
        return None
    rules = coupon_rules(settings)
    return CouponOffer(
        currency=get_merchant(session, customer.merchant_id).currency,
        rate_points=rules.rate_points,
        rate_amount=rules.rate_amount,
        min_points=rules.min_points,
        packages=tuple(sorted(rules.packages, key=lambda p: p.points)),
        available=available,
        valid_days=rules.valid_days,
        valid_until=rules.valid_until,
    )


def convert(
    session: Session, customer: Customer, *, points: int, form_key: str, now: datetime
) -> Coupon:
    """Turn points into a coupon from the portal; the same ``form_key`` never spends twice."""
    return convert_points_to_coupon(
        session,
        merchant_id=customer.merchant_id,
        customer_id=customer.host_customer_id,
        points=points,
        now=now,
        actor=f"portal:{customer.host_customer_id}"[:128],
        idempotency_key=f"portal:{customer.id}:{form_key}"[:255],
    )


# -- internals -----------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _progress(current: Level, upcoming: Level | None, amount: Decimal) -> int:
    """Percent of the way from the current level's threshold to the next one's."""
    if upcoming is None:
        return 100
    span = upcoming.threshold - current.threshold
    if span <= 0:
        return 0
    done = (amount - current.threshold) / span * 100
    return int(min(Decimal(100), max(Decimal(0), done)))


@dataclass(frozen=True, kw_only=True)
class _Names:
    """What a page of entries refers to, read once for the page."""

    #: The host's invoice id -> the number the customer was sent.
    invoices: dict[str, str]
    #: The host's invoice id -> its lines by their id (name, qty), for breakdowns.
    lines: dict[str, dict[str, dict[str, Any]]]
    #: A hold entry's id -> what became of it.
    holds: dict[int, RedemptionStatus]
    #: An entry's id -> the kind of the entry it reverses.
    reversed: dict[int, EntryKind]


def _names(session: Session, merchant_id: str, entries: list[LedgerEntry]) -> _Names:
    """Invoice numbers, hold outcomes and reversed kinds for ``entries`` (three queries)."""
    invoice_ids = {e.reference_id for e in entries if e.reference_type == "invoice"}
    holds = [e.id for e in entries if e.kind == EntryKind.HOLD]
    undone = {e.reverses_entry_id for e in entries if e.reverses_entry_id is not None}
    numbers = session.execute(
        select(Invoice.host_invoice_id, Invoice.number, Invoice.items).where(
            Invoice.merchant_id == merchant_id, Invoice.host_invoice_id.in_(invoice_ids)
        )
    ).all()
    statuses = session.execute(
        select(Redemption.hold_entry_id, Redemption.status).where(
            Redemption.merchant_id == merchant_id, Redemption.hold_entry_id.in_(holds)
        )
    )
    kinds = session.execute(
        select(LedgerEntry.id, LedgerEntry.kind).where(LedgerEntry.id.in_(undone))
    )
    return _Names(
        invoices={host: number for host, number, _items in numbers if number},
        lines={host: _lines_by_id(items) for host, _number, items in numbers},
        holds={entry_id: status for entry_id, status in statuses},
        reversed={entry_id: kind for entry_id, kind in kinds},
    )


def _line(row: Any, names: _Names) -> LogLine:
    entry = row.entry
    created = [lot for lot in row.lots if lot.points > 0 and entry.points > 0]
    reference, number = _reference(entry, names)
    return LogLine(
        id=entry.id,
        at=entry.created_at,
        kind=entry.kind,
        label=label_of(entry, names),
        points=entry.points,
        balance_after=entry.balance_after,
        reason=entry.reason if entry.kind in _REASONED else None,
        reference=reference,
        number=number,
        expires_at=created[0].expires_at if entry.kind in _CREDITS and created else None,
        breakdown=_counted(entry, names) if entry.kind == EntryKind.EARN else (),
        bonus=_bonus(entry) if entry.kind == EntryKind.EARN else None,
    )


#: What a rule that counts the whole invoice gave, by its kind.
WHOLE_INVOICE = {
    "per_order": N_("Points for your order"),
    "first_purchase": N_("First purchase bonus"),
    "registration": N_("Welcome bonus"),
    "birthday": N_("Birthday bonus"),
}


def _counted(entry: LedgerEntry, names: _Names) -> tuple[Counted, ...]:
    """The entry's stored breakdown, each part named by its invoice line or rule kind.

    Rule ids and line ids are bookkeeping: a line is named as the invoice named it
    ("Shoes x2" with a multiplication sign); a rule on the whole invoice by what it does.
    Where the entry kept its level bonus apart, the lines show their points before it and
    the bonus is a part of its own ("Gold bonus x1.5: 20 points").
    """
    details = entry.details or {}
    stored = details.get("breakdown") or []
    bonus = details.get("level_bonus") if isinstance(details.get("level_bonus"), dict) else None
    invoice = entry.reference_id if entry.reference_type == "invoice" else None
    lines = names.lines.get(invoice or "", {})
    parts = []
    for item in stored if isinstance(stored, list) else []:
        points = int((item.get("base_points") if bonus else item.get("points")) or 0)
        if points:
            parts.append(_part(item, lines, points))
    if bonus and int(bonus.get("points") or 0):
        times = _decimal(bonus.get("multiplier"))
        parts.append(Counted(label=str(bonus.get("name") or ""), points=int(bonus["points"]),
                             times=times.normalize() if times else None))  # fmt: skip
    return tuple(parts)


def _part(item: dict[str, Any], lines: dict[str, dict[str, Any]], points: int) -> Counted:
    line_id = item.get("line")
    if line_id is None:
        kind = WHOLE_INVOICE.get(str(item.get("kind")), N_("Points on your purchase"))
        return Counted(label=kind, points=points, ours=True)
    line = lines.get(str(line_id)) or {}
    qty = _decimal(line.get("qty"))
    shown = None if qty is None or qty == 1 else qty.normalize()
    if line.get("name"):
        return Counted(label=str(line["name"]), points=points, qty=shown)
    return Counted(label=N_("An item"), points=points, qty=shown, ours=True)


def _decimal(value: Any) -> Decimal | None:
    try:
        return None if value is None else Decimal(str(value))
    except ArithmeticError:
        return None


def _bonus(entry: LedgerEntry) -> Decimal | None:
    """The level multiplier an older earning's points include (``None`` for none, or when
    the entry keeps the bonus's points apart: :func:`_counted` shows them)."""
    details = entry.details or {}
    multiplier = _decimal(details.get("multiplier") or "1")
    if multiplier is None or multiplier == 1 or details.get("level_bonus"):
        return None
    return multiplier.normalize()


def _lines_by_id(items: Any) -> dict[str, dict[str, Any]]:
    """An invoice's stored lines by their host id."""
    if not isinstance(items, list):
        return {}
    return {str(i["id"]): i for i in items if isinstance(i, dict) and "id" in i}


def label_of(entry: LedgerEntry, names: _Names) -> str:
    """What an entry did, in a customer's words: never a rule key, trigger or internal id."""
    kind, ref = entry.kind, entry.reference_type
    if ref == "credit_conversion":
        # Points turned into store credit: a redeem of points, an earn of credit (#19).
        if kind == EntryKind.REDEEM:
            return N_("Points turned into store credit")
        return N_("Store credit from your points")
    if kind == EntryKind.EARN and ref not in (None, "invoice"):
        trigger = (entry.details or {}).get("trigger") or {}
        name = trigger.get("name") if isinstance(trigger, dict) else None
        if ref in BONUSES or not name:
            return BONUSES.get(ref or "", N_("Bonus points"))
        return str(name)[:1].upper() + str(name)[1:]
    if kind == EntryKind.HOLD:
        status = names.holds.get(entry.id)
        if status == RedemptionStatus.CAPTURED:
            return N_("Points spent")
        if status in (RedemptionStatus.RELEASED, RedemptionStatus.EXPIRED):
            return N_("Points reserved, then returned")
        return N_("Points reserved for an order")
    if kind == EntryKind.REDEEM and ref == "membership":
        return N_("Membership bought with points")
    if kind == EntryKind.REDEEM and ref == "invoice" and "taken back" in (entry.reason or ""):
        if "reinstated" in (entry.reason or ""):
            return N_("Points taken back (order reinstated)")
        return N_("Points taken back (refund undone)")
    if kind == EntryKind.REVERSE and ref == "coupon":
        if "expired unused" in (entry.reason or ""):
            return N_("Points returned (coupon expired unused)")
        return N_("Points returned (coupon cancelled)")
    if kind == EntryKind.REVERSE and ref == "invoice":
        cancelled = "cancel" in (entry.reason or "")
        # A hold's points, or points a take-back took again, come back to the customer.
        if names.reversed.get(entry.reverses_entry_id or 0) in (EntryKind.HOLD, EntryKind.REDEEM):
            return (
                N_("Points returned (order cancelled)")
                if cancelled
                else N_("Points returned (refund)")
            )
        return (
            N_("Points taken back (order cancelled)")
            if cancelled
            else N_("Points taken back (refund)")
        )
    return LABELS.get(kind, str(kind).replace("_", " ").capitalize())


def _reference(entry: LedgerEntry, names: _Names) -> tuple[str | None, str | None]:
    """``invoice:9001`` as ``("Invoice", "INV-2026-9001")``: the number the customer knows."""
    if entry.reference_type not in SHOWN_REFS or not entry.reference_id:
        return None, None
    if entry.reference_type == "invoice":
        return N_("Invoice"), names.invoices.get(entry.reference_id, entry.reference_id)
    return N_("Coupon"), entry.reference_id


def _group_of(groups: CouponGroups, coupon: Coupon, now: datetime) -> list[Coupon]:
    if coupon.status == CouponStatus.REDEEMED:
        return groups.used
    if coupon.status == CouponStatus.ACTIVE and (
        coupon.expires_at is None or coupon.expires_at > now
    ):
        return groups.active
    return groups.expired
