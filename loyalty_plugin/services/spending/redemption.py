"""Paying invoices with points and store credit: quote, hold, capture, release, refund
returns, stale holds.

A hold is a ``hold`` ledger entry that takes the points from their lots (soonest expiry
first) plus a :class:`~loyalty_plugin.models.Redemption` row. Capture only marks the row and
counts the points in ``lifetime_redeemed`` (the points already left the lots), so the ledger
invariants hold without a zero-point entry. Release and refund returns reverse the hold
entry, which gives the points back to the very lots they came from, with their expiry.

Every writer of a redemption locks its account row first, so concurrent captures, releases
and refunds of one customer take turns.

With a credit wallet (issue #19) a hold may take store credit too: one row per unit, the
credit rows linked to the lead by ``lead_id`` (:mod:`.credit`). Each row is held, returned
and taken back on its own account as above; capture and release act on all of them, the
points account locked first, then the credit accounts by currency.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import (
    InsufficientCredit,
    InsufficientPoints,
    InvalidOperation,
    NotFound,
    ValidationError,
)
from loyalty_plugin.domain.events import PointsRedeemed, PointsReversed
from loyalty_plugin.domain.ledger import POINTS, EntryKind
from loyalty_plugin.domain.redemption import (
    Bound,
    CreditQuote,
    DraftInvoice,
    Quote,
    RedemptionMode,
    RedemptionRules,
    quote,
    quote_with_credit,
    round_down,
)
from loyalty_plugin.models import Account, LedgerEntry, Redemption, RedemptionStatus
from loyalty_plugin.services.events import publish
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.accounts import account_for_host_customer, get_merchant
from loyalty_plugin.services.ledger.entries import SYSTEM, Money, Reference
from loyalty_plugin.services.levels import memberships as levels
from loyalty_plugin.services.spending import credit as credit_side
from loyalty_plugin.services.spending.settings import (
    credit_wallet,
    merchant_settings,
    redemption_rules,
)


@dataclass(frozen=True, slots=True)
class ReturnedPoints:
    """Points a refund gave back from one redemption, and any that expired again at once.

    ``entries`` are the hold's release, then the reversals of points a reversed refund had
    taken back (:func:`take_back_for_reversed_refund`) once the hold has none left.
    """

    redemption: Redemption
    entries: list[LedgerEntry]
    expired_again: list[LedgerEntry]

    @property
    def unit(self) -> str:
        """``points``, or the currency of the credit given back (then in minor units)."""
        return self.redemption.unit

    @property
    def points(self) -> int:
        """The points given back."""
        return sum(entry.points for entry in self.entries)

    @property
    def points_expired_again(self) -> int:
        """The points (negative) that expired again at once."""
        return sum(entry.points for entry in self.expired_again)


def with_level(rules: RedemptionRules, terms: levels.LevelTerms | None) -> RedemptionRules:
    """The merchant's redemption ``rules`` as the customer's membership level changes them.

    A level with its own point value or maximum invoice share replaces the merchant's.
    """
    if terms is None:
        return rules
    if terms.level.point_value is not None:
        rules = replace(rules, value=terms.level.point_value)
    if terms.level.max_share_percent is not None:
        rules = replace(rules, max_share_percent=terms.level.max_share_percent)
    return rules


@dataclass(frozen=True, slots=True)
class Offer:
    """What one invoice can take: the points, and store credit when the merchant has a
    credit wallet (``credit`` is ``None`` for a points-only merchant)."""

    points: Quote
    credit: CreditQuote | None
    rules: RedemptionRules
    #: The customer's credit account in the invoice's currency, if they have one.
    credit_account: Account | None = None


def quote_checkout(
    session: Session,
    *,
    merchant_id: str,
    customer_id: str,
    invoice: DraftInvoice,
    now: datetime,
    points: int | None = None,
    credit: Decimal | None = None,
) -> Offer:
    """The points and the store credit ``customer_id`` could use on ``invoice`` now.

    Credit is offered first, up to its own cap; points get what the caps on the sum
    leave. Writes nothing but, for a customer seen for the first time, their empty account.
    """
    account = account_for_host_customer(session, merchant_id, customer_id)
    offer = _offer(session, account, invoice, now=now, points=points, credit=credit, lock=False)
    if credit is not None and offer.credit is None:
        raise ValidationError("this merchant has no store credit wallet", field="credit")
    return offer


def _offer(
    session: Session,
    account: Account,
    invoice: DraftInvoice,
    *,
    now: datetime,
    points: int | None,
    credit: Decimal | None = None,
    lock: bool = False,
) -> Offer:
    """The offer for ``account`` and the rules behind it.

    With fallback redemption (levels that redeem at the earning level) each lot's points
    are valued at the level they were earned at, in the order a spend takes them.
    """
    merchant = get_merchant(session, account.merchant_id)
    settings = merchant_settings(session, account.merchant_id)
    terms = levels.terms_for(session, account_id=account.id, now=now)
    merchant_rules = redemption_rules(settings)
    rules = with_level(merchant_rules, terms)
    purse = levels.redemption_purse(
        session, account_id=account.id, now=now, merchant_value=merchant_rules.value, terms=terms
    )
    wallet = credit_wallet(settings)
    if not wallet:
        offer = quote(
            invoice,
            rules,
            balance=0,
            merchant_currency=merchant.currency,
            requested=points,
            purse=purse,
        )
        return Offer(points=offer, credit=None, rules=rules)
    currency = invoice.currency.upper()
    held = currency in wallet
    found = credit_side.credit_account(session, account, currency, lock=lock) if held else None
    both = quote_with_credit(
        invoice,
        rules,
        credit=credit_side.spendable_credit(session, found, currency, now),
        balance=0,
        merchant_currency=merchant.currency,
        credit_cap_percent=settings.credit_max_invoice_share if held else Decimal(0),
        requested_credit=credit,
        requested_points=points,
        purse=purse,
    )
    if not held:
        both = replace(both, credit_bound_by="wallet")
    return Offer(points=both.points, credit=both, rules=rules, credit_account=found)


def hold_points(
    session: Session,
    *,
    merchant_id: str,
    customer_id: str,
    invoice: DraftInvoice,
    now: datetime,
    actor: str,
    points: int | None = None,
    credit: Decimal | None = None,
) -> Redemption:
    """Hold ``points`` and ``credit`` (default: as much as the caps allow) against
    ``invoice``; the lead row, with a linked row per currency of credit.

    Raises :class:`InsufficientPoints` when the balance is what stands in the way, and a
    :class:`ValidationError` on ``points`` (or ``credit``) when another cap does.
    """
    if not invoice.id:
        raise ValidationError("a hold needs the invoice id", field="invoice.id")
    account = account_for_host_customer(session, merchant_id, customer_id)
    account = ledger.lock_account(session, account.id)
    _refuse_second_hold(session, merchant_id, invoice.id)
    found = _offer(session, account, invoice, now=now, points=points, credit=credit, lock=True)
    _check_credit_request(found.credit, credit)
    expires_at = now + timedelta(minutes=merchant_settings(session, merchant_id).hold_minutes)
    hold = _Hold(invoice_id=invoice.id, now=now, actor=actor, expires_at=expires_at)
    offer, with_credit = found.points, found.credit
    lead = None
    if with_credit is None or not with_credit.credit or offer.points or points:
        _check_request(offer, points, found.rules)
        lead = _hold_points(session, account, offer, hold)
    if with_credit is not None and with_credit.credit and found.credit_account is not None:
        row = credit_side.hold_credit(
            session, account=found.credit_account, offer=with_credit, invoice_id=invoice.id,
            now=now, actor=actor, expires_at=expires_at,
        )  # fmt: skip
        if lead is not None:
            row.lead_id = lead.id
            session.add(row)
            session.flush()
            return lead
        row.active_invoice_id = invoice.id
        _insert_hold(session, row)
        return row
    if lead is None:
        raise AssertionError("a hold with neither points nor credit")
    return lead


@dataclass(frozen=True, slots=True)
class _Hold:
    """What every row of one hold shares."""

    invoice_id: str
    now: datetime
    actor: str
    expires_at: datetime


def _hold_points(session: Session, account: Account, offer: Quote, hold: _Hold) -> Redemption:
    """Hold the offered points (a ``hold`` entry) and insert their row, the lead."""
    merchant_id, invoice_id = account.merchant_id, hold.invoice_id
    now, actor, expires_at = hold.now, hold.actor, hold.expires_at
    entry = ledger.spend(
        session,
        account_id=account.id,
        points=offer.points,
        now=now,
        actor=actor,
        kind=EntryKind.HOLD,
        money=Money(offer.amount, offer.currency),
        reference=Reference("invoice", invoice_id),
        reason=f"held for invoice {invoice_id}",
        details={"redemption": _quote_details(offer)},
    )
    redemption = Redemption(
        merchant_id=merchant_id,
        account_id=account.id,
        invoice_id=invoice_id,
        active_invoice_id=invoice_id,
        status=RedemptionStatus.HELD,
        points=offer.points,
        amount=offer.amount,
        currency=offer.currency,
        rate=offer.rate,
        exchange_rate=offer.exchange_rate,
        hold_entry_id=entry.id,
        expires_at=expires_at,
        created_by=actor,
        created_at=now,
    )
    _insert_hold(session, redemption)
    return redemption


def get_redemption(session: Session, *, merchant_id: str, redemption_id: int) -> Redemption:
    """The merchant's redemption, or :class:`NotFound`."""
    redemption = session.get(Redemption, redemption_id)
    if redemption is None or redemption.merchant_id != merchant_id:
        raise NotFound(f"redemption {redemption_id} does not exist", field="redemption_id")
    return redemption


def capture_redemption(
    session: Session,
    *,
    merchant_id: str,
    redemption_id: int,
    invoice_id: str | None,
    now: datetime,
    actor: str,
) -> Redemption:
    """Make a hold final (the invoice was paid), all its units. Capturing twice changes
    nothing."""
    redemption, rows = _lock_group(session, merchant_id, redemption_id)
    redemption_id = redemption.id
    if invoice_id is not None and str(invoice_id) != redemption.invoice_id:
        raise ValidationError(
            f"redemption {redemption_id} holds points for invoice {redemption.invoice_id!r}",
            field="invoice_id",
        )
    if redemption.status == RedemptionStatus.CAPTURED:
        return redemption
    if redemption.status != RedemptionStatus.HELD:
        raise InvalidOperation(
            f"redemption {redemption_id} was {redemption.status}; it cannot be captured",
            field="redemption_id",
        )
    for row in rows:
        _capture_row(session, row, now)
    return redemption


def _capture_row(session: Session, row: Redemption, now: datetime) -> None:
    """Mark one unit's row captured and announce it (``points.redeemed``/``credit.spent``)."""
    account = ledger.lock_account(session, row.account_id)
    row.status = RedemptionStatus.CAPTURED
    row.active_invoice_id = None
    row.captured_at = now
    account.lifetime_redeemed += row.points
    session.flush()
    if row.unit != POINTS:
        credit_side.publish_spent(session, row, account)
        return
    publish(
        session,
        PointsRedeemed(
            merchant_id=row.merchant_id,
            occurred_at=now,
            customer_id=account.customer.host_customer_id,
            entry_id=row.hold_entry_id,
            points=row.points,
            balance=account.balance,
            reference=f"invoice:{row.invoice_id}",
        ),
    )


def release_redemption(
    session: Session,
    *,
    merchant_id: str,
    redemption_id: int,
    now: datetime,
    actor: str,
    reason: str | None = None,
    expired: bool = False,
) -> Redemption:
    """Give held points and credit back to their lots. Releasing twice changes nothing."""
    redemption, rows = _lock_group(session, merchant_id, redemption_id)
    if redemption.status in (RedemptionStatus.RELEASED, RedemptionStatus.EXPIRED):
        return redemption
    if redemption.status == RedemptionStatus.CAPTURED:
        raise InvalidOperation(
            f"redemption {redemption.id} was captured; a refund returns its points",
            field="redemption_id",
        )
    for row in rows:
        _release_row(session, row, now=now, actor=actor, reason=reason, expired=expired)
    return redemption


def _release_row(
    session: Session,
    row: Redemption,
    *,
    now: datetime,
    actor: str,
    reason: str | None,
    expired: bool,
) -> None:
    """Reverse one unit's hold entry, which gives it back to the very lots it came from."""
    ledger.reverse(
        session,
        entry_id=row.hold_entry_id,
        now=now,
        actor=actor,
        reason=reason or ("hold expired" if expired else "hold released"),
        idempotency_key=f"redemption:{row.id}:release",
    )
    row.status = RedemptionStatus.EXPIRED if expired else RedemptionStatus.RELEASED
    row.active_invoice_id = None
    row.released_at = now
    session.flush()


def release_redemptions_for_invoice(
    session: Session, *, merchant_id: str, invoice_id: str, now: datetime, actor: str
) -> list[Redemption]:
    """The invoice was cancelled: release its holds and return points it captured.

    Each status is decided under the account's lock: a hold captured while the cancel ran
    (the invoice's payment racing its cancellation) is refunded in full, never refused.
    """
    changed: dict[int, Redemption] = {}
    for redemption in _locked_for_invoice(session, merchant_id, invoice_id):
        lead_id = redemption.lead_id or redemption.id
        if redemption.status == RedemptionStatus.HELD:
            _release_row(session, redemption, now=now, actor=actor,
                         reason=f"invoice {invoice_id} cancelled", expired=False)  # fmt: skip
            changed.setdefault(lead_id, redemption)
        elif redemption.status == RedemptionStatus.CAPTURED:
            returned = _return(session, redemption, Decimal(1), now, actor, "cancelled")
            if returned is not None:
                kept = returned.points + returned.points_expired_again
                returned.redemption.cancel_returned = max(0, kept)
                changed.setdefault(lead_id, redemption)
    # The lead stands for its credit rows, as the host knows only its id.
    return [session.get(Redemption, lead_id) or row for lead_id, row in changed.items()]


def return_points_for_refund(
    session: Session,
    *,
    merchant_id: str,
    invoice_id: str,
    share: Decimal,
    now: datetime,
    actor: str,
) -> list[ReturnedPoints]:
    """Give back the points spent on the refunded share of a paid invoice.

    ``share`` is the fraction of the invoice refunded *so far* (cumulative, 0 to 1), so
    calling again with the same share returns nothing more, and two refunds of 30 % pass
    0.3 then 0.6. Points go back to their original lots with their original expiry; those
    whose lot has expired since expire again in an ``expire`` entry, returned alongside.
    """
    _check_share(share)
    returned = []
    for redemption in _locked_for_invoice(session, merchant_id, invoice_id):
        if redemption.status == RedemptionStatus.CAPTURED:
            result = _return(session, redemption, share, now, actor, "refunded")
            if result is not None:
                returned.append(result)
    return returned


def take_back_for_reversed_refund(
    session: Session,
    *,
    merchant_id: str,
    invoice_id: str,
    share: Decimal,
    limit: int,
    now: datetime,
    actor: str,
    credit_limits: dict[str, int] | None = None,
) -> list[LedgerEntry]:
    """A refund was reversed: take back the points it returned from the invoice's
    redemptions, so that each has returned only what ``share`` (the fraction of the invoice
    still refunded, 0 to 1) calls for, as :func:`return_points_for_refund` would have.

    Each take-back is a new ``redeem`` entry under :func:`ledger.take_back`'s shortfall
    policy (spendable points first, the part still set aside owed as debt, the rest
    forgiven); ``returned_points`` comes down by what is taken or owed, so a later refund
    returns that again (and :func:`_return` reverses the take-back to do it), while what
    was forgiven the customer already has. At most ``limit`` points in all: what that refund
    returned and the customer kept (a cancellation's return is not a refund's). Calling
    again with the same share takes nothing more. Store credit rows are taken back the
    same way, each at most its currency's ``credit_limits`` (minor units).
    """
    _check_share(share)
    limits = {POINTS: limit} | (credit_limits or {})
    taken = []
    for found in _locked_for_invoice(session, merchant_id, invoice_id):
        if found.status != RedemptionStatus.CAPTURED:
            continue
        found, account = _lock(session, found.merchant_id, found.id)
        take = min(limits.get(found.unit, 0), found.returned_points - _share_of(found, share))
        if take <= 0:
            continue
        entry = _take_back(session, found, account, take, now, actor, "refund reversed")
        limits[found.unit] -= take
        if entry is not None:
            taken.append(entry)
    return taken


def take_back_on_reinstatement(
    session: Session,
    *,
    merchant_id: str,
    invoice_id: str,
    share: Decimal,
    now: datetime,
    actor: str,
) -> list[LedgerEntry]:
    """A cancelled invoice is live again: take back the points its cancellation returned
    from the invoice's redemptions, so that each has returned only what ``share`` (the
    fraction of the invoice refunded, 0 to 1) calls for.

    At most what the cancellation returned and the customer kept (none that expired again
    at once), under :func:`ledger.take_back`'s shortfall policy, as
    :func:`take_back_for_reversed_refund` takes; a later refund returns its share again.
    Calling again takes nothing more.
    """
    _check_share(share)
    taken = []
    for found in _locked_for_invoice(session, merchant_id, invoice_id):
        if found.status != RedemptionStatus.CAPTURED:
            continue
        found, account = _lock(session, found.merchant_id, found.id)
        take = min(found.cancel_returned, found.returned_points - _share_of(found, share))
        found.cancel_returned = 0
        if take > 0 and (
            entry := _take_back(session, found, account, take, now, actor, "reinstated")
        ):
            taken.append(entry)
    return taken


def _take_back(
    session: Session,
    redemption: Redemption,
    account: Account,
    points: int,
    now: datetime,
    actor: str,
    why: str,
) -> LedgerEntry | None:
    """Take back ``points`` the redemption had returned (a ``redeem`` entry, or None)."""
    written = _entries_of(session, redemption)
    entry = ledger.take_back(
        session,
        account_id=account.id,
        points=points,
        now=now,
        actor=actor,
        reason=f"invoice {redemption.invoice_id} {why}: returned points taken back",
        reference=Reference("invoice", redemption.invoice_id),
        idempotency_key=f"redemption:{redemption.id}:taken_back:{written}",
        details={"redemption_id": redemption.id},
    )
    # Forgiven points stay returned: a later refund must not give them a second time.
    redemption.returned_points += entry.points if entry is not None else 0
    session.flush()
    return entry


def _share_of(redemption: Redemption, share: Decimal) -> int:
    """The points of ``redemption`` that ``share`` of its invoice calls for."""
    return int((redemption.points * share).to_integral_value(rounding=ROUND_HALF_UP))


def _check_share(share: Decimal) -> None:
    if not isinstance(share, Decimal) or not 0 <= share <= 1:
        raise ValidationError("share is a Decimal from 0 to 1", field="share")


def _entries_of(session: Session, redemption: Redemption) -> int:
    """How many entries returned or took back points of ``redemption`` (their keys'
    prefix): a key counting them is new each time the same target comes round again."""
    return int(
        session.scalar(
            select(func.count()).where(
                LedgerEntry.merchant_id == redemption.merchant_id,
                LedgerEntry.idempotency_key.like(f"redemption:{redemption.id}:%"),
            )
        )
        or 0
    )


def release_stale_holds(
    session: Session,
    *,
    now: datetime,
    actor: str = SYSTEM,
    limit: int = 500,
    merchant_id: str | None = None,
) -> list[Redemption]:
    """Release holds nobody captured before their ``expires_at`` (the stale-holds job); of
    one merchant, or all."""
    mine = true() if merchant_id is None else Redemption.merchant_id == merchant_id
    # Leads only: releasing one releases its credit rows (their expiry is the lead's).
    stale = session.execute(
        select(Redemption.merchant_id, Redemption.id)
        .where(
            mine,
            Redemption.lead_id.is_(None),
            Redemption.status == RedemptionStatus.HELD,
            Redemption.expires_at <= now,
        )
        .order_by(Redemption.id)
        .limit(limit)
    ).all()
    released = []
    for merchant_id, rid in stale:
        try:
            released.append(
                release_redemption(
                    session,
                    merchant_id=merchant_id,
                    redemption_id=rid,
                    now=now,
                    actor=actor,
                    expired=True,
                )
            )
        except InvalidOperation:
            # Captured between the search and the lock (nothing was written): not stale.
            continue
    return released


def held_points(session: Session, account_id: int) -> int:
    """Points of the account currently held against open invoices."""
    total = session.scalar(
        select(func.coalesce(func.sum(Redemption.points), 0)).where(
            Redemption.account_id == account_id, Redemption.status == RedemptionStatus.HELD
        )
    )
    return int(total or 0)


# -- internals -------------------------------------------------------------------------


def _check_request(offer: Quote, points: int | None, rules: RedemptionRules) -> None:
    """Refuse a hold the quote does not allow, naming what stands in the way."""
    wanted = offer.points if points is None else points
    if offer.points >= wanted > 0 and not (
        rules.mode == RedemptionMode.FULL and wanted != offer.points
    ):
        return
    if offer.bound_by == Bound.BALANCE:
        raise InsufficientPoints(requested=wanted or offer.allowed, available=offer.balance)
    if offer.bound_by == Bound.MIN_POINTS:
        raise ValidationError(f"at least {rules.min_points} points must be used", field="points")
    if rules.mode == RedemptionMode.FULL and offer.points:
        raise ValidationError(
            f"this merchant takes all {offer.points} points or none", field="points"
        )
    raise ValidationError(
        f"at most {offer.points} points can be used on this invoice ({offer.bound_by})",
        field="points",
    )


def _check_credit_request(offer: CreditQuote | None, credit: Decimal | None) -> None:
    """Refuse store credit the offer does not allow, naming what stands in the way."""
    if credit is None:
        return
    if offer is None:
        raise ValidationError("this merchant has no store credit wallet", field="credit")
    if credit != round_down(credit, offer.currency):
        raise ValidationError(
            f"{credit} {offer.currency} is finer than the currency's smallest unit", field="credit"
        )
    if credit <= offer.credit:
        return
    if offer.credit_bound_by == "balance":
        raise InsufficientCredit(
            requested=credit, available=offer.credit_balance, currency=offer.currency
        )
    raise ValidationError(
        f"at most {offer.credit} {offer.currency} of store credit can be used on this invoice "
        f"({offer.credit_bound_by})",
        field="credit",
    )


def _return(
    session: Session,
    redemption: Redemption,
    share: Decimal,
    now: datetime,
    actor: str,
    why: str,
) -> ReturnedPoints | None:
    redemption, account = _lock(session, redemption.merchant_id, redemption.id)
    target = _share_of(redemption, share)
    give = target - redemption.returned_points
    if give <= 0:
        return None
    # After a take-back (a reversed refund) the same target may be returned again.
    written = _entries_of(session, redemption)
    key = f"redemption:{redemption.id}:returned:{target}" + (f":{written}" if written else "")
    reason = f"invoice {redemption.invoice_id} {why}: points returned"
    hold = session.get(LedgerEntry, redemption.hold_entry_id)
    sources = [
        (hold, key),
        *((taken, f"{key}:from:{taken.id}") for taken in _taken_back(session, redemption)),
    ]
    entries, left = [], give
    for source, source_key in sources:
        part = min(left, -source.points - _reversed_of(session, source))
        if part <= 0:
            continue
        entries.append(
            ledger.reverse(
                session, entry_id=source.id, points=part, now=now, actor=actor, reason=reason,
                idempotency_key=source_key,
            )
        )  # fmt: skip
        if source.id == hold.id:  # a take-back's reversal counts its own lifetime change
            account.lifetime_redeemed -= part
        left -= part
        if not left:
            break
    if left:
        raise AssertionError(f"redemption {redemption.id}: {left} points have no entry to return")
    redemption.returned_points = target
    session.flush()
    expired = session.scalars(
        select(LedgerEntry)
        .where(
            LedgerEntry.account_id == account.id,
            LedgerEntry.kind == EntryKind.EXPIRE,
            LedgerEntry.id > entries[0].id,
        )
        .order_by(LedgerEntry.id)
    ).all()
    for entry in entries:
        if entry.reverses_entry_id != hold.id:  # a reversal publishes its own event
            continue
        if redemption.unit == POINTS:
            _publish_returned(session, redemption, account, entry)
        else:
            credit_side.publish_returned(session, redemption, account, entry)
    return ReturnedPoints(redemption=redemption, entries=entries, expired_again=list(expired))


def _taken_back(session: Session, redemption: Redemption) -> list[LedgerEntry]:
    """The entries that took back points a refund had returned, latest first."""
    return list(
        session.scalars(
            select(LedgerEntry)
            .where(
                LedgerEntry.merchant_id == redemption.merchant_id,
                LedgerEntry.kind == EntryKind.REDEEM,
                LedgerEntry.idempotency_key.like(f"redemption:{redemption.id}:taken_back:%"),
            )
            .order_by(LedgerEntry.id.desc())
        )
    )


def _reversed_of(session: Session, entry: LedgerEntry) -> int:
    """Points of ``entry`` already given back by reversals."""
    total = session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
            LedgerEntry.reverses_entry_id == entry.id
        )
    )
    return int(total or 0)


def _publish_returned(
    session: Session, redemption: Redemption, account: Account, entry: LedgerEntry
) -> None:
    publish(
        session,
        PointsReversed(
            merchant_id=redemption.merchant_id,
            occurred_at=entry.created_at,
            customer_id=account.customer.host_customer_id,
            entry_id=entry.id,
            points=entry.points,
            balance=account.balance,
            reverses_entry_id=redemption.hold_entry_id,
            reference=f"invoice:{redemption.invoice_id}",
        ),
    )


def _lock(session: Session, merchant_id: str, redemption_id: int) -> tuple[Redemption, Account]:
    """The redemption, re-read after locking its account (every writer locks that first)."""
    found = get_redemption(session, merchant_id=merchant_id, redemption_id=redemption_id)
    account = ledger.lock_account(session, found.account_id)
    redemption = session.scalars(
        select(Redemption)
        .where(Redemption.id == redemption_id)
        .execution_options(populate_existing=True)
    ).one()
    return redemption, account


def _lock_group(
    session: Session, merchant_id: str, redemption_id: int
) -> tuple[Redemption, list[Redemption]]:
    """The lead of the redemption (named by its own id or a credit row's) and all its rows,
    re-read after locking their accounts: the points account first, then credit by
    currency (the lead holds the points when there are any; parts come in unit order)."""
    found = get_redemption(session, merchant_id=merchant_id, redemption_id=redemption_id)
    lead, _account = _lock(session, merchant_id, found.lead_id or found.id)
    parts = sorted(lead.parts, key=lambda part: part.unit)
    rows = [lead, *(_lock(session, merchant_id, part.id)[0] for part in parts)]
    return lead, rows


def _for_invoice(session: Session, merchant_id: str, invoice_id: str) -> list[Redemption]:
    return list(
        session.scalars(
            select(Redemption)
            .where(Redemption.merchant_id == merchant_id, Redemption.invoice_id == str(invoice_id))
            .order_by(Redemption.id)
        )
    )


def _locked_for_invoice(session: Session, merchant_id: str, invoice_id: str) -> list[Redemption]:
    """The invoice's redemptions, each re-read after locking its account.

    A status read before the lock may be stale: a capture or release may have committed
    since. The points accounts are locked first in account order, as every batch takes
    them, then the store credit accounts by currency.
    """
    found = _for_invoice(session, merchant_id, invoice_id)
    for _credit, _unit, account_id in sorted(
        {(r.unit != POINTS, r.unit, r.account_id) for r in found}
    ):
        ledger.lock_account(session, account_id)
    return [_lock(session, merchant_id, r.id)[0] for r in found]


def _refuse_second_hold(session: Session, merchant_id: str, invoice_id: str) -> None:
    """One redemption per invoice: a held one must be released, a captured one stands.

    A second redemption on a captured invoice would escape the per-invoice caps, which the
    quote computes for the invoice as a whole.
    """
    active = session.execute(
        select(Redemption.id, Redemption.status).where(
            Redemption.merchant_id == merchant_id,
            Redemption.invoice_id == invoice_id,
            Redemption.status.in_((RedemptionStatus.HELD, RedemptionStatus.CAPTURED)),
        )
    ).first()
    if active is None:
        return
    if active.status == RedemptionStatus.HELD:
        message = f"invoice {invoice_id!r} already has hold {active.id}; release it first"
    else:
        message = f"invoice {invoice_id!r} was already paid with points (redemption {active.id})"
    raise InvalidOperation(message, field="invoice.id")


def _insert_hold(session: Session, redemption: Redemption) -> None:
    """Insert the hold; another customer's hold on the invoice, made meanwhile, wins.

    The accounts' locks cannot see that race (each customer holds their own), so the
    unique key on ``active_invoice_id`` decides: the loser gets the 409 a later hold gets.
    """
    try:
        with session.begin_nested():
            session.add(redemption)
    except IntegrityError as error:
        # The winner's row names it when this transaction can see it (MariaDB's snapshot
        # may predate it).
        _refuse_second_hold(session, redemption.merchant_id, redemption.invoice_id)
        raise InvalidOperation(
            f"invoice {redemption.invoice_id!r} already has a hold; release it first",
            field="invoice.id",
        ) from error


def held_redemption_for_invoice(
    session: Session, *, merchant_id: str, invoice_id: str
) -> Redemption | None:
    """The hold waiting for this invoice to be paid, if there is one."""
    return next(
        (
            r
            for r in _for_invoice(session, merchant_id, invoice_id)
            if r.status == RedemptionStatus.HELD and r.lead_id is None
        ),
        None,
    )


def _quote_details(offer: Quote) -> dict[str, object]:
    return {
        "rate": _text(offer.rate),
        "exchange_rate": _text(offer.exchange_rate),
        "bound_by": str(offer.bound_by),
        "limits": offer.limits,
        "eligible_amount": _text(offer.eligible_amount),
        "values": [
            {"points": v.points, "level": v.level, "rate": _text(v.rate)} for v in offer.values
        ],
    }


def _text(value: Decimal) -> str:
    """Exact decimal text without exponent (``0.01``, ``1``)."""
    return format(value.normalize(), "f")
