"""One small handler per host event type, run inside the event's transaction.

Each handler counts a business fact at most once, whatever ``webhook-id`` carries it: an
invoice is paid once (its row's status), a payment, refund, registration or birthday once
(an :class:`~loyalty_plugin.models.EventKey`). An event whose invoice or customer is not
known yet raises :class:`Wait`; it is stored as ``waiting`` and run again, in the same
transaction, by the event that brings what it waits for.

Reversals are computed from running totals (points to have reversed = earned x refunded /
total, all reversed once cancelled), so refunds and cancellations arriving in any order
leave the same ledger.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.birthdays import check_birthday
from loyalty_plugin.domain.earning import InvoiceFacts, LineItem, reversal_target
from loyalty_plugin.domain.errors import InvalidOperation, LoyaltyError, NotFound, ValidationError
from loyalty_plugin.domain.host_events import (
    BirthdayData,
    CancelData,
    CustomData,
    CustomerEventData,
    CustomerProfile,
    HostEvent,
    InvoiceData,
    MergeData,
    Payment,
    Refund,
    RefundData,
    RefundLine,
    RefundReversedData,
    natural_key,
)
from loyalty_plugin.domain.ledger import POINTS
from loyalty_plugin.domain.money import from_minor, quantize, to_minor
from loyalty_plugin.domain.refunds import cap_line_refund
from loyalty_plugin.models import (
    Customer,
    EventKey,
    InboxStatus,
    Invoice,
    InvoiceStatus,
    LedgerEntry,
    Merchant,
    WebhookEvent,
)
from loyalty_plugin.schemas.body import parse_json
from loyalty_plugin.schemas.webhooks import load_event
from loyalty_plugin.services import idempotency
from loyalty_plugin.services.audit import Actor
from loyalty_plugin.services.cards import holders as cards
from loyalty_plugin.services.customers import merge
from loyalty_plugin.services.earning import awards as earning
from loyalty_plugin.services.earning import birthdays
from loyalty_plugin.services.intake import first_sight
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.spending import coupons, redemption
from loyalty_plugin.services.spending.settings import merchant_settings

log = logging.getLogger(__name__)

#: Top-level fields of every event; other field names are paths inside ``data``.
ENVELOPE_FIELDS = frozenset({"type", "occurred_at", "merchant_id", "data", "_body"})
#: Who the ledger says wrote entries made by host events.
ACTOR = "webhook"
#: A waiting event is looked at again at least this often, in case what it waits for
#: arrived in a transaction that could not see it yet.
MAX_WAIT_RECHECK = timedelta(hours=1)


class Wait(Exception):
    """The event needs an invoice or customer that is not known yet."""

    def __init__(self, on: str, reason: str) -> None:
        super().__init__(reason)
        self.on = on
        self.reason = reason


@dataclass(frozen=True, kw_only=True)
class Context:
    """What a handler works with."""

    session: Session
    row: WebhookEvent
    event: HostEvent
    merchant: Merchant
    hooks: Any
    now: datetime
    #: First delay before a waiting event is looked at again.
    recheck: timedelta
    #: Customers this event created on first sight (their ``customer_created`` notes).
    sightings: list[dict[str, Any]] = field(default_factory=list)
    #: The host's id of the customer a ``card_number`` named (for the plugins' hook).
    card_holders: list[str] = field(default_factory=list)
    #: Host ids of the invoices this event created: nothing can have earned on them yet.
    new_invoices: set[str] = field(default_factory=set)

    def caller(self) -> first_sight.Caller:
        """This event as the first-sight service sees its caller."""
        return first_sight.Caller(
            hooks=self.hooks,
            now=self.now,
            actor=ACTOR,
            event_id=self.row.id,
            occurred_at=self.event.occurred_at,
        )


def handle(
    session: Session,
    *,
    row: WebhookEvent,
    envelope: dict[str, Any],
    data: Any,
    hooks: Any,
    now: datetime,
    recheck: timedelta,
    merchant: Merchant | None = None,
) -> None:
    """Run the event's handler and the ``host_event_received`` hook; record the outcome.

    Sets ``row`` to ``processed`` (with its result) or ``waiting``. Raises a
    :class:`LoyaltyError` for an event the rules refuse, and lets anything else through
    (the caller keeps the event for a retry).
    """
    merchant = merchant or session.get_one(Merchant, row.merchant_id)
    event = HostEvent(
        event_id=row.id,
        webhook_id=row.webhook_id,
        type=envelope["type"],
        merchant_id=row.merchant_id,
        occurred_at=envelope["occurred_at"],
        data=data,
    )
    ctx = Context(
        session=session,
        row=row,
        event=event,
        merchant=merchant,
        hooks=hooks,
        now=now,
        recheck=recheck,
    )
    try:
        result = HANDLERS[event.type](ctx, data)
    except Wait as wait:
        _mark_waiting(ctx, wait)
        return
    for note in ctx.sightings:
        result.update(note)
    if ctx.card_holders:
        event = replace(event, data=_naming(data, ctx.card_holders[0]))
    plugins = [r for r in hooks.host_event_received(session=session, event=event) if r]
    if plugins:
        result["plugins"] = plugins
    row.status = InboxStatus.PROCESSED
    row.processed_at = now
    row.waiting_for = None
    row.next_attempt_at = None
    row.result = result


def handle_stored(
    session: Session, row: WebhookEvent, *, hooks: Any, now: datetime, recheck: timedelta
) -> None:
    """Validate a stored delivery's body again and handle it (retries, released waits)."""
    envelope, data = load_event(parse_json(row.body.encode()))
    handle(session, row=row, envelope=envelope, data=data, hooks=hooks, now=now, recheck=recheck)


def release_waiting(ctx: Context, on: str) -> list[int]:
    """Handle the events that waited for ``on``, oldest first; returns their ids.

    Each runs in a savepoint: one the rules refuse is rejected without undoing the event
    that released it.
    """
    rows = ctx.session.scalars(
        select(WebhookEvent)
        .where(
            WebhookEvent.merchant_id == ctx.merchant.id,
            WebhookEvent.status == InboxStatus.WAITING,
            WebhookEvent.waiting_for == on,
        )
        .order_by(WebhookEvent.id)
        .with_for_update(skip_locked=True)
    ).all()
    for waiting in rows:
        # Out of the waiting set first, so that handling it cannot release it again.
        waiting.status = InboxStatus.PENDING
        ctx.session.flush()
        try:
            with ctx.session.begin_nested():
                handle_stored(
                    ctx.session, waiting, hooks=ctx.hooks, now=ctx.now, recheck=ctx.recheck
                )
        except LoyaltyError as error:
            reject(waiting, refusal(error), status_code=422, now=ctx.now)
        except Exception as error:  # one bad waiting event must not block the others
            # Its savepoint rolled back; it stays pending and the retry job takes it again.
            log.warning("waiting host event %s failed: %s", waiting.id, error)
            waiting.attempts += 1
            waiting.last_error = f"{type(error).__name__}: {error}"[:2000]
            waiting.next_attempt_at = ctx.now
    return [row.id for row in rows]


def refusal(error: LoyaltyError) -> dict[str, Any]:
    """The stored answer to an event the rules refuse.

    A validation error raised while handling is the event's fault, like one its schema
    finds: ``invalid_event``, with the field as a path in the body
    (``data.invoice.exchange_rate``). Other codes (``invalid_operation``...) stay.
    """
    body = error.to_dict()
    if isinstance(error, ValidationError):
        body["code"] = "invalid_event"
        body["fields"] = {_event_path(name): texts for name, texts in body["fields"].items()}
    return body


def _event_path(name: str) -> str:
    head = name.split(".", 1)[0]
    return name if head in ENVELOPE_FIELDS else f"data.{name}"


def reject(row: WebhookEvent, error: dict[str, Any], *, status_code: int, now: datetime) -> None:
    """Mark a delivery as refused for good, keeping the answer it got."""
    row.status = InboxStatus.REJECTED
    row.processed_at = now
    row.next_attempt_at = None
    row.waiting_for = None
    row.result = {"http_status": status_code, "error": error}


# -- customers ------------------------------------------------------------------------------


def on_customer_saved(ctx: Context, data: CustomerEventData) -> dict[str, Any]:
    """``customer.created`` / ``customer.updated``: save the profile, register once.

    A customer created on first sight gets their profile here (``profile_completed``);
    registration is counted once per customer, so its bonus is never given twice.
    """
    sighting = _save_customer(ctx, data.customer)
    customer = sighting.customer
    result: dict[str, Any] = {"customer_id": customer.host_customer_id, "created": sighting.created}
    if sighting.completed:
        result["profile_completed"] = True
    result.update(_register(ctx, customer))
    if released := release_waiting(ctx, f"customer:{customer.host_customer_id}"):
        result["released"] = released
    return result


def on_customer_merged(ctx: Context, data: MergeData) -> dict[str, Any]:
    """``customer.merged``: move everything of ``customer_id`` to ``into_customer_id``.

    The survivor is named like any customer (created on first sight, or the event waits);
    the merge itself is idempotent, so a second copy answers ``already_merged``. Events
    that waited for the merged customer are released: they act on the survivor now.
    """
    _known_customer(ctx, data.into_customer_id)
    result = merge.merge_from_host(
        ctx.session,
        merchant_id=ctx.merchant.id,
        customer_id=data.customer_id,
        into_customer_id=data.into_customer_id,
        now=ctx.now,
        actor=Actor.host(ACTOR),
    ).as_dict()
    if released := release_waiting(ctx, f"customer:{data.customer_id}"):
        result["released"] = released
    return result


def on_birthday(ctx: Context, data: BirthdayData) -> dict[str, Any]:
    """``customer.birthday``: the bonus, once per customer and year (the job's limit too).

    Only for the year the event happened in, and on the customer's date of birth when we
    know it (:func:`~loyalty_plugin.domain.birthdays.check_birthday`); else ``422``.
    """
    zone = ZoneInfo(ctx.merchant.timezone)
    check_birthday(data.date, occurred_at=ctx.event.occurred_at, zone=zone)
    customer = _named_customer(ctx, data.customer_id, data.card_number)
    check_birthday(
        data.date,
        occurred_at=ctx.event.occurred_at,
        zone=zone,
        date_of_birth=customer.date_of_birth,
    )
    return birthdays.award_birthday(
        ctx.session,
        customer=customer,
        day=data.date,
        hooks=ctx.hooks,
        now=ctx.now,
        actor=ACTOR,
        event_id=ctx.row.id,
        occurred_at=ctx.event.occurred_at,
    )


def on_custom(ctx: Context, data: CustomData) -> dict[str, Any]:
    """``event.custom``: nothing built in; plugins act through ``host_event_received``."""
    customer = _named_customer(ctx, data.customer_id, data.card_number)
    result: dict[str, Any] = {"customer_id": customer.host_customer_id, "name": data.name}
    reference = f"custom:{ctx.event.webhook_id}"
    return result | _event_with_programs(
        ctx, customer, "custom", reference, name=data.name, properties=data.properties
    )


# -- invoices -------------------------------------------------------------------------------


def on_invoice_paid(ctx: Context, data: InvoiceData) -> dict[str, Any]:
    """``invoice.paid``: earn on the invoice once, then run what waited for it.

    The ``payments`` it names are counted like ``invoice.payment_recorded`` ones (once each,
    whichever event brings them first), so that a payment recorded after one of them was
    deleted is known to be money paid again.
    """
    customer = _invoice_customer(ctx, data)
    invoice, facts = _save_invoice(ctx, data.invoice, customer)
    result = {"invoice_id": invoice.host_invoice_id}
    was_paid = invoice.status == InvoiceStatus.PAID
    counted = [p for p in data.payments if _count_payment(ctx, invoice, p.id)]
    invoice.paid_total += sum((p.amount for p in counted), Decimal(0))
    result |= _earn_on_invoice(ctx, invoice, customer, facts)
    if was_paid and counted:
        result |= _pay_again(ctx, invoice, counted[-1].id)
    result |= _capture_redemption(ctx, facts)
    if released := release_waiting(ctx, f"invoice:{invoice.host_invoice_id}"):
        result["released"] = released
    return result


def on_payment(ctx: Context, data: InvoiceData) -> dict[str, Any]:
    """``invoice.payment_recorded``: count the payment once; earn when payments cover it."""
    assert data.payment is not None  # noqa: S101 - the schema requires it
    customer = _invoice_customer(ctx, data)
    invoice, facts = _save_invoice(ctx, data.invoice, customer)
    key = natural_key("payment", invoice.host_invoice_id, data.payment.id)
    result: dict[str, Any] = {"invoice_id": invoice.host_invoice_id, "points_earned": 0}
    if (duplicate := _counted(ctx, key)) is not None:
        result["already_counted_by"] = duplicate.event_id
        result["reason"] = "this payment was counted already"
    else:
        _count(ctx, key)
        invoice.paid_total += data.payment.amount
        if invoice.status == InvoiceStatus.PAID:
            result |= _pay_again(ctx, invoice, data.payment.id)
        elif invoice.status == InvoiceStatus.OPEN and invoice.paid_total >= invoice.total:
            result |= _earn_on_invoice(ctx, invoice, customer, facts)
            result |= _capture_redemption(ctx, facts)
        elif invoice.status == InvoiceStatus.CANCELLED:
            result |= _count_while_cancelled(ctx, invoice, customer, facts, data.payment)
        elif invoice.status == InvoiceStatus.OPEN:
            result |= _earn_on_payment(ctx, customer, facts, data.payment)
    result["paid_total"] = str(quantize(invoice.paid_total, invoice.currency))
    if released := release_waiting(ctx, f"invoice:{invoice.host_invoice_id}"):
        result["released"] = released
    return result


def on_refund(ctx: Context, data: RefundData) -> dict[str, Any]:
    """``invoice.refunded``: add the refund's value once and reverse up to the target."""
    invoice = _known_invoice(ctx, data.invoice_id)
    key = natural_key("refund", data.invoice_id, data.refund.id)
    result: dict[str, Any] = {"invoice_id": data.invoice_id, "points_reversed": 0}
    if (duplicate := _counted(ctx, key)) is not None:
        return result | {"already_counted_by": duplicate.event_id}
    # Valued before it is counted: a refund that waits for its lines must count later.
    value, counted, clipped = _refund_value(invoice, data.refund)
    _count(ctx, key)
    _record_line_refunds(invoice, counted)
    invoice.refunded_total += value
    result["refunded_total"] = str(quantize(invoice.refunded_total, invoice.currency))
    if clipped:
        result["lines_clipped"] = clipped
    programs = earning.refund_with_programs(
        ctx.session,
        merchant_id=ctx.merchant.id,
        invoice_id=data.invoice_id,
        refund=counted,
        hooks=ctx.hooks,
        now=ctx.now,
        lines_value=value if data.refund.items else None,
    )
    result |= _with_settled(ctx, invoice, programs)
    # What refund_reversed needs to take this refund out again exactly as it went in.
    result["refund_counted"] = {
        "amount": str(counted.amount),
        "items": [[line.line_id, str(line.qty)] for line in counted.items],
        "value": str(value),
        "by_line": bool(data.refund.items),
    }
    share = min(Decimal(1), invoice.refunded_total / invoice.total) if invoice.total else Decimal(1)
    returned = redemption.return_points_for_refund(
        ctx.session,
        merchant_id=ctx.merchant.id,
        invoice_id=invoice.host_invoice_id,
        share=share,
        now=ctx.now,
        actor=ACTOR,
    )
    if points := [r for r in returned if r.unit == POINTS]:
        result["points_returned"] = sum(r.points for r in points)
        # What the customer kept of them, that refund_reversed may take back.
        result["points_returned_kept"] = result["points_returned"] + sum(
            r.points_expired_again for r in points
        )
    if credit := [r for r in returned if r.unit != POINTS]:
        result["credit_returned"] = _credit_sums(credit, kept=False)
        result["credit_returned_kept"] = _credit_sums(credit, kept=True)
    if released := release_waiting(ctx, _refund_on(data.invoice_id, data.refund.id)):
        result["released"] = released
    return result


def on_refund_reversed(ctx: Context, data: RefundReversedData) -> dict[str, Any]:
    """``invoice.refund_reversed``: the host undid a refund; give back what it took.

    The refund comes out of the running totals exactly as it went in (its counted amount and
    lines, kept in its own event's result), and each program gives back the points the
    invoice keeps again, once. One that arrives before its refund waits for it; a refund
    counted before refunds could be reversed, by line, is refused (``422``). Points the
    refund returned from a redemption on the invoice are taken back (``points_taken_back``),
    unless the invoice is cancelled.
    """
    invoice = _known_invoice(ctx, data.invoice_id)
    result: dict[str, Any] = {
        "invoice_id": data.invoice_id,
        "refund_id": data.refund_id,
        "points_earned": 0,
    }
    key = natural_key("refund_reversed", data.invoice_id, data.refund_id)
    if (duplicate := _counted(ctx, key)) is not None:
        return result | {"already_counted_by": duplicate.event_id}
    original = _counted(ctx, natural_key("refund", data.invoice_id, data.refund_id))
    if original is None:
        raise Wait(
            _refund_on(data.invoice_id, data.refund_id),
            f"refund {data.refund_id} of invoice {data.invoice_id} is not known yet",
        )
    refund, value, by_line = _refund_as_counted(ctx, original.event_id, data.refund_id)
    _count(ctx, key)
    _record_line_refunds(invoice, refund, sign=-1)
    invoice.refunded_total -= value
    programs = earning.reverse_refund_with_programs(
        ctx.session,
        merchant_id=ctx.merchant.id,
        invoice_id=data.invoice_id,
        refund=refund,
        hooks=ctx.hooks,
        now=ctx.now,
        lines_value=value if by_line else None,
    )
    result["refunded_total"] = str(quantize(invoice.refunded_total, invoice.currency))
    result |= programs
    taken, credit_taken = _take_back_returned(ctx, invoice, original.event_id)
    if taken:
        result["points_taken_back"] = taken
    if credit_taken:
        result["credit_taken_back"] = credit_taken
    return result


def _credit_sums(returned: list[redemption.ReturnedPoints], *, kept: bool) -> dict[str, str]:
    """Store credit refunds gave back, per currency as money (``kept``: less what expired
    again at once)."""
    minor: dict[str, int] = {}
    for one in returned:
        given = one.points + (one.points_expired_again if kept else 0)
        minor[one.unit] = minor.get(one.unit, 0) + given
    return {unit: str(from_minor(units, unit)) for unit, units in sorted(minor.items())}


def _take_back_returned(
    ctx: Context, invoice: Invoice, event_id: int | None
) -> tuple[int, dict[str, str]]:
    """Take back the points and store credit a reversed refund returned from a redemption
    on the invoice (none while it is cancelled: the cancellation gave them all back)."""
    row = ctx.session.get(WebhookEvent, event_id) if event_id is not None else None
    counted = (row.result or {}) if row is not None else {}
    kept = int(counted.get("points_returned_kept", counted.get("points_returned", 0)))
    credit = {
        unit: to_minor(Decimal(amount), unit)
        for unit, amount in (counted.get("credit_returned_kept") or {}).items()
    }
    if (kept <= 0 and not any(v > 0 for v in credit.values())) or (
        invoice.status == InvoiceStatus.CANCELLED
    ):
        return 0, {}
    entries = redemption.take_back_for_reversed_refund(
        ctx.session,
        merchant_id=ctx.merchant.id,
        invoice_id=invoice.host_invoice_id,
        share=_refunded_share(invoice),
        limit=max(kept, 0),
        credit_limits=credit,
        now=ctx.now,
        actor=ACTOR,
    )
    return _taken(entries)


def _taken(entries: list[LedgerEntry]) -> tuple[int, dict[str, str]]:
    """Points, and store credit per currency as money, that take-back ``entries`` took."""
    credit: dict[str, int] = {}
    for entry in entries:
        if entry.unit != POINTS:
            credit[entry.unit] = credit.get(entry.unit, 0) - entry.points
    points = -sum(e.points for e in entries if e.unit == POINTS)
    return points, {unit: str(from_minor(minor, unit)) for unit, minor in sorted(credit.items())}


def _refunded_share(invoice: Invoice) -> Decimal:
    """The fraction of the invoice refunded so far (0 to 1)."""
    total, refunded = invoice.total, max(Decimal(0), invoice.refunded_total)
    return min(Decimal(1), refunded / total) if total else Decimal(refunded > 0)


def _refund_on(invoice_id: str, refund_id: str) -> str:
    """What a reversal waiting for its refund waits on (fits ``waiting_for``)."""
    key = natural_key("refund", invoice_id, refund_id)
    return key if len(key) <= 160 else f"refund:sha256:{hashlib.sha256(key.encode()).hexdigest()}"


def _refund_as_counted(
    ctx: Context, event_id: int | None, refund_id: str
) -> tuple[Refund, Decimal, bool]:
    """The refund as its event counted it: the refund, its money value, whether by line."""
    row = ctx.session.get(WebhookEvent, event_id) if event_id is not None else None
    counted = (row.result or {}).get("refund_counted") if row is not None else None
    if counted is not None:
        lines = tuple(RefundLine(line_id=i, qty=Decimal(q)) for i, q in counted["items"])
        refund = Refund(id=refund_id, amount=Decimal(counted["amount"]), items=lines)
        return refund, Decimal(counted["value"]), counted["by_line"]
    # Counted before refunds could be reversed: by amount, the event's own amount is exact.
    data = load_event(parse_json(row.body.encode()))[1] if row is not None else None
    if not isinstance(data, RefundData) or data.refund.items:
        raise ValidationError(
            f"refund {refund_id} was counted before refunds could be reversed and named "
            "lines; give its points back with an adjustment",
            field="data.refund_id",
        )
    return data.refund, data.refund.amount, False


def on_cancel(ctx: Context, data: CancelData) -> dict[str, Any]:
    """``invoice.cancelled``: reverse everything the invoice earned; it earns no more.

    Points held or spent on the invoice go back at once, even while the invoice itself is
    not known yet (a hold is taken at checkout, before any invoice event). The invoice is
    locked first, as its payment locks it before capturing its hold: the two take turns.
    """
    known = _lock_invoice(ctx, data.invoice_id)
    released = redemption.release_redemptions_for_invoice(
        ctx.session,
        merchant_id=ctx.merchant.id,
        invoice_id=data.invoice_id,
        now=ctx.now,
        actor=ACTOR,
    )
    restored = coupons.restore_coupons_for_invoice(
        ctx.session,
        merchant_id=ctx.merchant.id,
        invoice_id=data.invoice_id,
        now=ctx.now,
        actor=ACTOR,
    )
    invoice = known or _known_invoice(ctx, data.invoice_id)
    result: dict[str, Any] = {"invoice_id": data.invoice_id, "points_reversed": 0}
    if released:
        result["redemptions_released"] = [r.id for r in released]
    if restored:
        result["coupons_restored"] = [c.code for c in restored]
    if invoice.status == InvoiceStatus.CANCELLED:
        return result | {"already_cancelled": True}
    invoice.status = InvoiceStatus.CANCELLED
    invoice.cancelled_at = ctx.now
    programs = earning.cancel_with_programs(
        ctx.session,
        merchant_id=ctx.merchant.id,
        invoice_id=data.invoice_id,
        hooks=ctx.hooks,
        now=ctx.now,
    )
    return result | _with_settled(ctx, invoice, programs)


def _count_while_cancelled(
    ctx: Context,
    invoice: Invoice,
    customer: Customer,
    facts: InvoiceFacts,
    payment: Payment | None,
) -> dict[str, Any]:
    """A payment (``None``: the whole invoice) on a cancelled invoice earns nothing now.

    Paid in full, the invoice keeps when; its programs are evaluated while its lines are at
    hand, so that :func:`on_reinstate` earns on what was paid meanwhile.
    """
    if payment is None or invoice.paid_total >= invoice.total:
        invoice.paid_at = invoice.paid_at or ctx.now
    _earn_on_payment(ctx, customer, facts, payment, cancelled=True)
    return {"points_earned": 0, "reason": "the invoice is cancelled: it earns if reinstated"}


def _earn_on_payment(
    ctx: Context,
    customer: Customer,
    facts: InvoiceFacts,
    payment: Payment | None,
    *,
    cancelled: bool = False,
    paid_again: Decimal = Decimal(0),
) -> dict[str, Any]:
    """Earn on one payment of an open invoice (``None``: the whole invoice, paid)."""
    return earning.earn_with_programs(
        ctx.session,
        merchant_id=ctx.merchant.id,
        customer=customer,
        facts=facts,
        hooks=ctx.hooks,
        now=ctx.now,
        occurred_at=ctx.event.occurred_at,
        paid_in_full=payment is None,
        payment=payment,
        paid_again=paid_again,
        cancelled=cancelled,
        new_invoice=facts.id in ctx.new_invoices,
    )


def on_reinstate(ctx: Context, data: CancelData) -> dict[str, Any]:
    """``invoice.reinstated``: a cancelled invoice is live again and earns again.

    Each program gives back what the cancellation took and the invoice's payments and
    refunds still call for (:func:`~loyalty_plugin.services.earning.by_program.
    reinstate_invoice`); the invoice is paid again if it was, else open. An invoice that is
    not cancelled answers ``"not_cancelled": true`` and changes nothing, so a second copy,
    or one for an invoice never cancelled, neither doubles nor loses a point. Points spent
    on the invoice (a captured hold) that the cancellation gave back are taken back
    (``points_taken_back``); a hold the cancellation released is not held again.
    """
    invoice = _known_invoice(ctx, data.invoice_id)
    result: dict[str, Any] = {"invoice_id": data.invoice_id, "points_earned": 0}
    if invoice.status != InvoiceStatus.CANCELLED:
        return result | {"not_cancelled": True, "reason": "the invoice is not cancelled"}
    invoice.status = InvoiceStatus.OPEN if invoice.paid_at is None else InvoiceStatus.PAID
    invoice.cancelled_at = None
    programs = earning.reinstate_with_programs(
        ctx.session,
        merchant_id=ctx.merchant.id,
        invoice_id=data.invoice_id,
        hooks=ctx.hooks,
        now=ctx.now,
        paid=invoice.paid_total,
        paid_in_full=invoice.paid_at is not None,
    )
    result |= programs
    taken = redemption.take_back_on_reinstatement(
        ctx.session,
        merchant_id=ctx.merchant.id,
        invoice_id=invoice.host_invoice_id,
        share=_refunded_share(invoice),
        now=ctx.now,
        actor=ACTOR,
    )
    points, credit = _taken(taken)
    if points:
        result["points_taken_back"] = points
    if credit:
        result["credit_taken_back"] = credit
    return result


#: The handler of each event type.
HANDLERS: dict[str, Callable[[Context, Any], dict[str, Any]]] = {
    "customer.created": on_customer_saved,
    "customer.updated": on_customer_saved,
    "customer.birthday": on_birthday,
    "customer.merged": on_customer_merged,
    "invoice.paid": on_invoice_paid,
    "invoice.payment_recorded": on_payment,
    "invoice.refunded": on_refund,
    "invoice.refund_reversed": on_refund_reversed,
    "invoice.cancelled": on_cancel,
    "invoice.reinstated": on_reinstate,
    "event.custom": on_custom,
}


# -- internals ------------------------------------------------------------------------------


def _mark_waiting(ctx: Context, wait: Wait) -> None:
    row = ctx.row
    row.status = InboxStatus.WAITING
    row.waiting_for = wait.on
    age = ctx.now - row.received_at
    row.next_attempt_at = ctx.now + min(MAX_WAIT_RECHECK, max(ctx.recheck, age))
    row.result = {"waiting_for": wait.on, "reason": wait.reason}
    report_after = timedelta(
        hours=merchant_settings(ctx.session, ctx.merchant.id).waiting_report_hours
    )
    if age >= report_after:
        row.result = {
            "waiting_for": wait.on,
            "reason": overdue_reason(wait.on, wait.reason, age=age, limit=report_after),
            "overdue": True,
        }
        log.warning("host event %s: %s", row.id, row.result["reason"])


def overdue_reason(on: str, reason: str, *, age: timedelta, limit: timedelta) -> str:
    """Why an event waits, said louder once it has waited longer than the merchant's limit."""
    kind, _, host_id = on.partition(":")
    if kind == "customer":
        hint = f"send customer.created for {host_id}, or turn on create_unknown_customers"
    elif kind == "refund":
        hint = "send the invoice.refunded it reverses (invoice and refund id above)"
    else:
        hint = f"send invoice.paid or invoice.payment_recorded for {host_id}"
    hours = int(age.total_seconds() // 3600)
    limit_hours = int(limit.total_seconds() // 3600)
    return f"{reason}; waiting for {hours} hours (reported after {limit_hours}): {hint}"


def _counted(ctx: Context, key: str) -> EventKey | None:
    """The record of the delivery (or job) that already counted ``key``, if any."""
    return idempotency.counted_fact(ctx.session, merchant_id=ctx.merchant.id, key=key)


def _count(ctx: Context, key: str) -> None:
    idempotency.count_fact(ctx.session, merchant_id=ctx.merchant.id, key=key, event_id=ctx.row.id)


def _save_customer(ctx: Context, profile: CustomerProfile) -> first_sight.Sighting:
    sighting = first_sight.save_profile(
        ctx.session, merchant_id=ctx.merchant.id, profile=profile, now=ctx.now
    )
    if sighting is None:
        raise Wait(f"customer:{profile.id}", f"customer {profile.id} is not known")
    return sighting


def _register(ctx: Context, customer: Customer) -> dict[str, Any]:
    """The first time a customer is seen enrolled: the event and the registration bonus."""
    return first_sight.register(ctx.session, customer, ctx.caller())


def _known_customer(ctx: Context, host_id: str) -> Customer:
    """The named customer, created on first sight if the merchant allows; else wait."""
    sighting = first_sight.sight_customer(
        ctx.session, merchant_id=ctx.merchant.id, host_customer_id=host_id, caller=ctx.caller()
    )
    if sighting is None:
        raise Wait(f"customer:{host_id}", f"customer {host_id} is not known yet")
    ctx.sightings.append(sighting.note())
    return sighting.customer


def _named_customer(ctx: Context, host_id: str | None, card_number: str | None) -> Customer:
    """The customer an event names by the host's id, by a loyalty card, or by both."""
    if card_number is not None:
        host_id = _card_holder(ctx, card_number, host_id, field="card_number").host_customer_id
    assert host_id is not None  # noqa: S101 - the schema requires one of them
    return _known_customer(ctx, host_id)


def _naming(data: Any, host_id: str) -> Any:
    """``data`` with the customer a card named filled in where the host sent only the card,
    so that plugins read ``customer_id`` as always."""
    if isinstance(data, InvoiceData) and data.invoice.customer_id is None:
        return replace(data, invoice=replace(data.invoice, customer_id=host_id))
    if isinstance(data, BirthdayData | CustomData) and data.customer_id is None:
        return replace(data, customer_id=host_id)
    return data


def _card_holder(ctx: Context, number: str, host_id: str | None, *, field: str) -> Customer:
    """Who holds the card; an unknown, blocked or replaced card, or one held by another
    customer than ``host_id``, is the event's fault (422 on ``field``)."""
    try:
        holder = cards.find_customer_by_card(ctx.session, ctx.merchant.id, number, field=field)
    except NotFound as unknown:
        raise ValidationError(unknown.message, field=field) from None
    if host_id is not None and holder.host_customer_id != host_id:
        raise ValidationError(
            f"card {number} is customer {holder.host_customer_id}'s, not customer {host_id}'s",
            field=field,
        )
    ctx.card_holders.append(holder.host_customer_id)
    return holder


def _invoice_customer(ctx: Context, data: InvoiceData) -> Customer:
    if data.card_number is not None:
        named = data.customer.id if data.customer else data.invoice.customer_id
        holder = _card_holder(ctx, data.card_number, named, field="invoice.card_number")
        if data.customer is None:
            return _known_customer(ctx, holder.host_customer_id)
    if data.customer is None:
        assert data.invoice.customer_id is not None  # noqa: S101 - the schema requires one
        return _known_customer(ctx, data.invoice.customer_id)
    sighting = _save_customer(ctx, data.customer)
    registration = _register(ctx, sighting.customer)
    if sighting.created:
        ctx.sightings.append(replace(sighting, registration=registration).note())
    release_waiting(ctx, f"customer:{sighting.customer.host_customer_id}")
    return sighting.customer


def _lock_invoice(ctx: Context, host_invoice_id: str) -> Invoice | None:
    return ctx.session.scalars(
        select(Invoice)
        .where(Invoice.merchant_id == ctx.merchant.id, Invoice.host_invoice_id == host_invoice_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()


def _known_invoice(ctx: Context, host_invoice_id: str) -> Invoice:
    invoice = _lock_invoice(ctx, host_invoice_id)
    if invoice is None:
        raise Wait(f"invoice:{host_invoice_id}", f"invoice {host_invoice_id} is not known yet")
    return invoice


def _save_invoice(
    ctx: Context, facts: InvoiceFacts, customer: Customer
) -> tuple[Invoice, InvoiceFacts]:
    """The locked invoice row, created or refreshed while still open, and the valued facts."""
    valued = earning.value_invoice(facts, merchant_currency=ctx.merchant.currency)
    invoice = _lock_invoice(ctx, facts.id)
    if invoice is None:
        invoice = Invoice(
            merchant_id=ctx.merchant.id,
            host_invoice_id=facts.id,
            status=InvoiceStatus.OPEN,
            paid_total=Decimal(0),
            refunded_total=Decimal(0),
            points_earned=0,
            created_at=ctx.now,
        )
        ctx.session.add(invoice)
        ctx.new_invoices.add(facts.id)
    if invoice.status == InvoiceStatus.OPEN:
        invoice.customer_id = customer.id
        invoice.number = facts.number
        invoice.currency = facts.currency
        invoice.total = facts.total
        invoice.merchant_total = valued.merchant_total or Decimal(0)
        invoice.items = _with_refunded(
            [_line_json(item) for item in facts.items], invoice.items or []
        )
        invoice.updated_at = ctx.now
    elif not invoice.items and facts.items:
        # Paid by payments that carried no lines: the lines still say what a refund names.
        invoice.items = [_line_json(item) for item in facts.items]
        invoice.updated_at = ctx.now
    # Not flushed here: the next query flushes the row with its final status, and a
    # concurrent first insert of the same invoice still fails before any ledger write.
    return invoice, valued


def _refund_value(invoice: Invoice, refund: Refund) -> tuple[Decimal, Refund, dict[str, str]]:
    """The money ``refund`` gives back, the refund as counted, and the quantities clipped.

    By line, each line counts at most what earlier refunds left of it
    (:func:`~loyalty_plugin.domain.refunds.cap_line_refund`). Waits while the refund names
    lines the invoice lacks yet: ``invoice.payment_recorded`` makes an invoice without its
    lines, and until ``invoice.paid`` brings them (while the invoice is open, or as long as
    it has none), an unknown line means "not yet", not "wrong".
    """
    if not refund.items:
        return refund.amount, refund, {}
    missing = _unknown_lines(invoice, refund)
    if missing and (invoice.status == InvoiceStatus.OPEN or not invoice.items):
        raise Wait(
            f"invoice:{invoice.host_invoice_id}",
            f"invoice {invoice.host_invoice_id} has no line {missing[0]!r} yet",
        )
    capped = cap_line_refund(
        _facts_of(invoice).items,
        [(line.line_id, line.qty) for line in refund.items],
        already={line["id"]: Decimal(line.get("refunded", "0")) for line in invoice.items},
        field="data.refund.items",
    )
    lines = tuple(RefundLine(line_id=i, qty=q) for i, q in capped.counted.items() if q)
    # Nothing left of the lines named: a refund of nothing, not one by amount.
    counted = (
        replace(refund, items=lines) if lines else replace(refund, amount=Decimal(0), items=())
    )
    return capped.value, counted, {i: str(q) for i, q in capped.clipped.items()}


def _record_line_refunds(invoice: Invoice, refund: Refund, *, sign: int = 1) -> None:
    """Add the refund's counted quantities to the invoice's lines (``refunded``); with
    ``sign=-1``, take a reversed refund's out again."""
    if not refund.items:
        return
    counted: dict[str, Decimal] = {}
    for line in refund.items:
        counted[line.line_id] = counted.get(line.line_id, Decimal(0)) + sign * line.qty
    invoice.items = [
        line | {"refunded": str(Decimal(line.get("refunded", "0")) + counted[line["id"]])}
        if line["id"] in counted
        else line
        for line in invoice.items
    ]


def _unknown_lines(invoice: Invoice, refund: Refund) -> list[str]:
    known = {line["id"] for line in invoice.items or ()}
    return [line.line_id for line in refund.items if line.line_id not in known]


def _count_payment(ctx: Context, invoice: Invoice, payment_id: str) -> bool:
    """Count a payment of the invoice once; False if an earlier event counted it."""
    key = natural_key("payment", invoice.host_invoice_id, payment_id)
    if _counted(ctx, key) is not None:
        return False
    _count(ctx, key)
    return True


def _paid_again(invoice: Invoice) -> Decimal:
    """What the invoice's payments add up to beyond its total (zero while they do not)."""
    return max(Decimal(0), invoice.paid_total - invoice.total)


def _pay_again(ctx: Context, invoice: Invoice, payment_id: str) -> dict[str, Any]:
    """A payment counted on a paid invoice: give back what money paid again pays back."""
    if not _paid_again(invoice):
        return {"points_earned": 0, "reason": "the invoice earned already"}
    return earning.pay_again_with_programs(
        ctx.session,
        merchant_id=ctx.merchant.id,
        invoice_id=invoice.host_invoice_id,
        paid_again=_paid_again(invoice),
        payment_id=payment_id,
        hooks=ctx.hooks,
        now=ctx.now,
    )


def _earn_on_invoice(
    ctx: Context, invoice: Invoice, customer: Customer, facts: InvoiceFacts
) -> dict[str, Any]:
    if invoice.status == InvoiceStatus.PAID:
        return {"points_earned": 0, "already_counted": True, "reason": "the invoice earned already"}
    if invoice.status == InvoiceStatus.CANCELLED:
        return _count_while_cancelled(ctx, invoice, customer, facts, None)
    invoice.status = InvoiceStatus.PAID
    invoice.paid_at = ctx.now
    invoice.paid_occurred_at = ctx.event.occurred_at
    return _earn_on_payment(ctx, customer, facts, None, paid_again=_paid_again(invoice))


def _capture_redemption(ctx: Context, facts: InvoiceFacts) -> dict[str, Any]:
    """Make final the hold the host applied to the invoice: the one it names, or else the
    invoice's own hold (a paid invoice always consumes the points held for it).

    A hold that cannot be captured (unknown, released, expired) does not stop the invoice
    from earning: the answer says why, and the host can settle it through the API.
    """
    if facts.redemption_id is None:
        held = redemption.held_redemption_for_invoice(
            ctx.session, merchant_id=ctx.merchant.id, invoice_id=facts.id
        )
        if held is None:
            return {}
        facts = replace(facts, redemption_id=str(held.id))
    if not facts.redemption_id.isdigit():
        return {"redemption": {"id": facts.redemption_id, "error": "not a redemption id"}}
    try:
        captured = redemption.capture_redemption(
            ctx.session,
            merchant_id=ctx.merchant.id,
            redemption_id=int(facts.redemption_id),
            invoice_id=facts.id,
            now=ctx.now,
            actor=ACTOR,
        )
    except LoyaltyError as error:
        return {"redemption": {"id": facts.redemption_id, "error": error.message}}
    return {"redemption": {"id": captured.id, "status": str(captured.status)}}


def _event_with_programs(
    ctx: Context, customer: Customer, trigger: str, reference: str, **more: Any
) -> dict[str, Any]:
    """A registration, birthday or custom event earned under the merchant's programs."""
    return earning.event_with_programs(
        ctx.session,
        merchant_id=ctx.merchant.id,
        customer=customer,
        trigger=trigger,
        reference=reference,
        hooks=ctx.hooks,
        now=ctx.now,
        occurred_at=ctx.event.occurred_at,
        **more,
    )


def _with_settled(ctx: Context, invoice: Invoice, programs: dict[str, Any]) -> dict[str, Any]:
    """``programs``' answer plus what :func:`_settle` reversed; ``points_owed`` and
    ``points_forgiven`` if any."""
    reversed_, owed, forgiven = _settle(ctx, invoice)
    owed += programs.get("points_owed", 0)
    forgiven += programs.get("points_forgiven", 0)
    result = programs | {"points_reversed": reversed_ + programs["points_reversed"]}
    result |= {"points_owed": owed} if owed else {}
    return result | ({"points_forgiven": forgiven} if forgiven else {})


def _settle(ctx: Context, invoice: Invoice) -> tuple[int, int, int]:
    """Reverse what refunds and a cancellation call for on an invoice the retired interim
    rule earned on (before the default program, ``earn_entry_id`` set); nothing for any
    other: programs reverse their own invoices through their running totals.

    Returns the points reversed, of them those owed (points the customer still has on hold
    or in unused coupons are recorded as debt, ``ledger.reverse(owe_set_aside)``), and the
    points called for but spent for good, which are forgiven (a later refund of the
    invoice tries again).
    """
    if invoice.earn_entry_id is None:
        return 0, 0, 0
    if invoice.status == InvoiceStatus.CANCELLED:
        target = invoice.points_earned
    else:
        target = reversal_target(
            earned=invoice.points_earned, refunded=invoice.refunded_total, total=invoice.total
        )
    if target == 0:
        return 0, 0, 0
    missing = target - _reversed_so_far(ctx.session, invoice.earn_entry_id)
    if missing <= 0:
        return 0, 0, 0
    reason = "invoice cancelled" if invoice.status == InvoiceStatus.CANCELLED else "refund"
    try:
        entry = ledger.reverse(
            ctx.session,
            entry_id=invoice.earn_entry_id,
            points=missing,
            now=ctx.now,
            actor=ACTOR,
            reason=reason,
            take_shortfall_from_other_lots=True,
            owe_set_aside=True,
        )
    except InvalidOperation:
        log.info("invoice %s: the points to reverse were spent already", invoice.id)
        return 0, 0, missing
    return -entry.points, (entry.details or {}).get("debt_change", 0), missing + entry.points


def _reversed_so_far(session: Session, entry_id: int) -> int:
    total = session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
            LedgerEntry.reverses_entry_id == entry_id
        )
    )
    return -int(total or 0)


def _line_json(item: LineItem) -> dict[str, Any]:
    # The name lets the customer's points history say "Shoes x2" for the line's points.
    named = {"name": item.name} if item.name else {}
    return {"id": item.id, "qty": str(item.qty), "total": str(item.total)} | named


def _with_refunded(
    lines: list[dict[str, Any]], before: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """``lines`` keeping what refunds already counted of each (by line id)."""
    refunded = {line["id"]: line["refunded"] for line in before if "refunded" in line}
    return [
        line | {"refunded": refunded[line["id"]]} if line["id"] in refunded else line
        for line in lines
    ]


def _facts_of(invoice: Invoice) -> InvoiceFacts:
    """The stored invoice as the earning rules read it."""
    items = tuple(
        LineItem(id=line["id"], qty=Decimal(line["qty"]), total=Decimal(line["total"]))
        for line in invoice.items
    )
    return InvoiceFacts(
        id=invoice.host_invoice_id,
        number=invoice.number,
        currency=invoice.currency,
        total=invoice.total,
        merchant_total=invoice.merchant_total,
        items=items,
    )
