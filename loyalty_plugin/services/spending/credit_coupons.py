"""Coupons bought with store credit (issue #19), when the merchant allows it.

Credit is money, so a coupon bought with credit is worth exactly what it cost: 10.00 of
credit buys a 10.00 coupon in the same currency, with the merchant's coupon rules (the
products and categories it is good for, its expiry). The coupon row is a points coupon's
row on the credit account: ``account_id`` is the credit account, ``points`` the minor
units paid and ``entry_id`` the ``redeem`` entry that took them, so cancelling it, or its
expiry where the merchant refunds expired coupons, gives the credit back by the very
reversal that gives points back (:mod:`.coupons`).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from loyalty_plugin.domain.coupons import (
    CouponKind,
    CouponStatus,
    CouponValue,
    coupon_expiry,
    generate_code,
)
from loyalty_plugin.domain.errors import InsufficientCredit, InvalidOperation, ValidationError
from loyalty_plugin.domain.events import CouponCreated, CreditSpent
from loyalty_plugin.domain.ledger import EntryKind
from loyalty_plugin.domain.money import check_currency, from_minor, to_minor
from loyalty_plugin.models import Account, Coupon
from loyalty_plugin.services.events import publish
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.accounts import (
    account_for_host_customer,
    get_merchant,
)
from loyalty_plugin.services.ledger.entries import Money, Reference
from loyalty_plugin.services.spending.settings import (
    coupon_rules,
    credit_wallet,
    merchant_settings,
)


def buy_coupon_with_credit(
    session: Session,
    *,
    merchant_id: str,
    customer_id: str,
    amount: Decimal,
    now: datetime,
    actor: str,
    currency: str | None = None,
) -> Coupon:
    """Spend ``amount`` of the customer's store credit in ``currency`` (default: the
    merchant's) on a coupon of that value.

    Refused unless the merchant's ``credit_coupons`` allows it and its wallet takes the
    currency; more than the customer can spend is :class:`InsufficientCredit`. A repeat
    of the API call is answered by the API's Idempotency-Key.
    """
    merchant = get_merchant(session, merchant_id)
    settings = merchant_settings(session, merchant_id)
    if not settings.credit_coupons:
        raise InvalidOperation("store credit cannot buy coupons here", field="credit")
    unit = check_currency(currency or merchant.currency, field="currency")
    if unit not in credit_wallet(settings):
        raise ValidationError(f"the credit wallet does not take {unit}", field="currency")
    if not isinstance(amount, Decimal) or amount <= 0:
        raise ValidationError("an amount above 0", field="credit")
    minor = to_minor(amount, unit, field="credit")
    points = account_for_host_customer(session, merchant_id, customer_id)
    account = ledger.lock_credit_account(session, points.id, unit)
    available = ledger.spendable_points(session, account.id, now)
    if available < minor:
        raise InsufficientCredit(
            requested=amount, available=from_minor(available, unit), currency=unit
        )
    rules = coupon_rules(settings)
    value = CouponValue(
        kind=CouponKind.AMOUNT,
        amount=from_minor(minor, unit),
        currency=unit,
        product_ids=rules.product_ids,
        category_ids=rules.category_ids,
    )
    return _issue(session, account, minor, value, coupon_expiry(rules, now=now), now, actor)


def _issue(
    session: Session,
    account: Account,
    minor: int,
    value: CouponValue,
    expires_at: datetime | None,
    now: datetime,
    actor: str,
) -> Coupon:
    """Take the credit with a ``redeem`` entry and issue the coupon; announce both."""
    code = generate_code()
    entry = ledger.spend(
        session,
        account_id=account.id,
        points=minor,
        now=now,
        actor=actor,
        kind=EntryKind.REDEEM,
        money=Money(value.amount, account.unit) if value.amount is not None else None,
        reference=Reference("coupon", code),
        reason=f"store credit turned into coupon {code}",
    )
    coupon = Coupon(
        merchant_id=account.merchant_id,
        code=code,
        status=CouponStatus.ACTIVE,
        expires_at=expires_at,
        created_by=actor,
        created_at=now,
        account_id=account.id,
        points=minor,
        entry_id=entry.id,
    )
    coupon.set_value(value)
    session.add(coupon)
    session.flush()
    _announce(session, coupon, account, entry.id, now)
    return coupon


def _announce(
    session: Session, coupon: Coupon, account: Account, entry_id: int, now: datetime
) -> None:
    """``coupon.created`` (no points: ``details.credit`` says what it cost) and
    ``credit.spent`` (referencing the coupon)."""
    customer_id = account.customer.host_customer_id
    amount = str(from_minor(coupon.points or 0, account.unit))
    publish(
        session,
        CouponCreated(
            merchant_id=coupon.merchant_id,
            occurred_at=now,
            code=coupon.code,
            customer_id=customer_id,
            points=None,
            details={
                "kind": str(coupon.kind),
                "amount": None if coupon.amount is None else str(coupon.amount),
                "currency": coupon.currency,
                "percent": None,
                "expires_at": None if coupon.expires_at is None else coupon.expires_at.isoformat(),
                "credit": {"currency": account.unit, "amount": amount},
            },
        ),
    )
    publish(
        session,
        CreditSpent(
            merchant_id=coupon.merchant_id,
            occurred_at=now,
            customer_id=customer_id,
            entry_id=entry_id,
            currency=account.unit,
            amount=f"-{amount}",
            balance=str(from_minor(account.balance, account.unit)),
            reference=f"coupon:{coupon.code}",
        ),
    )
