"""From exact awards to whole points, and what an invoice keeps after payments and refunds.

Points are rounded once, at the end: per invoice (the program's total is rounded and then
shared out over the awards by largest remainder, so the breakdown adds up exactly) or per
line (each award rounded alone). Refunds and partial payments scale awards by a factor in
``[0, 1]``; since every rounding mode is monotonic, a scaled invoice never keeps more
points than the whole one earned.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from loyalty_plugin.domain.rules.kinds import BONUS_CAMPAIGN, Award
from loyalty_plugin.domain.rules.settings import Rounding, RoundingScope

ZERO = Decimal(0)
ONE = Decimal(1)


@dataclass(frozen=True, slots=True)
class SettledAward:
    """An award with its scaled exact points and the whole points it contributes."""

    award: Award
    exact: Decimal
    points: int


class Settlement:
    """Whole points and the awards they come from (their ``points`` add up to the total).

    The items are shared out only when asked for: choosing between programs and the
    targets of a refund need the total alone, and sharing it out over hundreds of line
    awards is most of a settlement's cost.
    """

    __slots__ = ("_items", "_share", "points")

    def __init__(
        self,
        points: int,
        items: tuple[SettledAward, ...] = (),
        *,
        share: Callable[[], tuple[SettledAward, ...]] | None = None,
    ) -> None:
        self.points = points
        self._items = None if share is not None else items
        self._share = share

    @property
    def items(self) -> tuple[SettledAward, ...]:
        if self._items is None:
            self._items = self._share() if self._share is not None else ()
            self._share = None
        return self._items

    def __repr__(self) -> str:
        return f"Settlement(points={self.points!r}, items={self.items!r})"


def settle(
    awards: Sequence[Award],
    *,
    rounding: Rounding,
    scope: RoundingScope,
    multiplier: Decimal = ONE,
    factor: Callable[[Award], Decimal] | None = None,
) -> Settlement:
    """Round ``awards`` (each times ``multiplier`` and ``factor(award)``) to whole points.

    A bonus campaign's award is not multiplied: its points were computed on multiplied ones.
    """
    scaled = _scaled(awards, multiplier, factor)
    if scope is RoundingScope.LINE:
        apply = rounding.apply
        items = tuple(SettledAward(a, x, apply(x)) for a, x in scaled)
        return Settlement(sum(i.points for i in items), items)
    total = rounding.apply(sum((x for _, x in scaled), ZERO))
    return Settlement(total, share=lambda: _share_out(scaled, total))


def _scaled(
    awards: Sequence[Award], multiplier: Decimal, factor: Callable[[Award], Decimal] | None
) -> list[tuple[Award, Decimal]]:
    """Each award that gives something, with its exact points scaled.

    Multiplying by ``Decimal(1)`` changes neither a ``Decimal``'s value nor its exponent
    (``1.0`` would), so the common case (no multiplier, no factor) skips the products.
    """
    if factor is None and multiplier == ONE and multiplier.as_tuple().exponent == 0:
        return [(a, a.exact) for a in awards if a.exact]
    if factor is None:
        return [(a, a.exact * _times(a, multiplier)) for a in awards if a.exact]
    return [(a, a.exact * _times(a, multiplier) * factor(a)) for a in awards if a.exact]


def _times(award: Award, multiplier: Decimal) -> Decimal:
    return ONE if award.kind == BONUS_CAMPAIGN else multiplier


def _share_out(scaled: list[tuple[Award, Decimal]], total: int) -> tuple[SettledAward, ...]:
    """Split ``total`` over the awards: floors first, then the largest fractions get +1."""
    floor = Rounding.DOWN.apply
    floors = [floor(x) for _, x in scaled]
    left = total - sum(floors)
    if left > 0:
        # The ``left`` largest fractions, ties to the first: what sorting them all and
        # taking the first ``left`` gives, without sorting hundreds of awards.
        size = min(left, len(scaled))
        fractions = [x - f for (_, x), f in zip(scaled, floors, strict=True)]
        for i in heapq.nsmallest(size, range(len(scaled)), key=lambda i: (-fractions[i], i)):
            floors[i] += 1
        left -= size
    if left > 0 and scaled:
        # Rounding up a total of exact zeros: give the extra point to the first award.
        floors[0] += left
    return tuple(SettledAward(a, x, p) for (a, x), p in zip(scaled, floors, strict=True))


@dataclass(frozen=True, slots=True, kw_only=True)
class InvoiceState:
    """What happened to an invoice since it earned: money paid and given back."""

    total: Decimal
    #: Money paid so far that counts for earning (the whole total once paid in full, and
    #: more when money was paid again after a refund, see :meth:`paid_again`).
    paid: Decimal = ZERO
    #: Money given back by every refund so far.
    refunded: Decimal = ZERO
    #: Money given back by refunds that named no lines.
    refunded_unassigned: Decimal = ZERO
    #: Quantity given back per line, by refunds that named lines.
    refunded_lines: Mapping[str, Decimal] = field(default_factory=dict)
    #: Quantity of each line of the invoice.
    line_qty: Mapping[str, Decimal] = field(default_factory=dict)

    def paid_share(self) -> Decimal:
        """The part of the invoice paid, from 0 to 1."""
        if self.total <= 0:
            return ONE if self.paid > 0 else ZERO
        return _clamp(self.paid / self.total)

    def earn_factor(self, _award: Award) -> Decimal:
        """What share of an award is earned, refunds aside."""
        return self.paid_share()

    def paid_again(self) -> Decimal:
        """Money paid beyond the total: a payment recorded again after one was deleted
        (and refunded by amount). It pays back refunds by amount, never by line."""
        return max(ZERO, self.paid - self.total)

    def keep_factor(self, award: Award) -> Decimal:
        """What share of an award the customer keeps after refunds."""
        paid = self.paid_share()
        if self.total <= 0:
            return ZERO if self.refunded > 0 else paid
        paid_back = min(self.paid_again(), self.refunded_unassigned)
        qty = self.line_qty.get(award.line or "")
        if award.line is None or not qty:
            return _clamp(paid - (self.refunded - paid_back) / self.total)
        returned = self.refunded_lines.get(award.line, ZERO) / qty
        return _clamp(paid - (self.refunded_unassigned - paid_back) / self.total - returned)


def _clamp(value: Decimal) -> Decimal:
    return min(ONE, max(ZERO, value))


@dataclass(frozen=True, slots=True)
class Targets:
    """Whole points an invoice should have earned, and should have had reversed, so far."""

    earned: int
    reversed: int


def targets(
    awards: Sequence[Award],
    state: InvoiceState,
    *,
    rounding: Rounding,
    scope: RoundingScope,
    multiplier: Decimal = ONE,
) -> Targets:
    """Earned: the paid part's points. Reversed: earned minus what the kept part earns.

    Computed from running totals, never per event, so the order refunds and payments
    arrive in does not matter and the reversed total can never exceed the earned total.
    """
    options = {"rounding": rounding, "scope": scope, "multiplier": multiplier}
    earned = settle(awards, factor=state.earn_factor, **options).points
    kept = settle(awards, factor=state.keep_factor, **options).points
    return Targets(earned=earned, reversed=max(0, earned - kept))
