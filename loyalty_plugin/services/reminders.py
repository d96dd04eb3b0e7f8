"""Reminders before points and coupons expire, and birthday greetings.

Expiry reminders: each merchant's offsets (say 30 and 7 days) cut the time before expiry
into bands, (7, 30] and (0, 7]; a lot in a band is due the reminder of that band's
offset, unless an :class:`ExpiryReminder` row for (lot, offset) exists. That row is
written in the same transaction as the e-mail and its key is unique, so a reminder goes
once per lot and offset however often or late the job runs, and a late run sends only
the nearest offset that still makes sense (a lot 5 days from expiry gets the 7-day one,
never the 30-day one). One e-mail covers all of an account's lots due the same reminder
for the same day.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, extract, or_, select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.coupons import CouponStatus
from loyalty_plugin.domain.events import PointsExpiring
from loyalty_plugin.domain.expiry import days_left, last_valid_day
from loyalty_plugin.domain.notifications import Message
from loyalty_plugin.models import (
    Account,
    Coupon,
    Customer,
    EmailMessage,
    ExpiryReminder,
    Lot,
    Merchant,
)
from loyalty_plugin.services.events import publish
from loyalty_plugin.services.expiry import expiry_policy
from loyalty_plugin.services.notifications import notification_prefs, queue_message


def expiry_reminder_batch(session: Session, *, now: datetime, limit: int = 500) -> int:
    """Send the due expiry reminders of up to about ``limit`` lots; how many lots."""
    handled = 0
    for merchant in session.scalars(select(Merchant).order_by(Merchant.id)).all():
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
        select(Lot.id, Lot.remaining, Lot.expires_at, Customer)
        .join(Account, Account.id == Lot.account_id)
        .join(Customer, Customer.id == Account.customer_id)
        .where(
            Lot.merchant_id == merchant_id,
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
    """One reminder per account and last valid day, and the (lot, offset) rows."""
    tz = ZoneInfo(merchant.timezone)
    groups: dict[tuple[Customer, Any], list[Any]] = defaultdict(list)
    for row in rows:
        groups[(row.Customer, last_valid_day(row.expires_at, tz))].append(row)
    prefs = notification_prefs(session, merchant.id)
    for (customer, day), lots in groups.items():
        points = sum(lot.remaining for lot in lots)
        expires_at = min(lot.expires_at for lot in lots)
        email = queue_message(
            session,
            message=Message.POINTS_EXPIRING,
            customer=customer,
            dedupe_key=f"points_expiring:{offset}:lot:{min(lot.id for lot in lots)}",
            data={
                "points": points,
                "expires_on": day,
                "days_left": max(0, int(days_left(expires_at, now))),
            },
            now=now,
            prefs=prefs,
        )
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
        publish(
            session,
            PointsExpiring(
                merchant_id=merchant.id,
                occurred_at=now,
                customer_id=customer.host_customer_id,
                points=points,
                expires_at=expires_at,
            ),
        )
    session.flush()
    return len(rows)


def coupon_reminder_batch(session: Session, *, now: datetime, limit: int = 500) -> int:
    """Queue reminders for customers' unused coupons about to expire; how many."""
    queued = 0
    for merchant in session.scalars(select(Merchant).order_by(Merchant.id)).all():
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


def birthday_greetings(session: Session, *, now: datetime) -> int:
    """Queue birthday e-mails for customers whose birthday is today where they shop."""
    queued = 0
    for merchant in session.scalars(select(Merchant).order_by(Merchant.id)).all():
        prefs = notification_prefs(session, merchant.id)
        if not prefs.enabled(Message.BIRTHDAY):
            continue
        today = now.astimezone(ZoneInfo(merchant.timezone)).date()
        customers = session.scalars(
            select(Customer)
            .where(
                Customer.merchant_id == merchant.id,
                Customer.enrolled.is_(True),
                _born_on(today.month, today.day, leap_day=_is_feb_28_non_leap(today)),
            )
            .order_by(Customer.id)
        ).all()
        for customer in customers:
            email = queue_message(
                session,
                message=Message.BIRTHDAY,
                customer=customer,
                dedupe_key=f"birthday:{customer.id}:{today.year}",
                data={},
                now=now,
                prefs=prefs,
            )
            queued += email is not None
    return queued


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
