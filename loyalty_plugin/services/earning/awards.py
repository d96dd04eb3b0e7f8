"""The earning seam: what an invoice, a payment, a registration or a birthday is worth.

The webhook handlers and jobs ask only this module, and it has one path: the merchant's
programs (every merchant starts with the default program, see
:data:`~loyalty_plugin.services.earning.programs.DEFAULT_PROGRAM`). Each function writes its own
ledger entries (one per program that counts) and answers what it did as a webhook
``result``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, union_all
from sqlalchemy.orm import Session

from loyalty_plugin.domain.coupons import CouponStatus
from loyalty_plugin.domain.earning import InvoiceFacts, in_merchant_currency
from loyalty_plugin.domain.host_events import Payment, Refund
from loyalty_plugin.domain.money import quantize
from loyalty_plugin.models import Coupon, Customer, Redemption, RedemptionStatus
from loyalty_plugin.services.earning import by_program as program_earning
from loyalty_plugin.services.earning.by_program import PaymentSeen
from loyalty_plugin.services.earning.rule_engine import invoice_view, plugin_rule_kinds
from loyalty_plugin.services.levels import memberships as levels

#: Who the ledger says wrote entries earned through programs on host events.
ACTOR = "webhook"

_SCALE = Decimal("0.0001")


def value_invoice(invoice: InvoiceFacts, *, merchant_currency: str) -> InvoiceFacts:
    """The invoice with ``merchant_total`` set (4 decimal places, as stored)."""
    total = in_merchant_currency(invoice, merchant_currency).quantize(_SCALE)
    return replace(invoice, merchant_total=total)


def earn_with_programs(
    session: Session,
    *,
    merchant_id: str,
    customer: Customer,
    facts: InvoiceFacts,
    hooks: Any,
    now: datetime,
    occurred_at: datetime | None = None,
    paid_in_full: bool = True,
    payment: Payment | None = None,
    paid_again: Decimal = Decimal(0),
    cancelled: bool = False,
    new_invoice: bool = False,
) -> dict[str, Any]:
    """Earn on a paid invoice (or one recorded payment) under the merchant's programs.

    The answer's ``paid_with_points`` is the invoice money paid with points or a points
    coupon (the host sent the invoice after that discount) and whether it earned. On a
    ``cancelled`` invoice nothing is earned: the programs are evaluated for a reinstatement.
    ``new_invoice``: the invoice row was created in this transaction (see
    :func:`program_earning.earn_on_invoice`).
    """
    with_points = _paid_with_points(session, merchant_id, facts)
    invoice = invoice_view(facts, paid_with_points=with_points)
    outcome = program_earning.earn_on_invoice(
        session,
        merchant_id=merchant_id,
        customer=customer,
        invoice=invoice,
        now=now,
        actor=ACTOR,
        paid_in_full=paid_in_full,
        payment=None if payment is None else PaymentSeen(id=payment.id, amount=payment.amount),
        occurred_at=occurred_at,
        paid_again=paid_again,
        extra_kinds=plugin_rule_kinds(hooks),
        cancelled=cancelled,
        new_invoice=new_invoice,
    )
    paid = {
        "amount": str(quantize(with_points, facts.currency)),
        "counted": outcome.points_payments_counted and with_points > 0,
    }
    answer = outcome.to_dict() | {"paid_with_points": paid}
    return answer | _levels(session, merchant_id, customer=customer, now=now)


def refund_with_programs(
    session: Session,
    *,
    merchant_id: str,
    invoice_id: str,
    refund: Refund,
    hooks: Any,
    now: datetime,
    lines_value: Decimal | None = None,
) -> dict[str, Any]:
    """Take back what a refund calls for under each program the invoice earned with.

    ``lines_value``: what the refund's lines are worth on the invoice (see
    :func:`program_earning.refund_invoice`).
    """
    return _apply_refund(
        program_earning.refund_invoice, session, merchant_id, invoice_id, refund, hooks, now,
        lines_value,
    )  # fmt: skip


def reverse_refund_with_programs(
    session: Session,
    *,
    merchant_id: str,
    invoice_id: str,
    refund: Refund,
    hooks: Any,
    now: datetime,
    lines_value: Decimal | None = None,
) -> dict[str, Any]:
    """Give back, under every program, what ``refund`` (as it was counted) took."""
    return _apply_refund(
        program_earning.reverse_refund, session, merchant_id, invoice_id, refund, hooks, now,
        lines_value,
    )  # fmt: skip


def _apply_refund(
    engine: Callable[..., Any],
    session: Session,
    merchant_id: str,
    invoice_id: str,
    refund: Refund,
    hooks: Any,
    now: datetime,
    lines_value: Decimal | None,
) -> dict[str, Any]:
    """Run ``engine`` (refund or its reversal) on the refund's quantities per line."""
    lines: dict[str, Decimal] = {}
    for item in refund.items:
        lines[item.line_id] = lines.get(item.line_id, Decimal(0)) + item.qty
    outcome = engine(
        session,
        merchant_id=merchant_id,
        invoice_id=invoice_id,
        refund_id=refund.id,
        amount=refund.amount,
        lines=lines or None,
        lines_value=lines_value,
        now=now,
        actor=ACTOR,
        extra_kinds=plugin_rule_kinds(hooks),
    )
    return outcome.to_dict() | _levels(session, merchant_id, invoice_id=invoice_id, now=now)


def pay_again_with_programs(
    session: Session,
    *,
    merchant_id: str,
    invoice_id: str,
    paid_again: Decimal,
    payment_id: str | None,
    hooks: Any,
    now: datetime,
) -> dict[str, Any]:
    """Give back, under every program, what refunds by amount took and money paid again on
    the paid invoice pays back (see :func:`program_earning.pay_again`)."""
    outcome = program_earning.pay_again(
        session,
        merchant_id=merchant_id,
        invoice_id=invoice_id,
        paid_again=paid_again,
        payment_id=payment_id,
        now=now,
        actor=ACTOR,
        extra_kinds=plugin_rule_kinds(hooks),
    )
    return outcome.to_dict() | _levels(session, merchant_id, invoice_id=invoice_id, now=now)


def cancel_with_programs(
    session: Session, *, merchant_id: str, invoice_id: str, hooks: Any, now: datetime
) -> dict[str, Any]:
    """Take back everything the invoice earned under every program."""
    outcome = program_earning.cancel_invoice(
        session,
        merchant_id=merchant_id,
        invoice_id=invoice_id,
        now=now,
        actor=ACTOR,
        extra_kinds=plugin_rule_kinds(hooks),
    )
    return outcome.to_dict() | _levels(session, merchant_id, invoice_id=invoice_id, now=now)


def reinstate_with_programs(
    session: Session,
    *,
    merchant_id: str,
    invoice_id: str,
    hooks: Any,
    now: datetime,
    paid: Decimal | None = None,
    paid_in_full: bool = False,
) -> dict[str, Any]:
    """Give back, under every program, what a cancelled invoice earns once live again,
    counting what was ``paid`` meanwhile (``paid_in_full``: it is paid)."""
    outcome = program_earning.reinstate_invoice(
        session,
        merchant_id=merchant_id,
        invoice_id=invoice_id,
        now=now,
        actor=ACTOR,
        extra_kinds=plugin_rule_kinds(hooks),
        paid=paid,
        paid_in_full=paid_in_full,
    )
    return outcome.to_dict() | _levels(session, merchant_id, invoice_id=invoice_id, now=now)


def event_with_programs(
    session: Session,
    *,
    merchant_id: str,
    customer: Customer,
    trigger: str,
    reference: str,
    hooks: Any,
    now: datetime,
    occurred_at: datetime | None = None,
    name: str | None = None,
    properties: dict[str, Any] | None = None,
    day: date | None = None,
    actor: str = ACTOR,
) -> dict[str, Any]:
    """Earn on a ``registration``, ``birthday`` or ``custom`` event, within rule limits."""
    outcome = program_earning.earn_on_event(
        session,
        merchant_id=merchant_id,
        customer=customer,
        trigger=trigger,
        reference=reference,
        now=now,
        actor=actor,
        occurred_at=occurred_at,
        name=name,
        properties=properties,
        day=day,
        extra_kinds=plugin_rule_kinds(hooks),
    )
    moves = _levels(session, merchant_id, customer=customer, now=now, actor=actor)
    return outcome.to_dict() | moves


def _levels(
    session: Session,
    merchant_id: str,
    *,
    now: datetime,
    customer: Customer | None = None,
    invoice_id: str | None = None,
    actor: str = ACTOR,
) -> dict[str, Any]:
    """Move the customer between levels in the same transaction; the moves, if any."""
    moves = levels.update_levels_after(
        session,
        merchant_id=merchant_id,
        customer=customer,
        invoice_id=invoice_id,
        now=now,
        actor=actor,
    )
    changes = [{"from": m.from_level, "to": m.to_level, "reason": m.reason} for m in moves]
    return {"level_changes": changes} if changes else {}


def _paid_with_points(session: Session, merchant_id: str, facts: InvoiceFacts) -> Decimal:
    """The invoice money covered by points: its held or captured redemptions, and the
    amount coupons bought with points took off it.

    Summed in Python: on SQLite the amounts are decimal text, which SQL would add as floats.
    """
    redeemed = select(Redemption.amount).where(
        Redemption.merchant_id == merchant_id,
        Redemption.invoice_id == facts.id,
        Redemption.currency == facts.currency,
        Redemption.status.in_([RedemptionStatus.HELD, RedemptionStatus.CAPTURED]),
    )
    coupons = select(Coupon.amount).where(
        Coupon.merchant_id == merchant_id,
        Coupon.redeemed_invoice_id == facts.id,
        Coupon.status == CouponStatus.REDEEMED,
        Coupon.points.is_not(None),
        Coupon.currency == facts.currency,
        Coupon.amount.is_not(None),
    )
    # One statement for both (issue 20).
    amounts = session.scalars(union_all(redeemed, coupons))
    return sum((amount for amount in amounts if amount), Decimal(0))
