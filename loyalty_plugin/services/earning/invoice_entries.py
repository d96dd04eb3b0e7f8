"""The earn entries an invoice's earning row wrote, and what each can still give back.

Shared by the points (:mod:`.by_program`) and store credit (:mod:`.credit`) reversals:
the same rows and the same arithmetic, on the account of either unit.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.ledger import EntryKind
from loyalty_plugin.models import InvoiceEarning, LedgerEntry, Lot
from loyalty_plugin.services.ledger.accounts import merged_with
from loyalty_plugin.services.ledger.units import in_unit


def earn_entries(
    session: Session, row: InvoiceEarning, *, account_id: int, unit: str
) -> list[tuple[int, int]]:
    """The row's earn entries in ``unit`` on ``account_id`` (or an account merged into it),
    newest first, each with the amount it can still give back."""
    entries = [
        entry
        for entry in session.scalars(
            select(LedgerEntry)
            .where(
                LedgerEntry.merchant_id == row.merchant_id,
                LedgerEntry.reference_type == "invoice",
                LedgerEntry.reference_id == row.invoice_id,
                # A merged customer's invoice: its earn entries stay on their account.
                LedgerEntry.account_id.in_(merged_with(account_id)),
                in_unit(LedgerEntry, unit),
                LedgerEntry.kind == EntryKind.EARN,
            )
            .order_by(LedgerEntry.id.desc())
        )
        if (entry.details or {}).get("program", {}).get("id") == row.program_id
    ]
    if not entries:
        return []
    undone = dict(
        session.execute(
            select(LedgerEntry.reverses_entry_id, func.sum(LedgerEntry.points))
            .where(LedgerEntry.reverses_entry_id.in_([e.id for e in entries]))
            .group_by(LedgerEntry.reverses_entry_id)
        ).all()
    )
    return [(e.id, e.points + int(undone.get(e.id) or 0)) for e in entries]


def lot_remaining(session: Session, merchant_id: str, entry_id: int) -> int:
    """What is left in the lot ``entry_id`` opened (0 when it opened none)."""
    left = session.scalar(
        select(Lot.remaining).where(Lot.merchant_id == merchant_id, Lot.entry_id == entry_id)
    )
    return int(left or 0)
