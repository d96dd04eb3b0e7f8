"""Which unit a query means: the one filter every points-only query shares.

A customer has a points account and, with a credit wallet, one account per currency of
store credit (:data:`~loyalty_plugin.domain.ledger.POINTS` or an ISO 4217 code in
``unit``). Reports, the journal, aging, expiry, levels, search and the desk mean points:
they say so with :func:`points_only`, explicitly, rather than through a global filter.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement

from loyalty_plugin.domain.ledger import POINTS
from loyalty_plugin.models import Account, LedgerEntry, Lot


def points_only(model: type[Account] | type[LedgerEntry] | type[Lot]) -> ColumnElement[bool]:
    """The condition keeping ``model``'s points rows (credit accounts, entries, lots out)."""
    return model.unit == POINTS


def in_unit(model: type[Account] | type[LedgerEntry] | type[Lot], unit: str) -> ColumnElement[bool]:
    """The condition keeping ``model``'s rows of ``unit`` (``points`` or a currency)."""
    return model.unit == unit
