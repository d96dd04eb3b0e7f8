"""Points turned into store credit at the merchant's rate (issue #19), when it allows.

One way only: credit never turns back into points. The points leave in a ``redeem`` entry
on the points account (soonest-expiring first, as any spend) and the credit arrives in an
``earn`` entry on the credit account in the merchant's currency, with the merchant's credit
expiry; both in one transaction, the points account locked first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import uuid4

from sqlalchemy.orm import Session

from loyalty_plugin.domain.credit import credit_for_points
from loyalty_plugin.domain.errors import InvalidOperation
from loyalty_plugin.domain.events import CreditEarned
from loyalty_plugin.domain.ledger import EntryKind
from loyalty_plugin.domain.money import from_minor
from loyalty_plugin.models import Account, LedgerEntry
from loyalty_plugin.services.events import publish
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.accounts import (
    account_for_host_customer,
    get_merchant,
)
from loyalty_plugin.services.ledger.entries import Money, Reference
from loyalty_plugin.services.ledger.expiry import expiry_for_new_credit
from loyalty_plugin.services.spending.settings import credit_wallet, merchant_settings


@dataclass(frozen=True, slots=True)
class Conversion:
    """Points turned into credit: the two entries and the accounts after them."""

    points_entry: LedgerEntry
    credit_entry: LedgerEntry
    points_account: Account
    credit_account: Account

    @property
    def points(self) -> int:
        """The points given (positive)."""
        return -self.points_entry.points

    @property
    def currency(self) -> str:
        return self.credit_account.unit

    @property
    def credit(self) -> Decimal:
        """The credit received, as money."""
        return from_minor(self.credit_entry.points, self.credit_account.unit)


def convert_points_to_credit(
    session: Session,
    *,
    merchant_id: str,
    customer_id: str,
    points: int,
    now: datetime,
    actor: str,
) -> Conversion:
    """Turn ``points`` of the customer into store credit at the merchant's rate, rounded
    down to the minor unit.

    Refused (``409``) unless the merchant sets ``points_to_credit_points`` and its credit
    wallet takes its currency; too few points for one minor unit are ``422`` on ``points``,
    more than the customer can spend :class:`InsufficientPoints`.
    """
    merchant = get_merchant(session, merchant_id)
    settings = merchant_settings(session, merchant_id)
    currency = merchant.currency
    if settings.points_to_credit_points is None or currency not in credit_wallet(settings):
        raise InvalidOperation("points cannot be turned into store credit here", field="points")
    minor = credit_for_points(
        points,
        rate_points=settings.points_to_credit_points,
        rate_amount=settings.points_to_credit_amount,
        currency=currency,
    )
    account = ledger.lock_account(
        session, account_for_host_customer(session, merchant_id, customer_id).id
    )
    credit = ledger.lock_credit_account(session, account.id, currency)
    amount = from_minor(minor, currency)
    # One reference for both entries, and so for points.redeemed and credit.earned: the
    # host pairs the two events of a conversion by it.
    reference = Reference("credit_conversion", uuid4().hex)
    spent = ledger.spend(
        session, account_id=account.id, points=points, now=now, actor=actor,
        kind=EntryKind.REDEEM, money=Money(amount, currency), reference=reference,
        reason=f"points turned into {amount} {currency} of store credit",
    )  # fmt: skip
    earned = ledger.earn(
        session, account_id=credit.id, points=minor, now=now, actor=actor,
        expires_at=expiry_for_new_credit(session, merchant_id=merchant_id, earned_at=now),
        money=Money(amount, currency), reference=reference,
        reason=f"store credit for {points} points", details={"points_entry_id": spent.id},
    )  # fmt: skip
    publish(
        session,
        CreditEarned(
            merchant_id=merchant_id,
            occurred_at=now,
            customer_id=credit.customer.host_customer_id,
            entry_id=earned.id,
            currency=currency,
            amount=str(amount),
            balance=str(from_minor(credit.balance, currency)),
            reference=f"{reference.type}:{reference.id}",
            reason=earned.reason,
        ),
    )
    return Conversion(
        points_entry=spent, credit_entry=earned, points_account=account, credit_account=credit
    )
