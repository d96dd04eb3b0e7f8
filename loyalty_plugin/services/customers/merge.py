"""Merging two customer records of one merchant into a survivor, in one transaction.

The host merged two records (or staff found the same person twice): everything the
*merged* customer has with the merchant moves to the *survivor*, and the merged record is
kept, marked merged, never deleted. What moves, and the decisions taken:

* **Points**: every lot, with its earn date, expiry and level (``services/ledger/transfers``
  ``move_lots``), as a ``merge_out`` and a ``merge_in`` entry. Pending points stay pending.
  Points owed (debt) move too, and the survivor's next points repay them.
* **Holds** on open invoices move as they are: capturing or releasing one later works on
  the survivor (the hold's lots are the survivor's now). Coupons, invoices, their earnings
  and refunds, adjustments waiting for approval and loyalty cards move as well.
* **Levels**: the merged customer's qualifying history counts for the survivor, whose level
  is decided again; a bought or given level still running, above the survivor's, is
  carried over until its end date.
* **Limits**: a birthday bonus the merged customer had this year (or last or next) counts
  as the survivor's, and the slots of limited rules they used count for the survivor
  where the survivor has not used the same slot: one person gets a bonus once.
* **Consents**: the stricter wins. The survivor receives e-mail (or SMS) only if both
  records had opted in: a consent given on one record is not stretched to cover the
  other's. Enrolment: enrolled if either was. Profile fields the survivor lacks (e-mail,
  phone, address, birthday, card number...) are filled in from the merged record.
* The merged customer's **host id** resolves to the survivor from then on
  (``find_customer``), for host events and API calls alike.

A merge is idempotent: merging a customer again into the same survivor changes nothing and
answers the same. Both accounts are locked in id order first, so a merge and an earning on
the merged customer take turns: the earning either lands before (and its lot moves) or
after (and ``lock_account`` sends it to the survivor). No point is lost or counted twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from loyalty_plugin.domain.coupons import CouponStatus
from loyalty_plugin.domain.errors import InvalidOperation, NotFound, ValidationError
from loyalty_plugin.domain.host_events import birthday_key
from loyalty_plugin.models import (
    Account,
    Adjustment,
    AdjustmentStatus,
    Card,
    Coupon,
    Customer,
    Invoice,
    InvoiceEarning,
    Lot,
    Redemption,
    RedemptionStatus,
    RuleClaim,
)
from loyalty_plugin.services.audit import Actor, as_actor, record_change
from loyalty_plugin.services.idempotency import count_fact, counted_fact
from loyalty_plugin.services.ledger.accounts import find_customer, open_account
from loyalty_plugin.services.ledger.transfers import lock_pair, move_lots
from loyalty_plugin.services.ledger.units import credit_accounts_of
from loyalty_plugin.services.levels import memberships as levels

#: Profile fields the survivor takes from the merged record when it has none.
FILLED_IN = (
    "last_name",
    "email",
    "phone",
    "address_line",
    "city",
    "state",
    "postal_code",
    "country",
    "date_of_birth",
    "customer_group",
    "customer_groups",
    "customer_number",
)
#: Rows that belong to an account and follow the points to the survivor.
_ACCOUNT_ROWS = (Redemption, Coupon, InvoiceEarning, Adjustment)


@dataclass(frozen=True, kw_only=True)
class MergePlan:
    """What a merge would move, for staff to see before they confirm."""

    merged: Customer
    survivor: Customer
    points: int
    pending: int
    debt: int
    lots: int
    holds: int
    coupons: int
    invoices: int
    adjustments: int
    email_opt_in: bool
    sms_opt_in: bool
    enrolled: bool
    #: Profile fields the survivor would take from the merged record.
    filled_in: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Merge:
    """What a merge did (``replayed``: it had been done before; nothing changed now)."""

    merged: Customer
    survivor: Customer
    points: int
    debt: int
    lots: int
    replayed: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The answer of the API and of the host event."""
        return {
            "customer_id": self.merged.host_customer_id,
            "into_customer_id": self.survivor.host_customer_id,
            "points_moved": self.points,
            "debt_moved": self.debt,
            "lots_moved": self.lots,
            "merged_at": self.merged.merged_at.isoformat() if self.merged.merged_at else None,
            "already_merged": self.replayed,
        }


def record(session: Session, *, merchant_id: str, customer_id: int) -> Customer:
    """The merchant's customer record by its own id (merged or not), or :class:`NotFound`."""
    customer = session.get(Customer, customer_id)
    if customer is None or customer.merchant_id != merchant_id:
        raise NotFound(f"customer {customer_id} does not exist", field="customer_id")
    return customer


def plan_merge(
    session: Session, *, merchant_id: str, customer_id: str, into_customer_id: str, now: datetime
) -> MergePlan:
    """What merging ``customer_id`` into ``into_customer_id`` would move (nothing is written)."""
    merged, survivor = _pair(session, merchant_id, customer_id, into_customer_id)
    _check_mergeable(merged, survivor)
    account = open_account(session, merchant_id=merchant_id, customer_id=merged.id)
    lots = session.execute(
        select(func.count(), func.coalesce(func.sum(Lot.remaining), 0)).where(
            Lot.account_id == account.id, Lot.holds_points
        )
    ).one()
    pending = session.scalar(
        select(func.coalesce(func.sum(Lot.remaining), 0)).where(
            Lot.account_id == account.id, Lot.holds_points, Lot.available_from > now
        )
    )
    return MergePlan(
        merged=merged,
        survivor=survivor,
        points=int(lots[1]),
        pending=int(pending or 0),
        debt=account.debt,
        lots=int(lots[0]),
        holds=_count(session, Redemption, account.id, Redemption.status == RedemptionStatus.HELD),
        coupons=_count(session, Coupon, account.id, Coupon.status == CouponStatus.ACTIVE),
        invoices=_count_invoices(session, merchant_id, merged.id),
        adjustments=_count(
            session, Adjustment, account.id, Adjustment.status == AdjustmentStatus.PENDING
        ),
        email_opt_in=merged.email_opt_in and survivor.email_opt_in,
        sms_opt_in=merged.sms_opt_in and survivor.sms_opt_in,
        enrolled=merged.enrolled or survivor.enrolled,
        filled_in=_filled_in(merged, survivor),
    )


def merge_customers(
    session: Session,
    *,
    merchant_id: str,
    customer_id: str,
    into_customer_id: str,
    now: datetime,
    actor: Actor | str,
    reason: str | None = None,
) -> Merge:
    """Merge ``customer_id`` into ``into_customer_id`` (both host ids); see the module."""
    actor = as_actor(actor)
    merged, survivor = _pair(session, merchant_id, customer_id, into_customer_id)
    if merged.merged_into_id == survivor.id:
        return _replayed(merged, survivor)
    mine = open_account(session, merchant_id=merchant_id, customer_id=merged.id)
    theirs = open_account(session, merchant_id=merchant_id, customer_id=survivor.id)
    lock_pair(session, mine.id, theirs.id)
    # Read again under the locks: another merge of either may have committed meanwhile.
    session.refresh(merged)
    session.refresh(survivor)
    if merged.merged_into_id == survivor.id:
        return _replayed(merged, survivor)
    _check_mergeable(merged, survivor)
    before = _summary(merged, survivor, mine)
    reason = (reason or "").strip() or f"merged into customer {survivor.host_customer_id}"
    moved = move_lots(
        session, merged=mine, survivor=theirs, now=now, actor=actor.label, reason=reason
    )
    credit = _move_credit(
        session, merged=merged, survivor=survivor, now=now, actor=actor.label, reason=reason
    )
    _move_rows(session, merged=merged, survivor=survivor, mine=mine, theirs=theirs)
    _carry_limits(session, merged=merged, survivor=survivor, now=now)
    _merge_profile(session, merged, survivor)
    merged.merged_into_id, merged.merged_at = survivor.id, now
    session.flush()
    levels.absorb_levels(
        session,
        merchant_id=merchant_id,
        merged_account_id=mine.id,
        survivor_account_id=theirs.id,
        now=now,
        actor=actor.label,
    )
    result = Merge(
        merged=merged, survivor=survivor, points=moved.points, debt=moved.debt, lots=moved.lots
    )
    record_change(
        session,
        merchant_id=merchant_id,
        actor=actor,
        action="customer.merged",
        target_type="customer",
        target_id=merged.host_customer_id,
        before=before,
        after=result.as_dict()
        | {"reason": reason}
        | ({"credit": credit} if credit else {})
        | _consents(survivor),
        now=now,
    )
    return result


def merge_from_host(
    session: Session,
    *,
    merchant_id: str,
    customer_id: str,
    into_customer_id: str,
    now: datetime,
    actor: Actor | str,
) -> Merge:
    """The host's ``customer.merged``: as :func:`merge_customers`, the survivor known.

    A merged customer we never heard of has nothing to move, but the host may still name
    them later: a bare record (not enrolled, no profile, no bonus) is kept, merged, so that
    their host id names the survivor from then on.
    """
    if find_customer(session, merchant_id, str(customer_id), follow_merge=False) is None:
        _insert_bare(session, merchant_id=merchant_id, host_customer_id=str(customer_id), now=now)
    return merge_customers(
        session,
        merchant_id=merchant_id,
        customer_id=customer_id,
        into_customer_id=into_customer_id,
        now=now,
        actor=actor,
        reason="merged by the host",
    )


def _insert_bare(
    session: Session, *, merchant_id: str, host_customer_id: str, now: datetime
) -> None:
    """A nameless record for a host id, unless a concurrent caller inserted it first."""
    try:
        with session.begin_nested():
            session.add(
                Customer(
                    merchant_id=merchant_id,
                    host_customer_id=host_customer_id,
                    first_name="",
                    enrolled=False,
                    email_opt_in=False,
                    sms_opt_in=False,
                    profile_pending=True,
                    created_at=now,
                    updated_at=now,
                )
            )
    except IntegrityError:
        pass  # theirs is as good as ours


def _pair(
    session: Session, merchant_id: str, customer_id: str, into_customer_id: str
) -> tuple[Customer, Customer]:
    """The merged record itself (not its survivor) and the survivor."""
    merged = find_customer(session, merchant_id, str(customer_id), follow_merge=False)
    if merged is None:
        raise NotFound(f"customer {customer_id!r} does not exist", field="customer_id")
    survivor = find_customer(session, merchant_id, str(into_customer_id), follow_merge=False)
    if survivor is None:
        raise NotFound(f"customer {into_customer_id!r} does not exist", field="into_customer_id")
    if merged.id == survivor.id:
        raise ValidationError(
            "a customer cannot be merged into themselves", field="into_customer_id"
        )
    return merged, survivor


def _move_credit(
    session: Session,
    *,
    merged: Customer,
    survivor: Customer,
    now: datetime,
    actor: str,
    reason: str,
) -> dict[str, int]:
    """Move each store credit account of ``merged`` to the survivor's of the same currency,
    as the points move (lots, debt, counters); the minor units moved per currency.

    Locked after the points accounts, in currency order: every writer of credit locks the
    points account first, so no two of them wait on each other in a circle.
    """
    units = [a.unit for a in session.scalars(credit_accounts_of(merged.merchant_id, merged.id))]
    moved = {}
    for unit in units:
        mine = open_account(
            session, merchant_id=merged.merchant_id, customer_id=merged.id, unit=unit
        )
        theirs = open_account(
            session, merchant_id=merged.merchant_id, customer_id=survivor.id, unit=unit
        )
        lock_pair(session, mine.id, theirs.id)
        lots = move_lots(session, merged=mine, survivor=theirs, now=now, actor=actor, reason=reason)
        moved[unit] = lots.points
    return moved


def _check_mergeable(merged: Customer, survivor: Customer) -> None:
    if merged.merged_into_id is not None:
        raise InvalidOperation(
            f"customer {merged.host_customer_id} was already merged into another customer",
            field="customer_id",
        )
    if survivor.merged_into_id is not None:
        raise InvalidOperation(
            f"customer {survivor.host_customer_id} was merged into another customer; "
            "merge into that one",
            field="into_customer_id",
        )


def _replayed(merged: Customer, survivor: Customer) -> Merge:
    return Merge(merged=merged, survivor=survivor, points=0, debt=0, lots=0, replayed=True)


def _move_rows(
    session: Session, *, merged: Customer, survivor: Customer, mine: Account, theirs: Account
) -> None:
    """Holds, coupons, invoice earnings, adjustments, invoices and cards follow the points."""
    for model in _ACCOUNT_ROWS:
        session.execute(
            update(model).where(model.account_id == mine.id).values(account_id=theirs.id)
        )
    for model in (Invoice, Card):
        session.execute(
            update(model)
            .where(model.merchant_id == merged.merchant_id, model.customer_id == merged.id)
            .values(customer_id=survivor.id)
        )
    # Records merged into this one before now name the survivor (a chain is one step).
    session.execute(
        update(Customer)
        .where(Customer.merged_into_id == merged.id)
        .values(merged_into_id=survivor.id)
    )


def _carry_limits(session: Session, *, merged: Customer, survivor: Customer, now: datetime) -> None:
    """What the merged record already used up counts for the survivor: this year's (and
    last and next year's) birthday bonus, and the slots of limited rules (a review bonus
    once ever...) the survivor has not used itself."""
    merchant_id = merged.merchant_id
    for year in (now.year - 1, now.year, now.year + 1):
        theirs = counted_fact(
            session, merchant_id=merchant_id, key=birthday_key(merged.host_customer_id, year)
        )
        key = birthday_key(survivor.host_customer_id, year)
        if theirs is not None and counted_fact(session, merchant_id=merchant_id, key=key) is None:
            count_fact(session, merchant_id=merchant_id, key=key, event_id=theirs.event_id)
    claims = session.scalars(
        select(RuleClaim).where(
            RuleClaim.merchant_id == merchant_id,
            RuleClaim.customer_id.in_((merged.id, survivor.id)),
        )
    ).all()
    used = {_slot(c) for c in claims if c.customer_id == survivor.id}
    for claim in claims:
        if claim.customer_id == merged.id and _slot(claim) not in used:
            claim.customer_id = survivor.id
    session.flush()


def _slot(claim: RuleClaim) -> tuple[int, str, str, int]:
    return (claim.program_id, claim.rule_id, claim.period, claim.slot)


def _merge_profile(session: Session, merged: Customer, survivor: Customer) -> None:
    """Consents: the stricter wins; enrolled if either was; fill in what the survivor lacks."""
    survivor.email_opt_in = survivor.email_opt_in and merged.email_opt_in
    survivor.sms_opt_in = survivor.sms_opt_in and merged.sms_opt_in
    survivor.enrolled = survivor.enrolled or merged.enrolled
    if not survivor.first_name and merged.first_name:
        survivor.first_name = merged.first_name
    for name in _filled_in(merged, survivor):
        if name != "card_number":
            setattr(survivor, name, getattr(merged, name))
    if survivor.card_number is None and merged.card_number is not None:
        # The card number is unique per merchant: off the merged record first.
        card, merged.card_number = merged.card_number, None
        session.flush()
        survivor.card_number = card
    survivor.profile_pending = survivor.profile_pending and merged.profile_pending


def _filled_in(merged: Customer, survivor: Customer) -> tuple[str, ...]:
    fields = [n for n in FILLED_IN if getattr(survivor, n) is None and getattr(merged, n)]
    if survivor.card_number is None and merged.card_number is not None:
        fields.append("card_number")
    return tuple(fields)


def _summary(merged: Customer, survivor: Customer, account: Account) -> dict[str, Any]:
    return {
        "customer_id": merged.host_customer_id,
        "into_customer_id": survivor.host_customer_id,
        "balance": account.balance,
        "debt": account.debt,
        "survivor": _consents(survivor),
        "merged": _consents(merged),
    }


def _consents(customer: Customer) -> dict[str, Any]:
    return {
        "enrolled": customer.enrolled,
        "email_opt_in": customer.email_opt_in,
        "sms_opt_in": customer.sms_opt_in,
    }


def _count(session: Session, model: Any, account_id: int, *where: Any) -> int:
    total = session.scalar(
        select(func.count()).select_from(model).where(model.account_id == account_id, *where)
    )
    return int(total or 0)


def _count_invoices(session: Session, merchant_id: str, customer_id: int) -> int:
    total = session.scalar(
        select(func.count()).where(
            Invoice.merchant_id == merchant_id, Invoice.customer_id == customer_id
        )
    )
    return int(total or 0)
