"""Which unit a query means: the one filter every points-only query shares.

A customer has a points account and, with a credit wallet, one account per currency of
store credit (:data:`~loyalty_plugin.domain.ledger.POINTS` or an ISO 4217 code in
``unit``). Reports, the journal, aging, expiry, levels, search and the desk mean points:
they say so with :func:`points_only`, explicitly, rather than through a global filter.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, select

from loyalty_plugin.domain.ledger import POINTS
from loyalty_plugin.models import Account, LedgerEntry, Lot


def points_only(model: type[Account] | type[LedgerEntry] | type[Lot]) -> ColumnElement[bool]:
    """The condition keeping ``model``'s points rows (credit accounts, entries, lots out)."""
    return model.unit == POINTS


def in_unit(model: type[Account] | type[LedgerEntry] | type[Lot], unit: str) -> ColumnElement[bool]:
    """The condition keeping ``model``'s rows of ``unit`` (``points`` or a currency)."""
    return model.unit == unit


def credit_accounts_of(merchant_id: str, customer_id: int) -> Select[tuple[Account]]:
    """The customer's live store credit accounts with the merchant, in currency order (the
    order every writer locks them in)."""
    return (
        select(Account)
        .where(
            Account.merchant_id == merchant_id,
            Account.customer_id == customer_id,
            Account.unit != POINTS,
            Account.merged_into_id.is_(None),
        )
        .order_by(Account.unit)
    )
