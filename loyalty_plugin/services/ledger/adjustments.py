"""Manual adjustments: a named staff member credits or debits points, with a reason.

Every request is kept as an :class:`~loyalty_plugin.models.Adjustment` row (who asked, why,
who approved or rejected, which ledger entry it wrote), and each request, approval and
rejection is in the audit trail (``adjustment.requested|approved|rejected``) under the
``actor`` who made the call: the API key, or the signed-in staff member (by default, the
named ``staff``). Above the merchant's ``adjustment_approval_above``, a second staff member
must approve before anything reaches the ledger.

A credit may expire. Its ``expires_at`` must be in the future when it is requested, and
still when it is applied: if it passed while the request waited, approving it is refused
on ``expires_at`` until the approver gives a new one (or rejects it).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import (
    IdempotencyConflict,
    InvalidOperation,
    NotFound,
    ValidationError,
)
from loyalty_plugin.domain.points import check_points
from loyalty_plugin.models import Adjustment, AdjustmentStatus, StaffRole
from loyalty_plugin.services.audit import Actor, as_actor, record_change
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.accounts import account_for_host_customer
from loyalty_plugin.services.levels import memberships as levels
from loyalty_plugin.services.spending.settings import merchant_settings


def request_adjustment(
    session: Session,
    *,
    merchant_id: str,
    customer_id: str,
    points: int,
    reason: str,
    staff: str,
    now: datetime,
    expires_at: datetime | None = None,
    actor: Actor | None = None,
    role: StaffRole | None = None,
    idempotency_key: str | None = None,
) -> Adjustment:
    """Record the request; apply it at once unless it needs a second staff member.

    ``role`` is the requester's in the admin pages: a ``staff`` member's request always
    waits; a manager's or owner's (and an API caller's, ``None``) waits above the
    merchant's ``adjustment_approval_above``. The same ``idempotency_key`` asks once: a
    repeat returns the first request, a different request with it is refused.
    """
    check_points(points, positive=False)
    reason, staff = _required(reason, "reason"), _required(staff, "staff")
    if expires_at is not None:
        _check_expiry(points, expires_at, now=now)
    account = account_for_host_customer(session, merchant_id, customer_id)
    # The account's lock before the row that references it: the insert takes a shared lock
    # on the account (its foreign key), and two requests each holding that shared lock while
    # waiting for the exclusive one deadlock. Locked first, they queue.
    account = ledger.lock_account(session, account.id)
    if idempotency_key is not None:
        asked = (account.id, points, reason, expires_at)
        if (first := _asked_before(session, merchant_id, idempotency_key, asked)) is not None:
            return first
    adjustment = Adjustment(
        merchant_id=merchant_id,
        account_id=account.id,
        points=points,
        reason=reason,
        expires_at=expires_at,
        status=AdjustmentStatus.PENDING,
        requested_by=staff,
        idempotency_key=idempotency_key,
        created_at=now,
    )
    session.add(adjustment)
    session.flush()
    if _applies_at_once(session, merchant_id, points, role):
        _apply(session, adjustment, now=now, approver=None)
    _record(session, adjustment, "adjustment.requested", None, actor=actor, staff=staff, now=now)
    return adjustment


def approve_adjustment(
    session: Session,
    *,
    merchant_id: str,
    adjustment_id: int,
    staff: str,
    now: datetime,
    note: str | None = None,
    expires_at: datetime | None = None,
    actor: Actor | None = None,
    role: StaffRole | None = None,
) -> Adjustment:
    """A second staff member approves: the adjustment is written to the ledger.

    ``expires_at`` replaces the credit's requested expiry; it is required when that one has
    passed since the request. In the admin pages (``role`` given) a manager or owner decides.
    """
    _check_decider(role)
    adjustment = _pending(session, merchant_id, adjustment_id, _required(staff, "staff"))
    if adjustment.status == AdjustmentStatus.APPLIED and adjustment.decided_by == staff.strip():
        return adjustment
    _check_pending(adjustment)
    before = adjustment_document(adjustment)
    _approved_expiry(adjustment, expires_at, now=now)
    adjustment.decision_note = note
    _apply(session, adjustment, now=now, approver=staff.strip())
    _record(session, adjustment, "adjustment.approved", before, actor=actor, staff=staff, now=now)
    return adjustment


def reject_adjustment(
    session: Session,
    *,
    merchant_id: str,
    adjustment_id: int,
    staff: str,
    now: datetime,
    note: str | None = None,
    actor: Actor | None = None,
    role: StaffRole | None = None,
) -> Adjustment:
    """A second staff member turns it down; the ledger never sees it."""
    _check_decider(role)
    adjustment = _pending(session, merchant_id, adjustment_id, _required(staff, "staff"))
    if adjustment.status == AdjustmentStatus.REJECTED and adjustment.decided_by == staff.strip():
        return adjustment
    _check_pending(adjustment)
    before = adjustment_document(adjustment)
    adjustment.status = AdjustmentStatus.REJECTED
    adjustment.decided_by = staff.strip()
    adjustment.decided_at = now
    adjustment.decision_note = note
    session.flush()
    _record(session, adjustment, "adjustment.rejected", before, actor=actor, staff=staff, now=now)
    return adjustment


def get_adjustment(session: Session, *, merchant_id: str, adjustment_id: int) -> Adjustment:
    """The merchant's adjustment, or :class:`NotFound`."""
    adjustment = session.get(Adjustment, adjustment_id)
    if adjustment is None or adjustment.merchant_id != merchant_id:
        raise NotFound(f"adjustment {adjustment_id} does not exist", field="adjustment_id")
    return adjustment


def list_adjustments(
    session: Session,
    *,
    merchant_id: str,
    limit: int,
    after_id: int | None = None,
    status: AdjustmentStatus | None = None,
) -> Sequence[Adjustment]:
    """Adjustments newest first (``status=pending``: the approval queue)."""
    query = select(Adjustment).where(Adjustment.merchant_id == merchant_id)
    if status is not None:
        query = query.where(Adjustment.status == status)
    if after_id is not None:
        query = query.where(Adjustment.id < after_id)
    return session.scalars(query.order_by(Adjustment.id.desc()).limit(limit)).all()


def adjustment_document(adjustment: Adjustment) -> dict[str, Any]:
    """What the audit trail keeps of an adjustment."""
    return {
        "customer_id": adjustment.account.customer.host_customer_id,
        "points": adjustment.points,
        "reason": adjustment.reason,
        "expires_at": adjustment.expires_at,
        "status": adjustment.status,
        "requested_by": adjustment.requested_by,
        "decided_by": adjustment.decided_by,
        "decision_note": adjustment.decision_note,
        "entry_id": adjustment.entry_id,
    }


def _record(
    session: Session,
    adjustment: Adjustment,
    action: str,
    before: dict[str, Any] | None,
    *,
    actor: Actor | None,
    staff: str,
    now: datetime,
) -> None:
    """Audit a request or decision (with no ``actor``, the named staff member acted)."""
    staff = staff.strip()
    record_change(
        session,
        merchant_id=adjustment.merchant_id,
        actor=actor or Actor.staff(staff, staff),
        action=action,
        target_type="adjustment",
        target_id=adjustment.id,
        before=before,
        after=adjustment_document(adjustment),
        now=now,
    )


def _pending(session: Session, merchant_id: str, adjustment_id: int, staff: str) -> Adjustment:
    """The adjustment, re-read under its account's lock, checked against self-approval."""
    found = get_adjustment(session, merchant_id=merchant_id, adjustment_id=adjustment_id)
    ledger.lock_account(session, found.account_id)
    session.refresh(found)
    if _same_person(staff, found.requested_by):
        raise InvalidOperation(
            "a second staff member must decide; the requester cannot", field="staff"
        )
    return found


def _same_person(one: str, other: str) -> bool:
    """Whether two staff labels name the same person: a signed-in staff member by their id
    (``staff:12 Ana`` is ``staff:12 Ana Maria``), a name given through the API by itself."""
    first, second = as_actor(one), as_actor(other)
    return (first.kind, first.id.casefold()) == (second.kind, second.id.casefold())


def _check_decider(role: StaffRole | None) -> None:
    if role is not None and role < StaffRole.MANAGER:
        raise InvalidOperation("a manager or owner decides on adjustments", field="staff")


def _applies_at_once(
    session: Session, merchant_id: str, points: int, role: StaffRole | None
) -> bool:
    """Staff's requests wait; others wait only above the merchant's threshold."""
    if role is not None and role < StaffRole.MANAGER:
        return False
    threshold = merchant_settings(session, merchant_id).adjustment_approval_above
    return threshold is None or abs(points) <= threshold


def _asked_before(
    session: Session, merchant_id: str, key: str, asked: tuple[object, ...]
) -> Adjustment | None:
    """The request this key made before (read under the account's lock), if it is this one.

    :raises IdempotencyConflict: the key asked for something else.
    """
    first = session.scalars(
        select(Adjustment).where(
            Adjustment.merchant_id == merchant_id, Adjustment.idempotency_key == key
        )
    ).one_or_none()
    if first is None:
        return None
    if (first.account_id, first.points, first.reason, first.expires_at) != asked:
        raise IdempotencyConflict(key)
    return first


def _check_pending(adjustment: Adjustment) -> None:
    if adjustment.status != AdjustmentStatus.PENDING:
        raise InvalidOperation(
            f"adjustment {adjustment.id} is already {adjustment.status} by "
            f"{adjustment.decided_by or adjustment.requested_by}",
            field="adjustment_id",
        )


def _check_expiry(points: int, expires_at: datetime, *, now: datetime) -> None:
    if points < 0:
        raise ValidationError("only a credit can expire, not a debit", field="expires_at")
    if expires_at <= now:
        raise ValidationError("the expiry must be in the future", field="expires_at")


def _approved_expiry(adjustment: Adjustment, expires_at: datetime | None, *, now: datetime) -> None:
    """Take the approver's new expiry, or refuse a requested one that has passed."""
    if expires_at is not None:
        _check_expiry(adjustment.points, expires_at, now=now)
        adjustment.expires_at = expires_at
    elif adjustment.expires_at is not None and adjustment.expires_at <= now:
        raise ValidationError(
            f"the requested expiry ({adjustment.expires_at.isoformat()}) has passed: "
            "approve with a new expires_at in the future, or reject the adjustment",
            field="expires_at",
        )


def _apply(
    session: Session, adjustment: Adjustment, *, now: datetime, approver: str | None
) -> None:
    reason = (
        adjustment.reason if approver is None else f"{adjustment.reason} (approved by {approver})"
    )
    entry = ledger.adjust(
        session,
        account_id=adjustment.account_id,
        points=adjustment.points,
        now=now,
        actor=_ledger_actor(adjustment.requested_by),
        reason=reason,
        expires_at=adjustment.expires_at,
        idempotency_key=f"adjustment:{adjustment.id}",
        level=levels.level_of_new_points(session, account_id=adjustment.account_id, now=now)
        if adjustment.points > 0
        else None,
    )
    adjustment.entry_id = entry.id
    adjustment.status = AdjustmentStatus.APPLIED
    adjustment.decided_by = approver
    adjustment.decided_at = now
    session.flush()


def _ledger_actor(requested_by: str) -> str:
    """How the ledger names the requester: a staff label as is, a bare name as ``staff:``."""
    label = requested_by if requested_by.startswith("staff:") else f"staff:{requested_by}"
    return label[:128]


def _required(value: str, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{field} is required", field=field)
    return value.strip()
