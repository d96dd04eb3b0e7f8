"""The FIFO rule, restoring order and request fingerprints, without a database."""

from datetime import UTC, datetime

import pytest

from loyalty_plugin.domain.errors import InsufficientPoints
from loyalty_plugin.domain.ledger import (
    Allocation,
    LotView,
    allocate_fifo,
    allocate_restore,
    fingerprint,
)


def at(month: int) -> datetime:
    return datetime(2026, month, 1, tzinfo=UTC)


def test_soonest_expiry_is_spent_first() -> None:
    """Lots expiring in March, April and May are spent in that order, whatever their ids."""
    lots = [
        LotView(3, 200, at(1), at(5)),
        LotView(1, 100, at(2), at(3)),
        LotView(2, 50, at(1), at(4)),
    ]
    assert allocate_fifo(lots, 120) == [Allocation(1, -100), Allocation(2, -20)]


def test_never_expiring_lots_are_spent_last_and_ties_go_to_oldest() -> None:
    """Without expiry a lot comes last; equal expiry falls back to earn date, then id."""
    lots = [
        LotView(1, 10, at(1), None),
        LotView(2, 10, at(2), at(6)),
        LotView(3, 10, at(1), at(6)),
    ]
    assert [a.lot_id for a in allocate_fifo(lots, 30)] == [3, 2, 1]


def test_insufficient_points_names_what_is_available() -> None:
    """Asking for more than the lots hold raises with the numbers."""
    with pytest.raises(InsufficientPoints) as info:
        allocate_fifo([LotView(1, 5, at(1), None), LotView(2, 0, at(1), None)], 6)
    assert (info.value.requested, info.value.available, info.value.field) == (6, 5, "points")


def test_restore_returns_last_consumed_lot_first() -> None:
    """Giving back part of a spend refills the latest-expiring lot it took from first."""
    taken = [Allocation(1, -100), Allocation(2, -20)]
    assert allocate_restore(taken, 30) == [Allocation(2, 20), Allocation(1, 10)]


def test_fingerprint_is_stable_and_sensitive() -> None:
    """The same request hashes the same; any changed field changes the hash."""
    assert fingerprint(a=1, b="x") == fingerprint(b="x", a=1)
    assert fingerprint(a=1, b="x") != fingerprint(a=2, b="x")
