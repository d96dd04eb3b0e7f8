"""Earning and taking back points by program: invoices, payments, refunds, events.

The first time an invoice can earn, every program in force is evaluated once and each
program that counts gets an :class:`~loyalty_plugin.models.InvoiceEarning` row holding its
awards exactly as evaluated. Payments, refunds and a cancellation then only move that row's
running totals; :func:`_reconcile` compares what the totals call for with what the ledger
already holds and writes the difference. So a later change to a program never touches an
invoice already earned on, and refunds arriving in any order give the same result.

Every function locks the customer's account first (through the ledger), flushes, and
never commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import InvalidOperation, ValidationError
from loyalty_plugin.domain.expiry import expiry_date
from loyalty_plugin.domain.ledger import POINTS
from loyalty_plugin.domain.programs import (
    EarnOn,
    ProgramDefinition,
    ProgramEarning,
    ReversalPolicy,
    breakdown,
    combine,
    evaluate_event,
    evaluate_invoice,
    explain,
    explained,
    why_no_event_points,
    why_no_invoice_points,
)
from loyalty_plugin.domain.rules import (
    Award,
    Conversion,
    CustomerView,
    EventContext,
    InvoiceState,
    InvoiceView,
    Rule,
    targets,
)
from loyalty_plugin.domain.rules.conditions import ConditionCheck, MerchantFacts
from loyalty_plugin.models import (
    Customer,
    InvoiceEarning,
    LedgerEntry,
    Merchant,
    Program,
    ProgramVersion,
    RuleClaim,
)
from loyalty_plugin.services.earning import credit
from loyalty_plugin.services.earning.bonus_campaigns import add_bonus_campaigns
from loyalty_plugin.services.earning.invoice_entries import earn_entries, lot_remaining
from loyalty_plugin.services.earning.outcome import EarningWork, Outcome
from loyalty_plugin.services.earning.rule_engine import (
    RateBook,
    customer_view,
    definition_of,
    evaluate_programs,
    last_purchase_at,
    merchant_facts,
    needs_last_purchase,
    programs_in_force,
)
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.accounts import open_account
from loyalty_plugin.services.ledger.entries import Money, Reference
from loyalty_plugin.services.ledger.expiry import expiry_for_new_points
from loyalty_plugin.services.levels import memberships as levels

ZERO = Decimal(0)


@dataclass(frozen=True, kw_only=True)
class PaymentSeen:
    """A payment recorded on an invoice, in the invoice's currency."""

    id: str
    amount: Decimal


# -- invoices -------------------------------------------------------------------------------


def earn_on_invoice(
    session: Session,
    *,
    merchant_id: str,
    customer: Customer,
    invoice: InvoiceView,
    now: datetime,
    actor: str,
    paid_in_full: bool,
    payment: PaymentSeen | None = None,
    occurred_at: datetime | None = None,
    paid_again: Decimal = ZERO,
    extra_kinds: Iterable[type[Rule]] = (),
    cancelled: bool = False,
    new_invoice: bool = False,
) -> Outcome:
    """Earn on a paid invoice, or on one payment for programs that earn on each payment.

    The programs in force at ``occurred_at`` (default ``now``) are evaluated the first time
    only; later calls reuse that evaluation. Calling again with the same facts earns nothing.
    ``paid_again``: money the invoice's payments add up to beyond its total (see
    :func:`pay_again`). ``cancelled``: the invoice is cancelled, so nothing is earned; it
    is only evaluated (once, while its lines are at hand), and :func:`reinstate_invoice`
    earns on what was paid meanwhile. ``new_invoice``: the invoice's row was created in
    this transaction, so no earning row nor earn entry can exist for it (rows are made
    only for a known invoice, and invoices are never deleted): neither is looked up. The
    unique keys of both still stand guard.
    """
    account = ledger.lock_customer_account(
        session, merchant_id=merchant_id, customer_id=customer.id
    )
    if account is None:
        account = open_account(session, merchant_id=merchant_id, customer_id=customer.id)
        account = ledger.lock_account(session, account.id)
    pairs: list[tuple[InvoiceEarning, ProgramEarning | None]]
    pairs = [] if new_invoice else [(r, None) for r in _rows(session, merchant_id, invoice.id)]
    work = EarningWork(session, now, actor, Outcome(), new_invoice=new_invoice)
    if cancelled:
        if not pairs:
            at = occurred_at or now
            pairs, _why = _evaluate(session, account.id, customer, invoice, at, now, extra_kinds)
            for row, _earning in pairs:
                row.cancelled_at = now
        work.outcome.reason = "the invoice is cancelled: what is paid counts if it is reinstated"
        return work.outcome
    if not pairs:
        at = occurred_at or now
        pairs, work.outcome.reason = _evaluate(
            session, account.id, customer, invoice, at, now, extra_kinds
        )
    elif paid_in_full:
        work.outcome.reason = "the invoice earned already"
    if pairs and not paid_in_full:
        work.outcome.reason = "points are earned once the invoice is paid"
    for row, fresh in pairs:
        if row.cancelled_at is not None:
            continue
        earning = fresh or _restore(session, row, extra_kinds)
        work.outcome.points_payments_counted |= earning.program.earning.points_payments_earn
        paid_before = row.paid
        if paid_in_full:
            row.paid = max(row.paid, row.total + paid_again)
        elif _counts_payment(row, earning, payment):
            row.paid = min(row.total, row.paid + payment.amount)  # type: ignore[union-attr]
        trigger = {"type": "invoice", "id": invoice.id}
        if payment is not None:
            trigger["payment"] = payment.id
        _reconcile(work, row, earning, paid_before=paid_before, trigger=trigger)
    return work.outcome


def refund_invoice(
    session: Session,
    *,
    merchant_id: str,
    invoice_id: str,
    refund_id: str,
    amount: Decimal,
    lines: Mapping[str, Decimal] | None = None,
    lines_value: Decimal | None = None,
    now: datetime,
    actor: str,
    extra_kinds: Iterable[type[Rule]] = (),
) -> Outcome:
    """Take back what a refund calls for: by line when ``lines`` are named, else by amount.

    ``amount`` is the money given back, in the invoice's currency. A refund id is counted
    once per invoice. ``lines_value`` is what the named lines are worth on the host's
    invoice: an earning evaluated before the invoice's lines were known (from a payment)
    takes that much back by amount.
    """
    work = EarningWork(session, now, actor, Outcome())
    for row in _locked_rows(session, merchant_id, invoice_id):
        # Counted while cancelled too: a reinstatement gives back only what is left.
        if not _first_time(row, f"refund:{refund_id}"):
            continue
        earning = _restore(session, row, extra_kinds)
        by_amount = lines_value is not None and any(i not in earning.line_qty for i in lines or ())
        if lines and by_amount:
            amount = lines_value  # type: ignore[assignment]
        row.refunded += amount
        if lines and not by_amount:
            _add_refunded_lines(row, earning, lines)
        else:
            row.refunded_unassigned += amount
        trigger = {"type": "refund", "id": refund_id, "invoice": invoice_id}
        _reconcile(work, row, earning, paid_before=row.paid, trigger=trigger)
    return work.outcome


def reverse_refund(
    session: Session,
    *,
    merchant_id: str,
    invoice_id: str,
    refund_id: str,
    amount: Decimal,
    lines: Mapping[str, Decimal] | None = None,
    lines_value: Decimal | None = None,
    now: datetime,
    actor: str,
    extra_kinds: Iterable[type[Rule]] = (),
) -> Outcome:
    """The host undid refund ``refund_id``: take it out of each program's running totals,
    exactly as :func:`refund_invoice` put it in (the same arguments), and give back what
    the invoice keeps again, as new earn entries. Once per refund and program; a program
    that never counted the refund is left alone. A cancelled invoice gives nothing back
    now: its reinstatement will.
    """
    work = EarningWork(session, now, actor, Outcome())
    for row in _locked_rows(session, merchant_id, invoice_id):
        if f"refund:{refund_id}" not in row.counted:
            continue
        if not _first_time(row, f"refund_reversed:{refund_id}"):
            continue
        earning = _restore(session, row, extra_kinds)
        by_amount = lines_value is not None and any(i not in earning.line_qty for i in lines or ())
        value = lines_value if lines and by_amount else amount
        row.refunded -= value  # type: ignore[operator]
        if lines and not by_amount:
            refunded = dict(row.refunded_lines)
            for line_id, qty in lines.items():
                refunded[line_id] = str(Decimal(refunded.get(line_id, "0")) - qty)
            row.refunded_lines = refunded
        else:
            row.refunded_unassigned -= value  # type: ignore[operator]
        trigger = {"type": "refund_reversed", "id": refund_id, "invoice": invoice_id}
        _reconcile(work, row, earning, paid_before=row.paid, trigger=trigger)
    return work.outcome


def cancel_invoice(
    session: Session,
    *,
    merchant_id: str,
    invoice_id: str,
    now: datetime,
    actor: str,
    extra_kinds: Iterable[type[Rule]] = (),
) -> Outcome:
    """Take back everything the invoice earned, under every program; it earns no more."""
    work = EarningWork(session, now, actor, Outcome())
    for row in _locked_rows(session, merchant_id, invoice_id):
        if row.cancelled_at is not None:
            continue
        row.cancelled_at = now
        earning = _restore(session, row, extra_kinds)
        trigger = {"type": "cancellation", "invoice": invoice_id}
        _reconcile(work, row, earning, paid_before=row.paid, trigger=trigger)
    return work.outcome


def reinstate_invoice(
    session: Session,
    *,
    merchant_id: str,
    invoice_id: str,
    now: datetime,
    actor: str,
    extra_kinds: Iterable[type[Rule]] = (),
    paid: Decimal | None = None,
    paid_in_full: bool = False,
) -> Outcome:
    """A cancelled invoice is live again: each program gives back what it reversed beyond
    what the invoice's refunds call for, as a new earn entry (a reversal is never undone).

    The row's ``reversed`` drops by the points given back, so later refunds and a second
    cancellation take them from that entry. A row not cancelled is left alone. ``paid``
    (the invoice's payments so far) and ``paid_in_full`` count what was paid while it was
    cancelled: the invoice then earns on it as if paid now.
    """
    work = EarningWork(session, now, actor, Outcome())
    for row in _locked_rows(session, merchant_id, invoice_id):
        if row.cancelled_at is None:
            continue
        row.cancelled_at = None
        earning = _restore(session, row, extra_kinds)
        paid_before = row.paid
        row.paid = _paid_meanwhile(row, earning, paid, paid_in_full=paid_in_full)
        settings = earning.program.earning
        wanted = targets(
            earning.awards,
            _state(row, earning, paid=row.paid),
            rounding=settings.rounding,
            scope=settings.rounding_scope,
            multiplier=earning.multiplier,
        )
        given = max(0, row.reversed - wanted.reversed)
        trigger = {"type": "reinstatement", "invoice": invoice_id}
        if given:
            _credit_again(work, row, earning, given, trigger=trigger)
            row.reversed -= given
        work.outcome.record(earning.program, earned=given)
        _reconcile(work, row, earning, paid_before=paid_before, trigger=trigger)
    return work.outcome


def _paid_meanwhile(
    row: InvoiceEarning, earning: ProgramEarning, paid: Decimal | None, *, paid_in_full: bool
) -> Decimal:
    """The money a reinstated row counts, payments recorded while it was cancelled included."""
    if paid_in_full:
        return max(row.paid, row.total)
    if paid is not None and earning.program.earn_on is EarnOn.EACH_PAYMENT:
        return max(row.paid, min(row.total, paid))
    return row.paid


def pay_again(
    session: Session,
    *,
    merchant_id: str,
    invoice_id: str,
    paid_again: Decimal,
    payment_id: str | None,
    now: datetime,
    actor: str,
    extra_kinds: Iterable[type[Rule]] = (),
) -> Outcome:
    """A paid invoice's payments now add up to ``paid_again`` beyond its total: a payment
    deleted (sent as a refund by amount) was recorded again. Each program gives back what
    its refunds by amount took beyond what the money still refunded calls for, as new earn
    entries; rows not paid in full, or cancelled, are left alone.

    ``paid_again`` is a running total, so calling again with the same amount, or a smaller
    one (a copy arriving late), gives nothing.
    """
    work = EarningWork(session, now, actor, Outcome())
    for row in _locked_rows(session, merchant_id, invoice_id):
        if row.cancelled_at is not None or row.paid < row.total:
            continue
        paid = row.total + paid_again
        if paid <= row.paid:
            continue
        before, row.paid = row.paid, paid
        earning = _restore(session, row, extra_kinds)
        trigger = {"type": "paid_again", "invoice": invoice_id, "payment": payment_id}
        _reconcile(work, row, earning, paid_before=before, trigger=trigger)
    if not work.outcome.points_earned:
        work.outcome.reason = "no refund by amount to pay back"
    return work.outcome


def _credit_again(
    work: EarningWork,
    row: InvoiceEarning,
    earning: ProgramEarning,
    points: int,
    *,
    trigger: dict[str, Any],
    why: str = "reinstated",
) -> None:
    """One earn entry giving back ``points`` a reversal took; available at once.

    ``why``: ``reinstated`` (a cancellation undone), ``paid_again`` (money paid again after
    a refund) or ``refund_reversed`` (a refund undone). Keyed by the row's count of such
    entries, so each writes one entry.
    """
    program = earning.program
    merchant = work.session.get(Merchant, row.merchant_id)
    assert merchant is not None  # noqa: S101 - foreign key
    times = 1 + sum(1 for key in row.counted if key.startswith(f"{why}:"))
    row.counted = [*row.counted, f"{why}:{times}"]
    key = f"invoice:{row.invoice_id}:program:{row.program_id}:{why}:{times}"
    entry = ledger.earn(
        work.session,
        account_id=row.account_id,
        points=points,
        now=work.now,
        actor=work.actor,
        expires_at=_expires_at(work.session, program, merchant, work.now),
        money=Money(min(row.paid, row.total) or row.total, row.currency),
        reference=Reference("invoice", row.invoice_id),
        reason=f"invoice {row.invoice_id} {_AGAIN[why]} ({program.name}, "
        f"version {program.version})",
        details={"program": program.label(), "trigger": trigger},
        idempotency_key=key[:255],
        level=levels.level_of_new_points(work.session, account_id=row.account_id, now=work.now),
    )
    work.outcome.entry_ids.append(entry.id)


#: How a give-back entry's reason says why.
_AGAIN = {
    "reinstated": "reinstated",
    "paid_again": "paid again",
    "refund_reversed": "refund reversed",
}


# -- registration, birthday, custom events --------------------------------------------------


def earn_on_event(
    session: Session,
    *,
    merchant_id: str,
    customer: Customer,
    trigger: str,
    now: datetime,
    actor: str,
    reference: str,
    name: str | None = None,
    properties: Mapping[str, Any] | None = None,
    day: date | None = None,
    occurred_at: datetime | None = None,
    extra_kinds: Iterable[type[Rule]] = (),
) -> Outcome:
    """Earn on a registration, a birthday or a custom event, within each rule's limit.

    ``day`` decides the limit's period (default: the event's date in the merchant's time
    zone). ``reference`` names the occurrence (a birthday key, a delivery id).
    """
    at = occurred_at or now
    event = EventContext(
        trigger=trigger,
        customer=customer_view(session, customer, now=now),
        name=name,
        properties=dict(properties or {}),
        at=at,
    )
    programs = programs_in_force(session, merchant_id=merchant_id, at=at, extra_kinds=extra_kinds)
    merchant = session.get(Merchant, merchant_id)
    assert merchant is not None  # noqa: S101 - the customer belongs to it
    event = replace(event, merchant=merchant_facts(session, merchant, programs))
    earnings = [
        e for p in programs if (e := evaluate_event(p, event=event)) and (e.awards or e.credit)
    ]
    work = EarningWork(session, now, actor, Outcome())
    if not earnings:
        work.outcome.reason = _no_event_points(programs, event, at)
        return work.outcome
    account = open_account(session, merchant_id=merchant_id, customer_id=customer.id)
    account = ledger.lock_account(session, account.id)
    day = day or at.astimezone(ZoneInfo(merchant.timezone)).date()
    slots = {e.program.key: _slots(session, e, customer, day) for e in earnings}
    usable = [
        e.without_rules(rule for rule, slot in slots[e.program.key].items() if slot.full)
        for e in earnings
    ]
    counted = combine(usable)
    if not counted:
        full = {rule for slot in slots.values() for rule, used in slot.items() if used.full}
        work.outcome.reason = _no_event_points(programs, event, at, full_rules=full)
    for earning in counted:
        occurrence = {"type": trigger, "name": name, "id": reference}
        entry = None
        if earning.points > 0:
            entry = ledger.earn(
                session,
                account_id=account.id,
                points=earning.points,
                now=now,
                actor=actor,
                expires_at=_expires_at(session, earning.program, merchant, now),
                reference=Reference(trigger, reference),
                reason=f"{name or trigger} ({earning.program.name})",
                details=breakdown(earning, earning.settlement) | {"trigger": occurrence},
                idempotency_key=f"{trigger}:{reference}:program:{earning.program.program_id}"[:255],
                level=levels.level_of_new_points(session, account_id=account.id, now=now),
            )
            work.outcome.entry_ids.append(entry.id)
            work.outcome.record(earning.program, earned=earning.points)
        given = credit.earn_on_event(work, earning, customer, trigger=occurrence)
        if entry or given:
            _claim(work, earning, customer, slots[earning.program.key], entry or given)
    return work.outcome


def _no_event_points(
    programs: list[ProgramDefinition],
    event: EventContext,
    at: datetime,
    *,
    full_rules: Iterable[str] = (),
) -> str:
    if not programs:
        return _none_in_force(at)
    full = set(full_rules)
    return explain({p.key: why_no_event_points(p, event=event, full_rules=full) for p in programs})


def _none_in_force(at: datetime) -> str:
    return f"no program in force on {at.date().isoformat()}"


@dataclass(frozen=True)
class _Slot:
    """A limited rule's use by one customer in the current period."""

    period: str
    used: int
    limit: int

    @property
    def full(self) -> bool:
        return self.used >= self.limit


def _slots(
    session: Session, earning: ProgramEarning, customer: Customer, day: date
) -> dict[str, _Slot]:
    """How much of each limited rule that gave awards the customer used in ``day``'s period."""
    slots = {}
    for rule in earning.program.rules:
        if rule.limit is None or not any(
            a.rule == rule.id for a in (*earning.awards, *earning.credit)
        ):
            continue
        period = rule.limit.period.key(day)
        used = session.scalar(
            select(func.count(RuleClaim.id)).where(
                RuleClaim.merchant_id == customer.merchant_id,
                RuleClaim.program_id == earning.program.program_id,
                RuleClaim.rule_id == rule.id,
                RuleClaim.customer_id == customer.id,
                RuleClaim.period == period,
            )
        )
        slots[rule.id] = _Slot(period, int(used or 0), rule.limit.count)
    return slots


def _claim(
    work: EarningWork,
    earning: ProgramEarning,
    customer: Customer,
    slots: dict[str, _Slot],
    entry: LedgerEntry,
) -> None:
    """Take the next slot of each limited rule that gave points (unique: race-safe)."""
    for rule_id in {a.rule for a in (*earning.awards, *earning.credit)} & slots.keys():
        slot = slots[rule_id]
        work.session.add(
            RuleClaim(
                merchant_id=customer.merchant_id,
                program_id=earning.program.program_id,
                rule_id=rule_id,
                customer_id=customer.id,
                period=slot.period,
                slot=slot.used + 1,
                entry_id=entry.id,
                created_at=work.now,
            )
        )
    work.session.flush()


# -- internals ------------------------------------------------------------------------------


def _rows(session: Session, merchant_id: str, invoice_id: str) -> list[InvoiceEarning]:
    return list(
        session.scalars(
            select(InvoiceEarning)
            .where(
                InvoiceEarning.merchant_id == merchant_id, InvoiceEarning.invoice_id == invoice_id
            )
            .order_by(InvoiceEarning.id)
            .execution_options(populate_existing=True)
        )
    )


def _locked_rows(session: Session, merchant_id: str, invoice_id: str) -> list[InvoiceEarning]:
    """The invoice's rows, read again after locking the account they belong to."""
    rows = _rows(session, merchant_id, invoice_id)
    if not rows:
        return []
    ledger.lock_account(session, rows[0].account_id)
    return _rows(session, merchant_id, invoice_id)


def _evaluate(
    session: Session,
    account_id: int,
    customer: Customer,
    invoice: InvoiceView,
    at: datetime,
    now: datetime,
    extra_kinds: Iterable[type[Rule]],
) -> tuple[list[tuple[InvoiceEarning, ProgramEarning | None]], str | None]:
    """Evaluate the programs in force once and keep a row per program that counts; when
    none counts, why."""
    merchant = session.get(Merchant, customer.merchant_id)
    assert merchant is not None  # noqa: S101 - the customer belongs to it
    programs = programs_in_force(session, merchant_id=merchant.id, at=at, extra_kinds=extra_kinds)
    if not programs:
        return [], _none_in_force(at)
    view = customer_view(session, customer, account_id=account_id, invoice_id=invoice.id, now=now)
    if needs_last_purchase(programs):
        last = last_purchase_at(session, customer, invoice_id=invoice.id, before=at)
        view = replace(view, last_purchase_at=last)
    invoice = replace(invoice, occurred_at=at)
    rates = RateBook(session, merchant, at)
    facts = merchant_facts(session, merchant, programs)
    winners = evaluate_programs(
        programs, invoice=invoice, customer=view, rates=rates, merchant=facts
    )
    if not winners:
        return [], _no_invoice_points(programs, invoice, view, rates, facts)
    winners = add_bonus_campaigns(
        session, merchant=merchant, account_id=account_id, invoice=invoice, customer=view,
        facts=facts, earnings=winners, at=at, now=now,
        last_purchase=lambda: last_purchase_at(session, customer, invoice_id=invoice.id, before=at),
    )  # fmt: skip
    taken = credit.wallet(session, merchant.id) if any(e.credit for e in winners) else ()
    pairs = [
        (_new_row(merchant.id, account_id, invoice, e, now,
                  credit=credit.credit_unit(e, invoice, taken)), e)
        for e in winners
    ]  # fmt: skip
    # Not flushed here: the next flush (the ledger's) inserts the rows with what the
    # earning set on them, one INSERT each instead of an INSERT and two UPDATEs.
    session.add_all(row for row, _ in pairs)
    return pairs, None


def _no_invoice_points(
    programs: list[ProgramDefinition],
    invoice: InvoiceView,
    view: CustomerView,
    rates: RateBook,
    facts: MerchantFacts,
) -> str:
    """Each program's reason for giving the invoice nothing, as one sentence."""
    reasons = {}
    for program in programs:
        conversion = rates.conversion(
            invoice_currency=invoice.currency,
            program_currency=program.currency,
            event_rate=invoice.exchange_rate,
        )
        earning = evaluate_invoice(
            program,
            invoice=invoice,
            customer=view,
            conversion=conversion,
            merchant=facts,
            use_index=False,  # every rule, so that failed conditions can be named
        )
        reasons[program.key] = why_no_invoice_points(
            program, invoice=invoice, customer=view, earning=earning
        )
    return explain(reasons)


def _new_row(
    merchant_id: str,
    account_id: int,
    invoice: InvoiceView,
    earning: ProgramEarning,
    now: datetime,
    *,
    credit: tuple[str | None, str | None] = (None, None),
) -> InvoiceEarning:
    assert earning.program.program_id is not None  # noqa: S101 - loaded from the database
    assert earning.program.version_id is not None  # noqa: S101
    return InvoiceEarning(
        merchant_id=merchant_id,
        account_id=account_id,
        invoice_id=invoice.id,
        program_id=earning.program.program_id,
        program_version_id=earning.program.version_id,
        currency=invoice.currency,
        total=invoice.total,
        paid=ZERO,
        refunded=ZERO,
        refunded_unassigned=ZERO,
        refunded_lines={},
        counted=[],
        evaluation=_evaluation_json(earning) | ({"credit_refused": credit[1]} if credit[1] else {}),
        earned=0,
        reversed=0,
        credit_unit=credit[0],
        credit_earned=0,
        credit_reversed=0,
        created_at=now,
        updated_at=now,
    )


def _award_json(a: Award) -> dict[str, Any]:
    return {
        "rule": a.rule,
        "kind": a.kind,
        "exact": str(a.exact),
        "line": a.line,
        "base": None if a.base is None else str(a.base),
        "note": a.note,
    }


def _award_of(a: Mapping[str, Any]) -> Award:
    return Award(
        rule=a["rule"],
        kind=a["kind"],
        exact=Decimal(a["exact"]),
        line=a["line"],
        base=None if a["base"] is None else Decimal(a["base"]),
        note=a["note"],
    )


def _evaluation_json(earning: ProgramEarning) -> dict[str, Any]:
    credit = {"credit": [_award_json(a) for a in earning.credit]} if earning.credit else {}
    return (
        credit
        | {
            "awards": [_award_json(a) for a in earning.awards],
            "multiplier": str(earning.multiplier),
            "level": earning.level,
            "base": None if earning.base is None else str(earning.base),
            "conversion": earning.conversion.to_json() if earning.conversion else None,
            "line_qty": {line: str(qty) for line, qty in earning.line_qty.items()},
        }
        | explained(earning)
    )


def _restore(
    session: Session, row: InvoiceEarning, extra_kinds: Iterable[type[Rule]]
) -> ProgramEarning:
    """The earning exactly as evaluated, under the version that evaluated it."""
    version = session.get(ProgramVersion, row.program_version_id)
    program = session.get(Program, row.program_id)
    assert version is not None and program is not None  # noqa: S101 - foreign keys
    data = row.evaluation
    conversion = data.get("conversion")
    return ProgramEarning(
        program=definition_of(program, version, extra_kinds=extra_kinds),
        awards=tuple(_award_of(a) for a in data["awards"]),
        credit=tuple(_award_of(a) for a in data.get("credit") or ()),
        multiplier=Decimal(data["multiplier"]),
        level=data.get("level"),
        base=None if data["base"] is None else Decimal(data["base"]),
        conversion=None
        if conversion is None
        else Conversion(
            rate=Decimal(conversion["rate"]),
            source=conversion["source"],
            from_currency=conversion["from"],
            to_currency=conversion["to"],
        ),
        line_qty={line: Decimal(qty) for line, qty in data["line_qty"].items()},
        conditions={
            rule: ConditionCheck(matched=tuple(matched))
            for rule, matched in (data.get("conditions") or {}).items()
        },
        set_aside=tuple(data.get("set_aside") or ()),
        bonus_campaigns=tuple(data.get("bonus_campaigns") or ()),
    )


def _counts_payment(
    row: InvoiceEarning, earning: ProgramEarning, payment: PaymentSeen | None
) -> bool:
    """True for a payment not seen before, under a program that earns on each payment."""
    if payment is None or earning.program.earn_on is not EarnOn.EACH_PAYMENT:
        return False
    return _first_time(row, f"payment:{payment.id}")


def _first_time(row: InvoiceEarning, key: str) -> bool:
    """Count ``key`` (a payment or refund id) on the row; False if it was counted before."""
    if key in row.counted:
        return False
    row.counted = [*row.counted, key]
    return True


def _add_refunded_lines(
    row: InvoiceEarning, earning: ProgramEarning, lines: Mapping[str, Decimal]
) -> None:
    refunded = dict(row.refunded_lines)
    for index, (line_id, qty) in enumerate(lines.items()):
        if line_id not in earning.line_qty:
            raise ValidationError(
                f"invoice {row.invoice_id} has no line {line_id!r}",
                field=f"refund.items.{index}.line_id",
            )
        refunded[line_id] = str(Decimal(refunded.get(line_id, "0")) + qty)
    row.refunded_lines = refunded


def _state(row: InvoiceEarning, earning: ProgramEarning, *, paid: Decimal) -> InvoiceState:
    return InvoiceState(
        total=row.total,
        paid=paid,
        refunded=row.refunded,
        refunded_unassigned=row.refunded_unassigned,
        refunded_lines={k: Decimal(v) for k, v in row.refunded_lines.items()},
        line_qty=earning.line_qty,
    )


def _reconcile(
    work: EarningWork,
    row: InvoiceEarning,
    earning: ProgramEarning,
    *,
    paid_before: Decimal,
    trigger: dict[str, Any],
) -> None:
    """Write what the row's totals call for and the ledger does not hold yet."""
    state = _state(row, earning, paid=row.paid)
    if row.cancelled_at is not None:
        earned_target, reversed_target = row.earned, row.earned
    else:
        settings = earning.program.earning
        wanted = targets(
            earning.awards,
            state,
            rounding=settings.rounding,
            scope=settings.rounding_scope,
            multiplier=earning.multiplier,
        )
        earned_target, reversed_target = wanted.earned, wanted.reversed
    earned = max(0, earned_target - row.earned)
    if earned:
        before = _state(row, earning, paid=paid_before)
        earned_before, row.earned = row.earned, earned_target  # written by the ledger's flush
        _credit(
            work, row, earning, earned, state=state, before=before, trigger=trigger,
            earned_before=earned_before,
        )  # fmt: skip
    taken = 0
    if reversed_target > row.reversed:
        taken = _take_back(work, row, earning, reversed_target - row.reversed, trigger)
        row.reversed += taken
    elif reversed_target < row.reversed and row.cancelled_at is None:
        # Money paid again, or a refund undone: the kept part grew, so what was reversed
        # beyond the new target comes back as a new earn entry (a reversal is never undone).
        given = row.reversed - reversed_target
        why = trigger["type"] if trigger["type"] in _AGAIN else "paid_again"
        _credit_again(work, row, earning, given, trigger=trigger, why=why)
        row.reversed = reversed_target
        earned += given
    row.updated_at = work.now
    work.outcome.record(earning.program, earned=earned, reversed_=taken)
    if earning.credit:
        credit.reconcile(work, row, earning, state=state, trigger=trigger, reverse=reverse_entry)


def _credit(
    work: EarningWork,
    row: InvoiceEarning,
    earning: ProgramEarning,
    points: int,
    *,
    state: InvoiceState,
    before: InvoiceState,
    trigger: dict[str, Any],
    earned_before: int,
) -> None:
    """One earn entry for ``points``, explained line by line, pending and expiring as set.

    ``earned_before``: what the row had earned before these points (``row.earned`` is
    already set to the new total, so that the row is written in the same flush).
    """
    program = earning.program
    merchant = work.session.get(Merchant, row.merchant_id)
    assert merchant is not None  # noqa: S101 - foreign key
    pending = work.now + timedelta(days=program.pending_days) if program.pending_days else None
    earlier = earning.settle(factor=before.earn_factor) if earned_before else None
    details = breakdown(earning, earning.settle(factor=state.earn_factor), before=earlier) | {
        "trigger": trigger,
        "paid_share": str(state.paid_share()),
        "pending_until": pending.isoformat() if pending else None,
    }
    key = f"invoice:{row.invoice_id}:program:{row.program_id}:earned:{earned_before + points}"
    entry = ledger.earn(
        work.session,
        account_id=row.account_id,
        points=points,
        now=work.now,
        actor=work.actor,
        available_from=pending,
        expires_at=_expires_at(work.session, program, merchant, pending or work.now),
        money=Money(
            max(ZERO, min(row.paid, row.total) - min(before.paid, row.total)) or row.total,
            row.currency,
        ),
        reference=Reference("invoice", row.invoice_id),
        reason=f"invoice {row.invoice_id} ({program.name}, version {program.version})",
        details=details,
        idempotency_key=key[:255],
        key_is_new=work.new_invoice and not earned_before,
        level=levels.level_of_new_points(work.session, account_id=row.account_id, now=work.now),
    )
    work.outcome.entry_ids.append(entry.id)


def _expires_at(
    session: Session, program: ProgramDefinition, merchant: Merchant, earned_at: datetime
) -> datetime | None:
    """Expiry of points earned at ``earned_at``: the program's policy, else the merchant's."""
    policy = program.expiry_policy()
    if policy is None:
        return expiry_for_new_points(session, merchant_id=merchant.id, earned_at=earned_at)
    return expiry_date(policy, earned_at, ZoneInfo(merchant.timezone))


def _take_back(
    work: EarningWork,
    row: InvoiceEarning,
    earning: ProgramEarning,
    points: int,
    trigger: dict[str, Any],
) -> int:
    """Reverse up to ``points`` from the row's earn entries, newest first, by the policy."""
    policy = earning.program.reversal
    details = {"program": earning.program.label(), "trigger": trigger, "policy": policy.value}
    reason = "invoice cancelled" if trigger["type"] == "cancellation" else "refund"
    left = points
    set_aside = ledger.points_set_aside(work.session, row.account_id)
    for entry_id, reversible in earn_entries(
        work.session, row, account_id=row.account_id, unit=POINTS
    ):
        ask = min(left, reversible)
        if policy is ReversalPolicy.REMAINING:
            # What is left of the lot, and points set aside, which are owed (not forgiven).
            ask = min(ask, lot_remaining(work.session, row.merchant_id, entry_id) + set_aside)
        if ask > 0:
            owed_before = work.outcome.points_owed
            left -= _reverse(
                work,
                entry_id,
                ask,
                policy,
                f"{reason} on invoice {row.invoice_id}",
                details | {"wanted": ask},
            )
            set_aside -= work.outcome.points_owed - owed_before
        if left <= 0:
            break
    work.outcome.points_forgiven += max(left, 0)
    return points - left


def _reverse(
    work: EarningWork,
    entry_id: int,
    points: int,
    policy: ReversalPolicy,
    reason: str,
    details: dict[str, Any],
) -> int:
    """Reverse ``points`` of one earn entry under ``policy``; returns the points taken."""
    entry = reverse_entry(work, entry_id, points, policy, reason, details)
    if entry is None:
        return 0
    work.outcome.points_owed += (entry.details or {}).get("debt_change", 0)
    return -entry.points


def reverse_entry(
    work: EarningWork,
    entry_id: int,
    points: int,
    policy: ReversalPolicy,
    reason: str,
    details: dict[str, Any],
) -> LedgerEntry | None:
    """The reversal of ``points`` of one earn entry under ``policy`` (points or credit);
    ``None`` when nothing is left to take and the policy forgives it."""
    try:
        entry = ledger.reverse(
            work.session,
            entry_id=entry_id,
            points=points,
            now=work.now,
            actor=work.actor,
            reason=reason,
            take_shortfall_from_other_lots=policy is ReversalPolicy.OTHER_LOTS,
            shortfall_as_debt=policy is ReversalPolicy.NEGATIVE_BALANCE,
            # Points on hold or in unused coupons are owed under every policy.
            owe_set_aside=True,
            details=details,
        )
    except InvalidOperation:
        return None  # already spent, and nothing else to take: forgiven under this policy
    work.outcome.entry_ids.append(entry.id)
    return entry
