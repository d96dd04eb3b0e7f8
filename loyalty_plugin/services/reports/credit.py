"""Store credit outstanding per currency: the merchant's liability at face value (#19).

Credit is money, not points: it is never valued at a point value, and each currency is
its own figure. Outstanding credit is what is left in the credit lots that have not
reached their expiry, as outstanding points are for points (a debt is what a customer
owes the merchant, not a reduction of what the merchant owes others).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, literal_column, or_, select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.ledger import POINTS
from loyalty_plugin.domain.money import from_minor
from loyalty_plugin.models import Lot
from loyalty_plugin.services.reports.calendar import instant


@dataclass(frozen=True, kw_only=True)
class CreditLiability:
    """Store credit held and not yet expired in ``currency``, at face value."""

    currency: str
    amount: Decimal
    #: Credit lots holding it (one per earning that still has credit left).
    lots: int


def outstanding_credit(
    session: Session, *, merchant_id: str, now: datetime
) -> list[CreditLiability]:
    """Outstanding store credit per currency, in currency order: one statement.

    Empty for a points-only merchant. Read from the partial index of open credit lots
    (``ix_lots_credit_open``), so points lots are never touched.
    """
    query = (
        select(Lot.unit, func.sum(Lot.remaining), func.count())
        .where(
            Lot.merchant_id == merchant_id,
            # Literals, not bound parameters: PostgreSQL matches them to the partial index
            # even in a generic (prepared) plan.
            Lot.unit != literal_column(f"'{POINTS}'"),
            Lot.holds_points,
            or_(Lot.expires_at.is_(None), Lot.expires_at > instant(now)),
        )
        .group_by(Lot.unit)
        .order_by(Lot.unit)
    )
    return [
        CreditLiability(currency=unit, amount=from_minor(int(units), unit), lots=int(lots))
        for unit, units, lots in session.execute(query)
    ]
