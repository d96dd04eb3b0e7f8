"""Reminders before points and coupons expire, and birthday greetings (with the bonus).

Expiry reminders: each merchant's offsets (say 30 and 7 days) cut the time before expiry
into bands, (7, 30] and (0, 7]; a lot in a band is due the reminder of that band's
offset, unless an :class:`ExpiryReminder` row for (lot, offset) exists. That row is
written in the same transaction as the e-mail and its key is unique, so a reminder goes
once per lot and offset however often or late the job runs, and a late run sends only
the nearest offset that still makes sense (a lot 5 days from expiry gets the 7-day one,
never the 30-day one). One e-mail covers all of an account's lots due the same reminder
for the same day. Store credit lots (#19) are reminded at the same offsets, in their own
e-mail (``credit_expiring``: "€4.20 of store credit expires on …") and event
(``credit.expiring``), one per customer, currency and day.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, extract, or_, select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.coupons import CouponStatus
from loyalty_plugin.domain.events import CreditExpiring, PointsExpiring
from loyalty_plugin.domain.expiry import days_left, last_valid_day
from loyalty_plugin.domain.ledger import POINTS
from loyalty_plugin.domain.money import from_minor
from loyalty_plugin.domain.notifications import Message, NotificationPrefs
from loyalty_plugin.models import (
    Account,
    Coupon,
    Customer,
    EmailMessage,
    ExpiryReminder,
    Lot,
    Merchant,
)
from loyalty_plugin.services.earning import birthdays
from loyalty_plugin.services.earning.birthdays import JOB_ACTOR
from loyalty_plugin.services.events import publish
from loyalty_plugin.services.ledger.expiry import expiry_policy
from loyalty_plugin.services.messaging.notifications import notification_prefs, queue_message
from loyalty_plugin.services.spending.settings import merchant_settings


def expiry_reminder_batch(
    session: Session, *, now: datetime, limit: int = 500, merchant_id: str | None = None
) -> int:
    """Send the due expiry reminders of up to about ``limit`` lots; how many lots."""
    handled = 0
    for merchant in _merchants(session, merchant_id):
        offsets = sorted(expiry_policy(session, merchant.id).reminder_days)
        lower = 0
        for offset in offsets:
            if handled >= limit:
                return handled
            rows = _lots_due_reminder(session, merchant.id, offset, lower, now, limit - handled)
            handled += _remind(session, merchant, offset, rows, now)
            lower = offset
    return handled


def _lots_due_reminder(
    session: Session, merchant_id: str, offset: int, lower: int, now: datetime, limit: int
) -> list[Any]:
    """Lots expiring within (lower, offset] days with no reminder for ``offset`` yet."""
    reminded = exists().where(
        ExpiryReminder.merchant_id == merchant_id,
        ExpiryReminder.lot_id == Lot.id,
        ExpiryReminder.offset_days == offset,
    )
    return session.execute(
        select(Lot.id, Lot.unit, Lot.remaining, Lot.expires_at, Account.balance, Customer)
        .join(Account, Account.id == Lot.account_id)
        .join(Customer, Customer.id == Account.customer_id)
        .where(
            Lot.merchant_id == merchant_id,
            # Points and store credit alike; each unit gets its own e-mail (#19).
            Lot.holds_points,
            Lot.expires_at > now + timedelta(days=lower),
            Lot.expires_at <= now + timedelta(days=offset),
            ~reminded,
        )
        .order_by(Lot.account_id, Lot.expires_at, Lot.id)
        .limit(limit)
    ).all()


def _remind(
    session: Session, merchant: Merchant, offset: int, rows: list[Any], now: datetime
) -> int:
    """One reminder per account (so per unit) and last valid day, and the (lot, offset)
    rows."""
    tz = ZoneInfo(merchant.timezone)
    groups: dict[tuple[Customer, str, Any], list[Any]] = defaultdict(list)
    for row in rows:
        groups[(row.Customer, row.unit, last_valid_day(row.expires_at, tz))].append(row)
    prefs = notification_prefs(session, merchant.id)
    for (customer, unit, day), lots in groups.items():
        expires_at = min(lot.expires_at for lot in lots)
        when = {"expires_on": day, "days_left": max(0, int(days_left(expires_at, now)))}
        remind = _remind_points if unit == POINTS else _remind_credit
        email = remind(session, customer, offset, lots, when=when, now=now, prefs=prefs)
        for lot in lots:
            session.add(
                ExpiryReminder(
                    merchant_id=merchant.id,
                    lot_id=lot.id,
                    offset_days=offset,
                    points=lot.remaining,
                    email_id=email.id if email else None,
                    sent_at=now,
                )
            )
    session.flush()
    return len(rows)


def _remind_points(
    session: Session,
    customer: Customer,
    offset: int,
    lots: list[Any],
    *,
    when: dict[str, Any],
    now: datetime,
    prefs: NotificationPrefs,
) -> EmailMessage | None:
    """The ``points_expiring`` e-mail and event for these points lots."""
    points = sum(lot.remaining for lot in lots)
    email = queue_message(
        session,
        message=Message.POINTS_EXPIRING,
        customer=customer,
        dedupe_key=f"points_expiring:{offset}:lot:{min(lot.id for lot in lots)}",
        data={"points": points, **when},
        now=now,
        prefs=prefs,
    )
    publish(
        session,
        PointsExpiring(
            merchant_id=customer.merchant_id,
            occurred_at=now,
            customer_id=customer.host_customer_id,
            points=points,
            expires_at=min(lot.expires_at for lot in lots),
        ),
    )
    return email


def _remind_credit(
    session: Session,
    customer: Customer,
    offset: int,
    lots: list[Any],
    *,
    when: dict[str, Any],
    now: datetime,
    prefs: NotificationPrefs,
) -> EmailMessage | None:
    """The ``credit_expiring`` e-mail and event for these store credit lots (one currency):
    the amounts as money, never as points."""
    unit = lots[0].unit
    amount = from_minor(sum(lot.remaining for lot in lots), unit)
    email = queue_message(
        session,
        message=Message.CREDIT_EXPIRING,
        customer=customer,
        dedupe_key=f"credit_expiring:{offset}:lot:{min(lot.id for lot in lots)}",
        data={
            "credit": {
                "amount": amount,
                "currency": unit,
                "balance": from_minor(lots[0].balance, unit),
            },
            **when,
        },
        now=now,
        prefs=prefs,
    )
    publish(
        session,
        CreditExpiring(
            merchant_id=customer.merchant_id,
            occurred_at=now,
            customer_id=customer.host_customer_id,
            currency=unit,
            amount=str(amount),
            expires_at=min(lot.expires_at for lot in lots),
        ),
    )
    return email


def coupon_reminder_batch(
    session: Session, *, now: datetime, limit: int = 500, merchant_id: str | None = None
) -> int:
    """Queue reminders for customers' unused coupons about to expire; how many."""
    queued = 0
    for merchant in _merchants(session, merchant_id):
        prefs = notification_prefs(session, merchant.id)
        if not prefs.enabled(Message.COUPON_EXPIRING):
            continue
        until = now + timedelta(days=prefs.coupon_reminder_days)
        tz = ZoneInfo(merchant.timezone)
        for coupon, customer in _coupons_to_remind(session, merchant.id, now=now, until=until):
            expires_at = coupon.expires_at or now
            email = queue_message(
                session,
                message=Message.COUPON_EXPIRING,
                customer=customer,
                dedupe_key=f"coupon_expiring:{coupon.id}",
                data={
                    "coupon": {
                        "code": coupon.code,
                        "amount": coupon.amount,
                        "currency": coupon.currency,
                        "percent": coupon.percent,
                    },
                    "expires_on": last_valid_day(expires_at, tz),
                    "days_left": max(0, int(days_left(expires_at, now))),
                },
                now=now,
                prefs=prefs,
            )
            queued += email is not None
            if queued >= limit:
                return queued
    return queued


def _coupons_to_remind(
    session: Session, merchant_id: str, *, now: datetime, until: datetime
) -> list[Any]:
    """Active customer coupons expiring by ``until`` whose reminder was not queued yet."""
    rows = session.execute(
        select(Coupon, Customer)
        .join(Account, Account.id == Coupon.account_id)
        .join(Customer, Customer.id == Account.customer_id)
        .where(
            Coupon.merchant_id == merchant_id,
            Coupon.status == CouponStatus.ACTIVE,
            Coupon.expires_at > now,
            Coupon.expires_at <= until,
        )
        .order_by(Coupon.id)
    ).all()
    keys = [f"coupon_expiring:{coupon.id}" for coupon, _ in rows]
    done = set(
        session.scalars(
            select(EmailMessage.dedupe_key).where(
                EmailMessage.merchant_id == merchant_id, EmailMessage.dedupe_key.in_(keys)
            )
        )
    )
    return [row for row, key in zip(rows, keys, strict=True) if key not in done]


def birthdays_today(
    session: Session, *, now: datetime, merchant_id: str | None = None
) -> list[tuple[str, date, list[int]]]:
    """Per merchant: its date today (its time zone) and the customers born that day.

    Customers born on 29 February count on 28 February in other years.
    """
    found = []
    for merchant in _merchants(session, merchant_id):
        today = now.astimezone(ZoneInfo(merchant.timezone)).date()
        ids = session.scalars(
            select(Customer.id)
            .where(
                Customer.merchant_id == merchant.id,
                _born_on(today.month, today.day, leap_day=_is_feb_28_non_leap(today)),
            )
            .order_by(Customer.id)
        ).all()
        if ids:
            found.append((merchant.id, today, list(ids)))
    return found


def birthday_greetings(
    session: Session,
    *,
    merchant_id: str,
    today: date,
    customer_ids: Sequence[int],
    hooks: Any,
    now: datetime,
) -> dict[str, int]:
    """Give these customers' birthday bonus and queue their greeting; how many of each.

    The bonus goes unless the merchant turned ``birthday_bonus_by_job`` off, or the host's
    ``customer.birthday`` gave it this year; the greeting says the points the bonus gave.
    Both are once per customer and year, so a second run changes nothing.
    """
    by_job = merchant_settings(session, merchant_id).birthday_bonus_by_job
    prefs = notification_prefs(session, merchant_id)
    done = {"bonuses": 0, "emails": 0}
    for customer in session.scalars(select(Customer).where(Customer.id.in_(customer_ids))):
        if by_job:
            result = birthdays.award_birthday(
                session, customer=customer, day=today, hooks=hooks, now=now, actor=JOB_ACTOR
            )
            done["bonuses"] += bool(result["points_earned"])
        if prefs.enabled(Message.BIRTHDAY):
            done["emails"] += _greet(session, customer, today=today, now=now, prefs=prefs)
    return done


def _greet(
    session: Session,
    customer: Customer,
    *,
    today: date,
    now: datetime,
    prefs: NotificationPrefs,
) -> bool:
    """Queue the birthday e-mail, with the points of this year's bonus; whether queued."""
    points = birthdays.birthday_points_given(session, customer=customer, year=today.year)
    email = queue_message(
        session,
        message=Message.BIRTHDAY,
        customer=customer,
        dedupe_key=f"birthday:{customer.id}:{today.year}",
        data={"points": points},
        now=now,
        prefs=prefs,
    )
    return email is not None


def _born_on(month: int, day: int, *, leap_day: bool) -> Any:
    same_day = and_(
        extract("month", Customer.date_of_birth) == month,
        extract("day", Customer.date_of_birth) == day,
    )
    if not leap_day:
        return same_day
    # Born on 29 February: celebrated on 28 February in other years.
    return or_(
        same_day,
        and_(
            extract("month", Customer.date_of_birth) == 2,
            extract("day", Customer.date_of_birth) == 29,
        ),
    )


def _is_feb_28_non_leap(day: Any) -> bool:
    return day.month == 2 and day.day == 28 and (day + timedelta(days=1)).month == 3


def _merchants(session: Session, merchant_id: str | None) -> list[Merchant]:
    """Every merchant in id order, or the one a scoped run is for."""
    query = select(Merchant).order_by(Merchant.id)
    if merchant_id is not None:
        query = query.where(Merchant.id == merchant_id)
    return list(session.scalars(query))
