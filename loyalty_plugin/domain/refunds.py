"""Refunds by line: what a refund may count of each line, given what earlier refunds took.

A line can be given back at most once in all: its quantity is the cap across every refund
of the invoice. Within one refund, naming a line for more than its quantity (once, or by
naming it several times) is an error in the event; across refunds, a refund asking for more
than is left of a line counts what is left and the rest is *clipped* (reported, not
counted), since each refund on its own was valid.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from loyalty_plugin.domain.earning import LineItem
from loyalty_plugin.domain.errors import ValidationError

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class LineRefund:
    """What one refund by line counts."""

    #: Quantity counted per line (what was left of it, at most).
    counted: dict[str, Decimal]
    #: Quantity asked for beyond what was left of the line, per line (only lines clipped).
    clipped: dict[str, Decimal]
    #: Money value of the counted quantities (line total x counted / line qty).
    value: Decimal


def cap_line_refund(
    items: Sequence[LineItem],
    lines: Sequence[tuple[str, Decimal]],
    *,
    already: Mapping[str, Decimal],
    field: str,
) -> LineRefund:
    """Count ``lines`` (``(line_id, qty)`` as the refund names them) against the invoice.

    ``already`` is the quantity of each line earlier refunds counted. Raises
    :class:`ValidationError` on ``{field}.{index}.line_id`` for an unknown line and on
    ``{field}.{index}.qty`` where the refund's own quantities of a line pass its quantity.
    """
    by_id = {item.id: item for item in items}
    asked: dict[str, Decimal] = {}
    for index, (line_id, qty) in enumerate(lines):
        item = by_id.get(line_id)
        if item is None:
            raise ValidationError(
                f"the invoice has no line {line_id!r}", field=f"{field}.{index}.line_id"
            )
        asked[line_id] = asked.get(line_id, ZERO) + qty
        if asked[line_id] > item.qty:
            raise ValidationError(
                f"line {line_id!r} has only {item.qty} to refund; this refund names "
                f"{asked[line_id]}",
                field=f"{field}.{index}.qty",
            )
    counted, clipped, value = {}, {}, ZERO
    for line_id, qty in asked.items():
        item = by_id[line_id]
        left = max(ZERO, item.qty - already.get(line_id, ZERO))
        counted[line_id] = min(qty, left)
        if qty > left:
            clipped[line_id] = qty - left
        value += item.total * counted[line_id] / item.qty
    return LineRefund(counted=counted, clipped=clipped, value=value)
