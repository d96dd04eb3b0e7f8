"""Store credit earned on invoices (issue #19): the wallet, the targets, the ledger writes.

A program whose rules carry a credit ``reward`` gives store credit beside its points. The
invoice's :class:`~loyalty_plugin.models.InvoiceEarning` row keeps the currency
(``credit_unit``) and what it earned and had taken back in minor units; :func:`reconcile`
compares what the row's totals call for (the same :func:`targets` as points, on the credit
awards in minor units, rounded down) with what the ledger holds, and writes the difference
on the customer's credit account of that currency, dated to expire by the merchant's
``credit_expiry_months`` (never by default). So refunds, cancellations,
reinstatements and money paid again move credit exactly as they move points, under the
program's reversal policy.

Credit is given only when the merchant's wallet takes the invoice's currency and the
program counts in that currency; otherwise the row keeps ``credit_refused``, which the
webhook answer shows as ``credit_reason``. The wallet setting is read only when a program
in force gives credit, so points-only merchants pay no statement for it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.credit import CREDIT
from loyalty_plugin.domain.events import CreditEarned, CreditReversed
from loyalty_plugin.domain.money import from_minor
from loyalty_plugin.domain.programs import ProgramEarning, ReversalPolicy, in_minor_units
from loyalty_plugin.domain.rules import (
    InvoiceState,
    InvoiceView,
    Rounding,
    RoundingScope,
    settle,
    targets,
)
from loyalty_plugin.models import Account, Customer, InvoiceEarning, LedgerEntry, MerchantSettings
from loyalty_plugin.services.earning.invoice_entries import earn_entries, lot_remaining
from loyalty_plugin.services.earning.outcome import EarningWork
from loyalty_plugin.services.events import publish
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.accounts import open_account
from loyalty_plugin.services.ledger.entries import Money, Reference
from loyalty_plugin.services.ledger.expiry import expiry_for_new_credit

#: Credit is rounded down to the minor unit, once on the program's total for the invoice
#: (shared out over the rules by largest remainder): never more than the rules promise.
ROUNDING, SCOPE = Rounding.DOWN, RoundingScope.INVOICE

#: ``reverse(work, entry_id, minor, policy, reason, details)``: the reversal, or ``None``.
Reverser = Callable[..., LedgerEntry | None]


def wallet(session: Session, merchant_id: str) -> tuple[str, ...]:
    """The currencies the merchant's credit wallet takes (one column of one row)."""
    found = session.scalar(
        select(MerchantSettings.credit_currencies).where(
            MerchantSettings.merchant_id == merchant_id
        )
    )
    return tuple(found or ())


def credit_unit(
    earning: ProgramEarning, invoice: InvoiceView, taken: Sequence[str]
) -> tuple[str | None, str | None]:
    """The currency the program's credit is given in, or why none is: ``(unit, why)``."""
    if not earning.credit:
        return None, None
    currency = invoice.currency.upper()
    if currency not in taken:
        return None, (
            f"no store credit: the merchant's credit wallet does not take {currency}"
            if taken
            else "no store credit: the merchant has no credit wallet"
        )
    if earning.program.currency != currency:
        return None, (
            f"no store credit: the invoice is in {currency}, "
            f"program {earning.program.key!r} counts in {earning.program.currency}"
        )
    return currency, None


def reconcile(
    work: EarningWork,
    row: InvoiceEarning,
    earning: ProgramEarning,
    *,
    state: InvoiceState,
    trigger: dict[str, Any],
    reverse: Reverser,
) -> None:
    """Write the credit the row's totals call for and the ledger does not hold yet."""
    unit = row.credit_unit
    if unit is None:
        work.outcome.credit_reason = row.evaluation.get("credit_refused")
        return
    awards = in_minor_units(earning.credit, unit)
    if row.cancelled_at is not None:
        earned_target = reversed_target = row.credit_earned
    else:
        wanted = targets(awards, state, rounding=ROUNDING, scope=SCOPE)
        earned_target, reversed_target = wanted.earned, wanted.reversed
    account = ledger.lock_credit_account(work.session, row.account_id, unit)
    earned = max(0, earned_target - row.credit_earned)
    if earned:
        earned_before, row.credit_earned = row.credit_earned, earned_target
        settled = settle(awards, rounding=ROUNDING, scope=SCOPE, factor=state.earn_factor)
        _earn(work, row, earning, account, earned, key=f"earned:{earned_before + earned}",
              details={"trigger": trigger, "paid_share": str(state.paid_share()),
                       "credit": _breakdown(settled, unit)})  # fmt: skip
    if reversed_target > row.credit_reversed:
        asked = reversed_target - row.credit_reversed
        taken = _take_back(work, row, earning, account, asked, trigger, reverse)
        row.credit_reversed += taken
    elif reversed_target < row.credit_reversed and row.cancelled_at is None:
        given = row.credit_reversed - reversed_target
        times = 1 + sum(1 for key in row.counted if key.startswith("credit_again:"))
        row.counted = [*row.counted, f"credit_again:{times}"]
        _earn(work, row, earning, account, given, key=f"again:{times}",
              details={"trigger": trigger, "given_back": True})  # fmt: skip
        row.credit_reversed = reversed_target


def earn_on_event(
    work: EarningWork, earning: ProgramEarning, customer: Customer, *, trigger: dict[str, Any]
) -> LedgerEntry | None:
    """The fixed store credit an event rule gives (a registration or birthday bonus in
    money), in the program's currency if the merchant's wallet takes it; ``None`` when
    there is none (the outcome's ``credit_reason`` then says why)."""
    if not earning.credit:
        return None
    unit, taken = earning.program.currency, wallet(work.session, customer.merchant_id)
    if unit not in taken:
        work.outcome.credit_reason = (
            f"no store credit: the merchant's credit wallet does not take {unit}"
            if taken
            else "no store credit: the merchant has no credit wallet"
        )
        return None
    settled = settle(in_minor_units(earning.credit, unit), rounding=ROUNDING, scope=SCOPE)
    if settled.points <= 0:
        return None
    opened = open_account(
        work.session, merchant_id=customer.merchant_id, customer_id=customer.id, unit=unit
    )
    account = ledger.lock_account(work.session, opened.id)
    program = earning.program
    entry = ledger.earn(
        work.session,
        account_id=account.id,
        points=settled.points,
        now=work.now,
        actor=work.actor,
        reference=Reference(trigger["type"], trigger["id"]),
        expires_at=expiry_for_new_credit(
            work.session, merchant_id=customer.merchant_id, earned_at=work.now
        ),
        reason=f"store credit: {trigger['name'] or trigger['type']} ({program.name})",
        details={
            "program": program.label(),
            "trigger": trigger,
            "credit": _breakdown(settled, unit),
        },
        idempotency_key=(
            f"{trigger['type']}:{trigger['id']}:program:{program.program_id}:credit:{unit}"
        )[:255],
    )
    work.outcome.entry_ids.append(entry.id)
    work.outcome.count_credit(unit, "earned", settled.points)
    _publish(work.session, account, entry, CreditEarned, reason=entry.reason)
    return entry


def _earn(
    work: EarningWork,
    row: InvoiceEarning,
    earning: ProgramEarning,
    account: Account,
    minor: int,
    *,
    key: str,
    details: dict[str, Any],
) -> None:
    program, unit = earning.program, account.unit
    entry = ledger.earn(
        work.session,
        account_id=account.id,
        points=minor,
        now=work.now,
        actor=work.actor,
        money=Money(row.total, row.currency),
        reference=Reference("invoice", row.invoice_id),
        expires_at=expiry_for_new_credit(
            work.session, merchant_id=row.merchant_id, earned_at=work.now
        ),
        reason=f"store credit on invoice {row.invoice_id} ({program.name}, "
        f"version {program.version})",
        details={"program": program.label()} | details,
        idempotency_key=f"invoice:{row.invoice_id}:program:{row.program_id}:credit:{unit}:{key}"[
            :255
        ],
    )
    work.outcome.entry_ids.append(entry.id)
    work.outcome.count_credit(unit, "earned", minor)
    _publish(work.session, account, entry, CreditEarned, reason=entry.reason)


def _take_back(
    work: EarningWork,
    row: InvoiceEarning,
    earning: ProgramEarning,
    account: Account,
    minor: int,
    trigger: dict[str, Any],
    reverse: Reverser,
) -> int:
    """Reverse up to ``minor`` from the row's credit entries, newest first, by the program's
    reversal policy (as points are); returns what was taken."""
    policy = earning.program.reversal
    details = {"program": earning.program.label(), "trigger": trigger, "policy": policy.value}
    reason = "invoice cancelled" if trigger["type"] == "cancellation" else "refund"
    left = minor
    for entry_id, reversible in earn_entries(
        work.session, row, account_id=account.id, unit=account.unit
    ):
        ask = min(left, reversible)
        if policy is ReversalPolicy.REMAINING:
            ask = min(ask, lot_remaining(work.session, row.merchant_id, entry_id))
        if ask > 0:
            entry = reverse(work, entry_id, ask, policy,
                            f"{reason} on invoice {row.invoice_id} (store credit)",
                            details | {"wanted": ask})  # fmt: skip
            if entry is not None:
                left += entry.points
                owed = (entry.details or {}).get("debt_change", 0)
                if owed:
                    work.outcome.count_credit(account.unit, "owed", owed)
                _publish(work.session, account, entry, CreditReversed,
                         reverses_entry_id=entry_id)  # fmt: skip
        if left <= 0:
            break
    if left > 0:
        work.outcome.count_credit(account.unit, "forgiven", left)
    work.outcome.count_credit(account.unit, "reversed", minor - left)
    return minor - left


def _breakdown(settled: Any, unit: str) -> dict[str, Any]:
    """The credit earned so far, in money: the total and what each rule and line gave."""
    return {
        "currency": unit,
        "amount": str(from_minor(settled.points, unit)),
        "rounding": f"{ROUNDING.value} to the minor unit, per invoice",
        "breakdown": [
            {
                "rule": item.award.rule,
                "line": item.award.line,
                "base": None if item.award.base is None else str(item.award.base),
                "note": item.award.note,
                "amount": str(from_minor(item.points, unit)),
            }
            for item in settled.items
            if item.award.kind == CREDIT
        ],
    }


def _publish(
    session: Session,
    account: Account,
    entry: LedgerEntry,
    event_type: type[CreditEarned] | type[CreditReversed],
    **fields: Any,
) -> None:
    """The outgoing ``credit.earned`` or ``credit.reversed`` event of ``entry``."""
    unit = account.unit
    reference = (
        None if entry.reference_type is None else f"{entry.reference_type}:{entry.reference_id}"
    )
    publish(
        session,
        event_type(
            merchant_id=account.merchant_id,
            occurred_at=entry.created_at,
            customer_id=account.customer.host_customer_id,
            entry_id=entry.id,
            currency=unit,
            amount=str(from_minor(entry.points, unit)),
            balance=str(from_minor(account.balance, unit)),
            reference=reference,
            **fields,
        ),
    )
