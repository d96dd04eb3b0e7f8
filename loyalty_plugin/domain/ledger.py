"""Ledger rules: entry kinds, the FIFO order lots are spent in, and request fingerprints.

The ledger is append-only. Points live in *lots* (one per credit); every debit records
*allocations* (how many points it took from which lot) so that a reversal can put them
back where they came from, with their original expiry.

An account holds one *unit*: ``points``, or store credit in one currency. Store credit
goes through the very same operations as integers of the currency's minor unit (cents);
only the edges (API, earning, display) turn them into ``Decimal`` money
(:func:`loyalty_plugin.domain.money.to_minor`, :func:`~loyalty_plugin.domain.money.from_minor`).
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from loyalty_plugin.domain.errors import InsufficientPoints

#: The unit of a points account (every other unit is a currency code: store credit).
POINTS = "points"


def is_credit(unit: str) -> bool:
    """True for a store credit unit (a currency code), False for points."""
    return unit != POINTS


class EntryKind(enum.StrEnum):
    """What a ledger entry did to the balance."""

    #: Points earned on a purchase, a registration, a birthday... (creates a lot).
    EARN = "earn"
    #: Points spent on an invoice or a coupon (consumes lots).
    REDEEM = "redeem"
    #: Points set aside for an open invoice (consumes lots until captured or released).
    HOLD = "hold"
    #: Held points given back to the lots they came from.
    RELEASE = "release"
    #: A lot's remainder lost at its expiry date.
    EXPIRE = "expire"
    #: Undo of an earlier entry, in whole or in part.
    REVERSE = "reverse"
    #: Manual credit or debit by staff, with a reason.
    ADJUST = "adjust"
    #: Points a customer gives to another customer of the same merchant (consumes lots).
    TRANSFER = "transfer"
    #: Points received from another customer's ``transfer``: one entry and lot per lot the
    #: sender gave, with that lot's earn and expiry dates.
    TRANSFER_IN = "transfer_in"
    #: A merged customer's points leaving for the survivor (empties the lots, which move).
    MERGE_OUT = "merge_out"
    #: The survivor receiving a merged customer's lots (fills the moved lots again).
    MERGE_IN = "merge_in"
    #: Points brought from the loyalty system a merchant left: an opening balance lot,
    #: with the date it was earned there (creates a lot, spent and expired like any other).
    MIGRATION = "migration"


#: Kinds that move points between two accounts: never reversed (a transfer back undoes one).
MOVE_KINDS = frozenset(
    {EntryKind.TRANSFER, EntryKind.TRANSFER_IN, EntryKind.MERGE_OUT, EntryKind.MERGE_IN}
)

#: Kinds that take points out of lots.
DEBIT_KINDS = frozenset({EntryKind.REDEEM, EntryKind.HOLD, EntryKind.EXPIRE})


@dataclass(frozen=True, slots=True)
class LotView:
    """What the FIFO rule needs to know of a lot."""

    id: int
    remaining: int
    earned_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class OpeningLot:
    """One lot of an opening balance: points, when they were earned, when they expire."""

    points: int
    earned_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class Allocation:
    """Points moved between one entry and one lot: negative taken, positive returned."""

    lot_id: int
    points: int


def spending_order(lot: LotView) -> tuple[bool, datetime, datetime, int]:
    """Sort key: soonest expiry first (never-expiring last), then oldest earned, then id."""
    expires = lot.expires_at or datetime.max
    return (lot.expires_at is None, expires, lot.earned_at, lot.id)


def allocate_fifo(lots: Iterable[LotView], points: int) -> list[Allocation]:
    """Take ``points`` from ``lots`` in spending order; raise if they do not hold enough."""
    ordered = sorted((lot for lot in lots if lot.remaining > 0), key=spending_order)
    available = sum(lot.remaining for lot in ordered)
    if points > available:
        raise InsufficientPoints(requested=points, available=available)
    allocations: list[Allocation] = []
    left = points
    for lot in ordered:
        if left == 0:
            break
        take = min(left, lot.remaining)
        allocations.append(Allocation(lot.id, -take))
        left -= take
    return allocations


def allocate_restore(taken: Sequence[Allocation], points: int) -> list[Allocation]:
    """Give back up to ``points`` of what ``taken`` consumed, last-consumed lot first.

    ``taken`` is the net amount still out of each lot (negative numbers), in the order the
    lots were consumed. Returning to the last-consumed lot first gives the customer back the
    points that expire latest.
    """
    allocations: list[Allocation] = []
    left = points
    for allocation in reversed(taken):
        if left == 0:
            break
        give = min(left, -allocation.points)
        if give > 0:
            allocations.append(Allocation(allocation.lot_id, give))
            left -= give
    return allocations


def fingerprint(**request: object) -> str:
    """A stable SHA-256 of a request, to tell a true retry from a reused idempotency key."""
    return hashlib.sha256(
        json.dumps(request, sort_keys=True, default=_json_default, separators=(",", ":")).encode()
    ).hexdigest()


def _json_default(value: object) -> str:
    if isinstance(value, Decimal | datetime | date | enum.Enum):
        return str(value)
    raise TypeError(f"cannot fingerprint {type(value).__name__}")
