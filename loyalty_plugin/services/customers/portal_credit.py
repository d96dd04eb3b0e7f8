"""Store credit on the customer portal (issue #19): balances per currency and the history.

Credit is money, kept apart from points: the overview shows each currency's balance and
what expires soon, and the credit page each currency's latest entries, worded for the
customer ("Store credit earned", "Store credit expired"), amounts as :class:`Decimal` in
the currency. A points-only customer has no credit account, so nothing here shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from loyalty_plugin.domain.expiry import last_valid_day
from loyalty_plugin.domain.ledger import EntryKind
from loyalty_plugin.domain.money import from_minor
from loyalty_plugin.i18n import N_
from loyalty_plugin.models import Account, Customer
from loyalty_plugin.services.customers.portal import (
    EXPIRING_WITHIN,
    LogLine,
    expiring_by_day,
    points_log,
)
from loyalty_plugin.services.ledger.accounts import get_merchant
from loyalty_plugin.services.ledger.units import credit_accounts_of

#: Credit entries shown per currency on the credit page, newest first.
CREDIT_SHOWN = 50
#: The points log's words for an entry, as the same entry reads on a credit account.
CREDIT_LABELS = {
    N_("Points earned"): N_("Store credit earned"),
    N_("Points spent"): N_("Store credit spent"),
    N_("Points expired"): N_("Store credit expired"),
    N_("Points taken back (refund)"): N_("Store credit taken back (refund)"),
    N_("Points taken back (order cancelled)"): N_("Store credit taken back (order cancelled)"),
    N_("Points returned (refund)"): N_("Store credit returned (refund)"),
    N_("Points returned (order cancelled)"): N_("Store credit returned (order cancelled)"),
    N_("Points reserved for an order"): N_("Store credit reserved for an order"),
    N_("Points reserved, then returned"): N_("Store credit reserved, then returned"),
    N_("Reserved points returned"): N_("Reserved store credit returned"),
    N_("Points taken back (order reinstated)"): N_("Store credit taken back (order reinstated)"),
    N_("Points taken back (refund undone)"): N_("Store credit taken back (refund undone)"),
    N_("Points returned (coupon cancelled)"): N_("Store credit returned (coupon cancelled)"),
    N_("Points returned (coupon expired unused)"): N_(
        "Store credit returned (coupon expired unused)"
    ),
    N_("Points moved to your other membership"): N_("Store credit moved to your other membership"),
    N_("Points from a membership merged into yours"): N_(
        "Store credit from a membership merged into yours"
    ),
}
#: Kinds whose lot's expiry date the credit history shows.
_DATED = frozenset({EntryKind.EARN, EntryKind.MERGE_IN})


@dataclass(frozen=True, kw_only=True)
class CreditExpiring:
    """Store credit that expires at the end of one day (the merchant's time zone)."""

    day: date
    amount: Decimal


@dataclass(frozen=True, kw_only=True)
class CreditLine:
    """One credit entry as the customer reads it: money, signed, and the balance after."""

    id: int
    at: datetime
    kind: EntryKind
    label: str
    amount: Decimal
    balance_after: Decimal
    reference: str | None
    number: str | None
    #: For credit earned: the last day it can be spent (the merchant's time zone).
    valid_until: date | None


@dataclass(frozen=True, kw_only=True)
class CreditWallet:
    """One currency of the customer's store credit."""

    currency: str
    balance: Decimal
    earned: Decimal
    spent: Decimal
    expired: Decimal
    expiring: list[CreditExpiring]
    #: The latest entries, newest first (only on the credit page), and how many there are.
    lines: list[CreditLine]
    total: int


def has_credit(session: Session, customer: Customer) -> bool:
    """Whether the customer has a store credit account (the portal then shows its tab)."""
    first = credit_accounts_of(customer.merchant_id, customer.id).limit(1)
    return session.scalar(first.with_only_columns(Account.id)) is not None


def credit_wallets(
    session: Session, customer: Customer, *, now: datetime, lines: int = 0
) -> list[CreditWallet]:
    """The customer's store credit per currency (currency order), each with its latest
    ``lines`` entries; empty for points only."""
    accounts = session.scalars(credit_accounts_of(customer.merchant_id, customer.id)).all()
    return [_wallet(session, account, now=now, lines=lines) for account in accounts]


def _wallet(session: Session, account: Account, *, now: datetime, lines: int) -> CreditWallet:
    unit = account.unit
    page = points_log(session, account, page=1, per_page=lines) if lines else None
    zone = ZoneInfo(get_merchant(session, account.merchant_id).timezone)
    return CreditWallet(
        currency=unit,
        balance=from_minor(account.balance, unit),
        earned=from_minor(account.lifetime_earned, unit),
        spent=from_minor(account.lifetime_redeemed, unit),
        expired=from_minor(account.lifetime_expired, unit),
        expiring=credit_expiring(session, account, now=now),
        lines=[] if page is None else [_credit_line(line, unit, zone) for line in page.lines],
        total=0 if page is None else page.total,
    )


def credit_expiring(
    session: Session, account: Account, *, now: datetime, within: timedelta = EXPIRING_WITHIN
) -> list[CreditExpiring]:
    """Credit expiring within ``within``, summed per last valid day, as money."""
    days = expiring_by_day(session, account, now=now, within=within)
    return [
        CreditExpiring(day=day, amount=from_minor(minor, account.unit))
        for day, minor in days.items()
    ]


def _credit_line(line: LogLine, unit: str, zone: ZoneInfo) -> CreditLine:
    """A points-log line of a credit account, in money and in credit's words."""
    return CreditLine(
        id=line.id,
        at=line.at,
        kind=line.kind,
        label=CREDIT_LABELS.get(line.label, line.label),
        amount=from_minor(line.points, unit),
        balance_after=from_minor(line.balance_after, unit),
        reference=line.reference,
        number=line.number,
        valid_until=(
            last_valid_day(line.expires_at, zone)
            if line.expires_at is not None and line.kind in _DATED
            else None
        ),
    )
