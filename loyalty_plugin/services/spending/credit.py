"""Store credit spent on invoices beside points (issue #19, phase 2): the credit side.

A hold of points and credit is one :class:`~loyalty_plugin.models.Redemption` row per
unit: the lead (the points, or the credit when no points are used) and a row per currency
of credit linked to it by ``lead_id``. A credit row keeps minor units in its ``points``
columns, so release, refund returns and take-backs are the points' code on the row's own
account. This module holds what differs: which account and balance, the hold's row, and
the ``credit.spent`` and ``credit.returned`` events.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.events import CreditReturned, CreditSpent
from loyalty_plugin.domain.ledger import EntryKind
from loyalty_plugin.domain.money import from_minor, to_minor
from loyalty_plugin.domain.redemption import CreditQuote
from loyalty_plugin.models import Account, LedgerEntry, Redemption, RedemptionStatus
from loyalty_plugin.services.events import publish
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.entries import Money, Reference


def credit_account(
    session: Session, points: Account, currency: str, *, lock: bool
) -> Account | None:
    """The customer's credit account in ``currency`` (locked after the points account when
    ``lock``), or ``None`` when they never held credit in it."""
    if lock:
        return ledger.lock_customer_account(
            session, merchant_id=points.merchant_id, customer_id=points.customer_id, unit=currency
        )
    return session.scalars(
        select(Account).where(
            Account.merchant_id == points.merchant_id,
            Account.customer_id == points.customer_id,
            Account.unit == currency,
        )
    ).one_or_none()


def spendable_credit(
    session: Session, account: Account | None, currency: str, now: datetime
) -> Decimal:
    """Credit in ``currency`` the account can spend now, as money (``0.00`` without one)."""
    if account is None:
        return from_minor(0, currency)
    return from_minor(ledger.spendable_points(session, account.id, now), currency)


def hold_credit(
    session: Session,
    *,
    account: Account,
    offer: CreditQuote,
    invoice_id: str,
    now: datetime,
    actor: str,
    expires_at: datetime,
) -> Redemption:
    """Take the offered credit from its lots (a ``hold`` entry) and return its row, not
    yet added: the caller links it to the lead or makes it the lead."""
    minor = to_minor(offer.credit, account.unit, field="credit")
    entry = ledger.spend(
        session,
        account_id=account.id,
        points=minor,
        now=now,
        actor=actor,
        kind=EntryKind.HOLD,
        money=Money(offer.credit, offer.currency),
        reference=Reference("invoice", invoice_id),
        reason=f"store credit held for invoice {invoice_id}",
        details={"credit": {"amount": str(offer.credit), "bound_by": offer.credit_bound_by,
                            "limits": {k: str(v) for k, v in offer.credit_limits.items()}}},
    )  # fmt: skip
    return Redemption(
        merchant_id=account.merchant_id,
        account_id=account.id,
        unit=account.unit,
        invoice_id=invoice_id,
        status=RedemptionStatus.HELD,
        points=minor,
        amount=offer.credit,
        currency=offer.currency,
        rate=from_minor(1, account.unit),
        exchange_rate=offer.points.exchange_rate,
        hold_entry_id=entry.id,
        expires_at=expires_at,
        created_by=actor,
        created_at=now,
    )


def publish_spent(session: Session, row: Redemption, account: Account) -> None:
    """``credit.spent``: the credit row's hold was captured."""
    publish(
        session,
        CreditSpent(
            merchant_id=row.merchant_id,
            occurred_at=row.captured_at or row.created_at,
            customer_id=account.customer.host_customer_id,
            entry_id=row.hold_entry_id,
            currency=row.unit,
            amount=str(from_minor(-row.points, row.unit)),
            balance=str(from_minor(account.balance, row.unit)),
            redemption_id=row.lead_id or row.id,
            reference=f"invoice:{row.invoice_id}",
        ),
    )


def publish_returned(
    session: Session, row: Redemption, account: Account, entry: LedgerEntry
) -> None:
    """``credit.returned``: a refund or a cancellation gave back credit spent on the invoice."""
    publish(
        session,
        CreditReturned(
            merchant_id=row.merchant_id,
            occurred_at=entry.created_at,
            customer_id=account.customer.host_customer_id,
            entry_id=entry.id,
            currency=row.unit,
            amount=str(from_minor(entry.points, row.unit)),
            balance=str(from_minor(account.balance, row.unit)),
            reverses_entry_id=row.hold_entry_id,
            redemption_id=row.lead_id or row.id,
            reference=f"invoice:{row.invoice_id}",
        ),
    )
