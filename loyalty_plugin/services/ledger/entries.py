"""Ledger operations: earn, spend, reverse, adjust and expire, each one idempotent.

Every operation locks the account row first (``SELECT ... FOR UPDATE`` on PostgreSQL and
MariaDB; SQLite transactions start with ``BEGIN IMMEDIATE``), so two writers to one
account take turns and points are never spent twice. Operations flush but never commit:
the caller owns the transaction (see :mod:`loyalty_plugin.services.transaction`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import fields as dataclass_fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty_plugin.domain import ledger as rules
from loyalty_plugin.domain.coupons import CouponStatus
from loyalty_plugin.domain.errors import (
    InvalidOperation,
    LoyaltyError,
    NotFound,
    ValidationError,
)
from loyalty_plugin.domain.events import (
    CreditExpired,
    DomainEvent,
    PointsEarned,
    PointsExpired,
    PointsRedeemed,
    PointsReversed,
)
from loyalty_plugin.domain.ledger import Allocation as Move
from loyalty_plugin.domain.ledger import EntryKind, OpeningLot
from loyalty_plugin.domain.money import from_minor
from loyalty_plugin.domain.points import check_points
from loyalty_plugin.models import (
    Account,
    Allocation,
    Coupon,
    LedgerEntry,
    Lot,
    Redemption,
    RedemptionStatus,
)
from loyalty_plugin.services.events import publish
from loyalty_plugin.services.ledger.accounts import open_account
from loyalty_plugin.services.ledger.postings import (
    Money,
    Reference,
    append_entry,
    apply_moves,
    check_clock,
    in_spending_order,
    open_lot,
    open_lots,
    replayed,
    spendable,
    spendable_lots,
    take_fifo,
    with_debt_change,
)
from loyalty_plugin.services.memo import recall, remember

SYSTEM = "system"


def earn(
    session: Session,
    *,
    account_id: int,
    points: int,
    now: datetime,
    actor: str,
    expires_at: datetime | None = None,
    available_from: datetime | None = None,
    money: Money | None = None,
    reference: Reference | None = None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
    kind: EntryKind = EntryKind.EARN,
    level: str | None = None,
    key_is_new: bool = False,
) -> LedgerEntry:
    """Credit ``points`` as a new lot; pending until ``available_from`` if given.

    ``level`` is the membership level the customer holds now, kept on the lot for
    fallback redemption. ``key_is_new``: the caller knows no entry can hold
    ``idempotency_key`` yet (it names a row created in this transaction), so it is not
    looked up; the unique key still refuses a duplicate.
    """
    check_points(points)
    check_clock(now)
    if kind not in (EntryKind.EARN, EntryKind.ADJUST):
        raise ValidationError(f"cannot credit points as {kind}", field="kind")
    if expires_at is not None and expires_at <= now:
        raise ValidationError("expiry must be after the earn date", field="expires_at")
    if available_from is not None and expires_at is not None and available_from >= expires_at:
        raise ValidationError(
            "points cannot become available after they expire", field="available_from"
        )
    request = rules.fingerprint(
        op="earn",
        kind=kind,
        account=account_id,
        points=points,
        money=_money_key(money),
        reference=_ref_key(reference),
        reason=reason,
    )
    account = lock_account(session, account_id)
    if not key_is_new and (
        replay := replayed(session, account.merchant_id, idempotency_key, request)
    ):
        return replay
    repaid = min(account.debt, points)
    # Counted before the entry is flushed: one UPDATE of the account instead of two.
    account.lifetime_earned += points if kind == EntryKind.EARN else 0
    entry = append_entry(
        session,
        account,
        kind=kind,
        points=points,
        now=now,
        actor=actor,
        money=money,
        reference=reference,
        reason=reason,
        details=with_debt_change(details, -repaid),
        idempotency_key=idempotency_key,
        request_hash=request,
    )
    lot = open_lot(
        session, entry, now=now, expires_at=expires_at, available_from=available_from, level=level
    )
    if repaid:
        # Points owed from an earlier reversal are paid first, out of the new lot.
        session.flush()
        apply_moves(session, entry, [Move(lot.id, -repaid)])
        account.debt -= repaid
    if kind == EntryKind.EARN:
        _notify(session, account, entry, PointsEarned, reason=reason)
    return entry


def open_balance(
    session: Session,
    *,
    account_id: int,
    lots: Sequence[OpeningLot],
    now: datetime,
    actor: str,
    reason: str = "opening balance from the previous loyalty system",
) -> tuple[list[LedgerEntry], bool]:
    """Credit an opening balance brought from another system: one ``migration`` entry and
    lot per item of ``lots``, each keeping its own earn and expiry dates.

    An account has at most one opening balance. Checked under the account's lock: the same
    ``lots`` again return the entries written the first time (a repeated import), other
    lots raise :class:`InvalidOperation`. No notification is sent: these points are not
    news to the customer. Returns the entries and whether they were written now.
    """
    check_clock(now)
    request = check_opening(lots, now)
    account = lock_account(session, account_id)
    existing = _opening_entries(session, account.merchant_id, account.id)
    if existing:
        if existing[0].request_hash != request:
            raise second_opening_balance(
                session, merchant_id=account.merchant_id, account_id=account.id
            )
        return existing, False
    entries = []
    for lot in sorted(lots, key=lambda x: (x.earned_at, x.expires_at is None, x.points)):
        repaid = min(account.debt, lot.points)
        entry = append_entry(
            session,
            account,
            kind=EntryKind.MIGRATION,
            points=lot.points,
            now=now,
            actor=actor,
            reason=reason,
            details=with_debt_change({"earned_at": lot.earned_at.isoformat()}, -repaid),
            request_hash=request,
        )
        new = open_lot(
            session,
            entry,
            now=lot.earned_at,
            expires_at=lot.expires_at,
            available_from=lot.earned_at,
        )
        if repaid:
            session.flush()
            apply_moves(session, entry, [Move(new.id, -repaid)])
            account.debt -= repaid
        entries.append(entry)
    return entries, True


def open_balances(
    session: Session,
    *,
    merchant_id: str,
    balances: dict[int, Sequence[OpeningLot]],
    now: datetime,
    actor: str,
    reason: str = "opening balance from the previous loyalty system",
) -> dict[int, bool | LoyaltyError]:
    """:func:`open_balance` for many accounts in a few statements, for imports.

    The accounts are locked in one statement, in id order (as the expiry batches lock
    them, so two imports never deadlock); the entries, then the lots, are inserted in bulk.
    Per account: ``True`` written now, ``False`` the same opening balance was there, or
    the error refusing it. An account owing points takes the one-account path, which
    repays the debt first.
    """
    check_clock(now)
    results: dict[int, bool | LoyaltyError] = {}
    requests: dict[int, str] = {}
    for account_id, lots in balances.items():
        try:
            requests[account_id] = check_opening(lots, now)
        except LoyaltyError as error:
            results[account_id] = error
    accounts = {
        account.id: account
        for account in session.scalars(
            select(Account)
            .where(Account.merchant_id == merchant_id, Account.id.in_(requests))
            .order_by(Account.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    }
    found = session.execute(
        select(LedgerEntry.account_id, LedgerEntry.request_hash).where(
            LedgerEntry.merchant_id == merchant_id,
            LedgerEntry.account_id.in_(requests),
            LedgerEntry.kind == EntryKind.MIGRATION,
        )
    ).all()
    existing = {account_id: request for account_id, request in found}
    written: list[tuple[LedgerEntry, OpeningLot]] = []
    for account_id, request in requests.items():
        account = accounts.get(account_id)
        if account is None:
            results[account_id] = NotFound(
                f"account {account_id} does not exist", field="account_id"
            )
        elif account_id in existing:
            same = existing[account_id] == request
            results[account_id] = (
                False
                if same
                else second_opening_balance(session, merchant_id=merchant_id, account_id=account_id)
            )
        elif account.debt:
            results[account_id] = open_balance(
                session, account_id=account_id, lots=balances[account_id], now=now, actor=actor
            )[1]
        else:
            written += _opening_entries_for(
                account, balances[account_id], request, now, actor, reason
            )
            results[account_id] = True
    session.add_all(entry for entry, _lot in written)
    session.flush()
    session.add_all(
        Lot(
            merchant_id=merchant_id,
            account_id=entry.account_id,
            entry_id=entry.id,
            unit=entry.unit,
            points=lot.points,
            remaining=lot.points,
            earned_at=lot.earned_at,
            available_from=lot.earned_at,
            expires_at=lot.expires_at,
        )
        for entry, lot in written
    )
    session.flush()
    return results


def _opening_entries_for(
    account: Account,
    lots: Sequence[OpeningLot],
    request: str,
    now: datetime,
    actor: str,
    reason: str,
) -> list[tuple[LedgerEntry, OpeningLot]]:
    """The unsaved ``migration`` entries of one opening balance; moves the balance."""
    entries = []
    for lot in sorted(lots, key=lambda x: (x.earned_at, x.expires_at is None, x.points)):
        account.balance += lot.points
        entry = LedgerEntry(
            merchant_id=account.merchant_id,
            account_id=account.id,
            unit=account.unit,
            kind=EntryKind.MIGRATION,
            points=lot.points,
            balance_after=account.balance,
            actor=actor,
            reason=reason,
            details={"earned_at": lot.earned_at.isoformat()},
            request_hash=request,
            created_at=now,
        )
        entries.append((entry, lot))
    account.updated_at = now
    return entries


def spend(
    session: Session,
    *,
    account_id: int,
    points: int,
    now: datetime,
    actor: str,
    kind: EntryKind = EntryKind.REDEEM,
    money: Money | None = None,
    reference: Reference | None = None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> LedgerEntry:
    """Debit ``points`` from the spendable lots, soonest-expiring first.

    Raises :class:`InsufficientPoints` and writes nothing when the account has too few.
    """
    check_points(points)
    check_clock(now)
    if kind not in (EntryKind.REDEEM, EntryKind.HOLD, EntryKind.TRANSFER):
        raise ValidationError(f"cannot spend as {kind}", field="kind")
    request = rules.fingerprint(
        op="spend",
        kind=kind,
        account=account_id,
        points=points,
        money=_money_key(money),
        reference=_ref_key(reference),
        reason=reason,
    )
    account = lock_account(session, account_id)
    if replay := replayed(session, account.merchant_id, idempotency_key, request):
        return replay
    moves = take_fifo(session, account.id, now, points)
    entry = append_entry(
        session,
        account,
        kind=kind,
        points=-points,
        now=now,
        actor=actor,
        money=money,
        reference=reference,
        reason=reason,
        details=details,
        idempotency_key=idempotency_key,
        request_hash=request,
        moves=moves,
    )
    account.lifetime_redeemed += points if kind == EntryKind.REDEEM else 0
    if kind == EntryKind.REDEEM:
        _notify(session, account, entry, PointsRedeemed, points=points)
    return entry


def take_back(
    session: Session,
    *,
    account_id: int,
    points: int,
    now: datetime,
    actor: str,
    reason: str,
    reference: Reference | None = None,
    idempotency_key: str | None = None,
    details: dict[str, Any] | None = None,
) -> LedgerEntry | None:
    """Spend again ``points`` a refund had returned from a redemption (a ``redeem`` entry).

    The engine's default shortfall policy, as for a refund's reversal of earned points
    (``reverse(take_shortfall_from_other_lots=True, owe_set_aside=True)``): the points come
    out of the spendable lots, soonest-expiring first; of what they lack, the part the
    customer still has set aside (on hold, in unused coupons) is owed as ``account.debt``,
    the rest (spent for good) is forgiven. Returns None when nothing could be taken.
    """
    check_points(points)
    check_clock(now)
    request = rules.fingerprint(
        op="take_back",
        account=account_id,
        points=points,
        reference=_ref_key(reference),
        reason=reason,
    )
    account = lock_account(session, account_id)
    if replay := replayed(session, account.merchant_id, idempotency_key, request):
        return replay
    lots = spendable_lots(session, account.id, now)
    taken = min(points, sum(v.remaining for v in lots))
    moves = rules.allocate_fifo(lots, taken) if taken else []
    owed = min(points - taken, points_set_aside(session, account.id))
    if not taken and not owed:
        return None
    entry = append_entry(
        session,
        account,
        kind=EntryKind.REDEEM,
        points=-(taken + owed),
        now=now,
        actor=actor,
        reference=reference,
        reason=reason,
        details=with_debt_change(details, owed),
        idempotency_key=idempotency_key,
        request_hash=request,
        moves=moves,
    )
    account.debt += owed
    account.lifetime_redeemed += taken + owed
    _notify(session, account, entry, PointsRedeemed, points=taken + owed)
    return entry


def adjust(
    session: Session,
    *,
    account_id: int,
    points: int,
    now: datetime,
    actor: str,
    reason: str,
    expires_at: datetime | None = None,
    idempotency_key: str | None = None,
    level: str | None = None,
) -> LedgerEntry:
    """Manual credit (a new lot at ``level``) or debit (FIFO) with a required reason."""
    check_points(points, positive=False)
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationError("a reason is required", field="reason")
    reference = Reference("adjustment", idempotency_key or "manual")
    if points > 0:
        return earn(
            session,
            account_id=account_id,
            points=points,
            now=now,
            actor=actor,
            expires_at=expires_at,
            reason=reason,
            reference=reference,
            idempotency_key=idempotency_key,
            kind=EntryKind.ADJUST,
            level=level,
        )
    request = rules.fingerprint(op="adjust", account=account_id, points=points, reason=reason)
    account = lock_account(session, account_id)
    if replay := replayed(session, account.merchant_id, idempotency_key, request):
        return replay
    moves = take_fifo(session, account.id, now, -points)
    return append_entry(
        session,
        account,
        kind=EntryKind.ADJUST,
        points=points,
        now=now,
        actor=actor,
        reference=reference,
        reason=reason,
        idempotency_key=idempotency_key,
        request_hash=request,
        moves=moves,
    )


def reverse(
    session: Session,
    *,
    entry_id: int,
    now: datetime,
    actor: str,
    points: int | None = None,
    reason: str | None = None,
    reference: Reference | None = None,
    idempotency_key: str | None = None,
    take_shortfall_from_other_lots: bool = False,
    shortfall_as_debt: bool = False,
    owe_set_aside: bool = False,
    details: dict[str, Any] | None = None,
) -> LedgerEntry:
    """Undo ``points`` (default: all not yet undone) of an earlier entry.

    A credit is taken back out of the lot it created; if the customer already spent some of
    it, only what is left is reversed, unless ``take_shortfall_from_other_lots``. With
    ``shortfall_as_debt`` the whole amount is reversed: what the lot and the customer's
    other lots (pending ones included) cannot give becomes ``account.debt``, and the
    balance goes negative by it until later points repay it. With ``owe_set_aside`` only
    the part of that shortfall the customer still has set aside (on hold, or in unused
    coupons bought with points; see :func:`points_set_aside`) becomes debt, and the rest
    is not reversed. A debit is given back to the
    very lots it consumed, latest-expiring first (repaying any debt first); points returned
    to a lot that has expired in the meantime expire again in a second entry. What a debit
    owed (a :func:`take_back` short of spendable points) comes back last: it cuts the debt,
    or, where later points have repaid that debt, comes back as a new lot with no expiry.
    """
    check_clock(now)
    original = session.get(LedgerEntry, entry_id)
    if original is None:
        raise NotFound(f"ledger entry {entry_id} does not exist", field="entry_id")
    if original.kind == EntryKind.REVERSE or original.reverses_entry_id is not None:
        raise InvalidOperation("a reversal cannot itself be reversed", field="entry_id")
    if original.kind in rules.MOVE_KINDS:
        # The points are with the other customer now: a transfer back undoes a transfer.
        raise InvalidOperation(
            "points moved between customers cannot be reversed; transfer them back",
            field="entry_id",
        )
    if original.kind == EntryKind.EXPIRE:
        # The lots are still past their date, so the points would only expire again.
        raise InvalidOperation(
            "expired points cannot be reversed; give them back with an adjustment",
            field="entry_id",
        )
    request = rules.fingerprint(
        op="reverse", entry=entry_id, points=points, reason=reason, reference=_ref_key(reference)
    )
    account = lock_account(session, original.account_id)
    if replay := replayed(session, account.merchant_id, idempotency_key, request):
        return replay
    left = abs(original.points) - _already_reversed(session, original)
    wanted = left if points is None else check_points(points)
    if wanted > left or left == 0:
        raise ValidationError(
            f"only {left} points of entry {entry_id} can still be reversed", field="points"
        )
    if original.points > 0:
        moves, debt_change = _take_back_credit(
            session,
            original,
            account.id,
            wanted,
            now,
            take_shortfall_from_other_lots or shortfall_as_debt,
            as_debt=shortfall_as_debt,
            owe_set_aside=owe_set_aside,
        )
        signed, fresh = sum(m.points for m in moves) - debt_change, 0
    else:
        moves, debt_change, fresh = _give_back_debit(session, original, account.debt, wanted)
        signed = wanted
    kind = EntryKind.RELEASE if original.kind == EntryKind.HOLD else EntryKind.REVERSE
    entry = append_entry(
        session,
        account,
        kind=kind,
        points=signed,
        now=now,
        actor=actor,
        reference=reference or _entry_reference(original),
        reason=reason,
        details=with_debt_change(details, debt_change),
        idempotency_key=idempotency_key,
        request_hash=request,
        moves=moves,
        reverses=original,
    )
    if fresh:
        open_lot(session, entry, now=now, expires_at=None, available_from=None, points=fresh)
    account.debt += debt_change
    _adjust_lifetime(account, original.kind, -signed)
    if kind == EntryKind.REVERSE:
        _notify(session, account, entry, PointsReversed, reverses_entry_id=original.id)
    if original.points < 0:
        expire_due_lots(session, account_id=account.id, now=now, actor=actor)
    return entry


def expire_due_lots(
    session: Session, *, account_id: int, now: datetime, actor: str = SYSTEM
) -> LedgerEntry | None:
    """Expire what remains of the account's lots due by ``now``, as one entry (or none)."""
    check_clock(now)
    account = lock_account(session, account_id)
    due = session.scalars(
        select(Lot)
        .where(Lot.account_id == account.id, Lot.holds_points, Lot.expires_at <= now)
        .order_by(Lot.expires_at, Lot.id)
    ).all()
    if not due:
        return None
    moves = [Move(lot.id, -lot.remaining) for lot in due]
    credit = rules.is_credit(account.unit)
    entry = append_entry(
        session,
        account,
        kind=EntryKind.EXPIRE,
        points=sum(m.points for m in moves),
        now=now,
        actor=actor,
        # The same words as the set-based expiry job's (services/ledger/expiry.py).
        reason="store credit reached its expiry date"
        if credit
        else "points reached their expiry date",
        moves=moves,
    )
    account.lifetime_expired -= entry.points
    if credit:
        _credit_expired(session, account, entry)
    else:
        _notify(session, account, entry, PointsExpired, points=-entry.points)
    return entry


def _credit_expired(session: Session, account: Account, entry: LedgerEntry) -> None:
    """Publish ``credit.expired`` for a credit account's expire entry (money, #19)."""
    session.flush()
    unit = account.unit
    publish(
        session,
        CreditExpired(
            merchant_id=account.merchant_id,
            occurred_at=entry.created_at,
            customer_id=account.customer.host_customer_id,
            entry_id=entry.id,
            currency=unit,
            amount=str(from_minor(-entry.points, unit)),
            balance=str(from_minor(account.balance, unit)),
        ),
    )


def check_opening(lots: Sequence[OpeningLot], now: datetime) -> str:
    """Refuse an empty or impossible opening balance; its fingerprint, the same in any order."""
    if not lots:
        raise ValidationError("an opening balance needs at least one lot", field="points")
    for lot in lots:
        check_points(lot.points)
        check_clock(lot.earned_at)
        if lot.earned_at > now:
            raise ValidationError("the earn date is in the future", field="earned_at")
        if lot.expires_at is not None and lot.expires_at <= now:
            raise ValidationError("these points have already expired", field="expires_at")
    keys = sorted(
        (lot.points, _utc(lot.earned_at), _utc(lot.expires_at) if lot.expires_at else "")
        for lot in lots
    )
    return rules.fingerprint(op="opening_balance", lots=keys)


def second_opening_balance(
    session: Session, *, merchant_id: str, account_id: int
) -> InvalidOperation:
    """The error refusing another opening balance for an account that has one."""
    existing = _opening_entries(session, merchant_id, account_id)
    return InvalidOperation(
        f"customer already has an opening balance of {sum(e.points for e in existing)} "
        f"points (imported {existing[0].created_at:%Y-%m-%d}); a second one is refused",
        field="customer_id",
    )


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _opening_entries(session: Session, merchant_id: str, account_id: int) -> list[LedgerEntry]:
    # Found through ``ix_ledger_entries_account`` (account, id).
    return list(
        session.scalars(
            select(LedgerEntry)
            .where(
                LedgerEntry.merchant_id == merchant_id,
                LedgerEntry.account_id == account_id,
                LedgerEntry.kind == EntryKind.MIGRATION,
            )
            .order_by(LedgerEntry.id)
        )
    )


def lock_account(session: Session, account_id: int) -> Account:
    """Load the account row with a write lock held until the transaction ends.

    The account of a merged customer hands over to its survivor's: that one is locked too
    and returned, so a change that waited for the merge's lock (or came after it) is made
    to the survivor, whose lots the merged points now are.
    """
    held = recall(session, ("locked account", account_id))
    if held is not None and held in session:
        # Locked earlier in this transaction: the row as locked, and as changed since, so
        # no second SELECT ... FOR UPDATE (issue 20). Kept by reference: the identity map
        # holds rows weakly.
        session.flush()  # as the SELECT's autoflush did: callers expect pending writes out
        return held
    account = _lock_one(session, account_id)
    seen = {account.id}
    while account.merged_into_id is not None:
        account = _lock_one(session, account.merged_into_id)
        if account.id in seen:
            raise AssertionError(f"account {account_id} is merged in a circle")
        seen.add(account.id)
    for locked in seen:
        remember(session, ("locked account", locked), account)
    return account


def lock_credit_account(session: Session, points_account_id: int, unit: str) -> Account:
    """The store credit account in ``unit`` of the customer whose points account this is
    (after a merge, the survivor's), opened on first use and locked after that points
    account: the order every writer takes (#19)."""
    points = lock_account(session, points_account_id)
    credit = open_account(
        session, merchant_id=points.merchant_id, customer_id=points.customer_id, unit=unit
    )
    return lock_account(session, credit.id)


def lock_customer_account(
    session: Session, *, merchant_id: str, customer_id: int, unit: str = rules.POINTS
) -> Account | None:
    """The customer's account of ``unit`` (points by default), locked as by
    :func:`lock_account`, in one statement when it exists and is not merged; ``None`` when
    the customer has no such account yet. An account locked earlier in the transaction
    (:func:`lock_customer_accounts`) is not read again."""
    held = locked_account_of(session, merchant_id=merchant_id, customer_id=customer_id, unit=unit)
    if held is not None:
        return lock_account(session, held)
    account = session.scalars(
        select(Account)
        .where(
            Account.merchant_id == merchant_id,
            Account.customer_id == customer_id,
            Account.unit == unit,
        )
        .with_for_update(of=Account)
        .execution_options(populate_existing=True)
    ).one_or_none()
    if account is None or account.merged_into_id is not None:
        return None if account is None else lock_account(session, account.id)
    remember(session, ("locked account", account.id), account)
    remember(session, ("account of customer", merchant_id, customer_id, unit), account.id)
    return account


def lock_customer_accounts(
    session: Session, *, merchant_id: str, customer_ids: Sequence[int]
) -> None:
    """Lock the points accounts of several customers in one statement, in the order of their
    ids, for :func:`lock_customer_account` to take later in the transaction without a
    statement each (the intake worker's batch). Merged accounts are left to be locked one
    by one."""
    if not customer_ids:
        return
    accounts = session.scalars(
        select(Account)
        .where(
            Account.merchant_id == merchant_id,
            Account.customer_id.in_(sorted(customer_ids)),
            Account.unit == rules.POINTS,
        )
        .order_by(Account.id)
        .with_for_update(of=Account)
        .execution_options(populate_existing=True)
    ).all()
    for account in accounts:
        if account.merged_into_id is None:
            key = ("account of customer", merchant_id, account.customer_id, rules.POINTS)
            remember(session, ("locked account", account.id), account)
            remember(session, key, account.id)


def locked_account_of(
    session: Session, *, merchant_id: str, customer_id: int, unit: str = rules.POINTS
) -> int | None:
    """The id of the customer's account of ``unit`` if :func:`lock_customer_account`
    locked it in this transaction, else ``None``."""
    return recall(session, ("account of customer", merchant_id, customer_id, unit))


def _lock_one(session: Session, account_id: int) -> Account:
    account = session.scalars(
        select(Account)
        .where(Account.id == account_id)
        .with_for_update(of=Account)
        .execution_options(populate_existing=True)
    ).one_or_none()
    if account is None:
        raise NotFound(f"account {account_id} does not exist", field="account_id")
    return account


def spendable_points(session: Session, account_id: int, now: datetime) -> int:
    """Points the account could spend at ``now``: not pending, not past expiry."""
    # Summed by the database: an account may have thousands of open lots.
    total = session.scalar(
        select(func.coalesce(func.sum(Lot.remaining), 0)).where(*spendable(account_id, now))
    )
    return int(total or 0)


def spendable_by_level(
    session: Session, account_id: int, now: datetime
) -> list[tuple[int, str | None]]:
    """The spendable points in the order a spend takes them, as ``(points, level)`` runs.

    Consecutive lots earned at the same level are merged, so an account's thousand lots
    of one level are one run.
    """
    query = in_spending_order(select(Lot.remaining, Lot.level), account_id, now)
    runs: list[tuple[int, str | None]] = []
    for remaining, level in session.execute(query):
        if runs and runs[-1][1] == level:
            runs[-1] = (runs[-1][0] + remaining, level)
        else:
            runs.append((remaining, level))
    return runs


def points_set_aside(session: Session, account_id: int) -> int:
    """Points the account took out of its lots but has not spent for good yet.

    Those on hold against an open invoice, and those that bought a coupon still unused
    (not redeemed, expired or refunded): a release or a refund may still give them back.
    """
    held = session.scalar(
        select(func.coalesce(func.sum(Redemption.points), 0)).where(
            Redemption.account_id == account_id, Redemption.status == RedemptionStatus.HELD
        )
    )
    in_coupons = session.scalar(
        select(func.coalesce(func.sum(Coupon.points), 0)).where(
            Coupon.account_id == account_id,
            Coupon.status == CouponStatus.ACTIVE,
            Coupon.entry_id.is_not(None),
            Coupon.refund_entry_id.is_(None),
        )
    )
    return int(held or 0) + int(in_coupons or 0)


def pending_points(session: Session, account_id: int, now: datetime) -> int:
    """Points earned but still inside their waiting period."""
    total = session.scalar(
        select(func.coalesce(func.sum(Lot.remaining), 0)).where(
            Lot.account_id == account_id, Lot.holds_points, Lot.available_from > now
        )
    )
    return int(total or 0)


# -- internals -------------------------------------------------------------------------


def _notify(
    session: Session,
    account: Account,
    entry: LedgerEntry,
    event_type: type[DomainEvent],
    **fields: Any,
) -> None:
    """Publish what ``entry`` did (outbox now, hooks after commit); a replay publishes nothing.

    Points events only: store credit is announced by the service that moved it (its
    amounts are money, not points), so a credit account publishes nothing here.
    """
    # The operation's last writes go out now, as they did when the account's customer was
    # loaded here (its SELECT flushed them): an account locked once per transaction no
    # longer has that load (issue 20).
    session.flush()
    if rules.is_credit(account.unit):
        return
    values: dict[str, Any] = {
        "merchant_id": account.merchant_id,
        "occurred_at": entry.created_at,
        "customer_id": account.customer.host_customer_id,
        "entry_id": entry.id,
        "points": entry.points,
        "balance": account.balance,
        "reference": _reference_text(entry),
    } | fields
    names = {f.name for f in dataclass_fields(event_type)}
    publish(session, event_type(**{k: v for k, v in values.items() if k in names}))


def _reference_text(entry: LedgerEntry) -> str | None:
    if entry.reference_type is None:
        return None
    return f"{entry.reference_type}:{entry.reference_id}"


def _money_key(money: Money | None) -> tuple[str, str] | None:
    return None if money is None else (str(money.amount), money.currency)


def _ref_key(reference: Reference | None) -> tuple[str, str] | None:
    return None if reference is None else (reference.type, reference.id)


def _entry_reference(entry: LedgerEntry) -> Reference | None:
    if entry.reference_type is None or entry.reference_id is None:
        return None
    return Reference(entry.reference_type, entry.reference_id)


def _already_reversed(session: Session, original: LedgerEntry) -> int:
    total = session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
            LedgerEntry.reverses_entry_id == original.id
        )
    )
    return abs(int(total or 0))


def _net_taken(session: Session, original: LedgerEntry) -> list[Move]:
    """What a debit still holds of each lot, in the order it consumed them."""
    rows = session.execute(
        select(Allocation.lot_id, Allocation.points, Allocation.entry_id)
        .join(LedgerEntry, LedgerEntry.id == Allocation.entry_id)
        .where((LedgerEntry.id == original.id) | (LedgerEntry.reverses_entry_id == original.id))
        .order_by(Allocation.id)
    ).all()
    net: dict[int, int] = defaultdict(int)
    order: list[int] = []
    for lot_id, points, entry_id in rows:
        if entry_id == original.id:
            order.append(lot_id)
        net[lot_id] += points
    return [Move(lot_id, net[lot_id]) for lot_id in order if net[lot_id] < 0]


def _give_back_debit(
    session: Session, original: LedgerEntry, debt: int, wanted: int
) -> tuple[list[Move], int, int]:
    """The moves that give ``wanted`` points of a debit back, the change of debt, and the
    points left for a new lot.

    The lots the debit still holds points of come first (latest-expiring first); then what
    it owed, which cuts the account's ``debt`` while there is any and is a new lot's once
    later points have repaid it. Points given back to lots repay other debt first.
    """
    taken = _net_taken(session, original)
    from_lots = min(wanted, -sum(move.points for move in taken))
    owed_back = wanted - from_lots
    cut = min(owed_back, debt)
    moves, repaid = _repay_from(rules.allocate_restore(taken, from_lots), debt - cut)
    return moves, -(cut + repaid), owed_back - cut


def _take_back_credit(
    session: Session,
    original: LedgerEntry,
    account_id: int,
    wanted: int,
    now: datetime,
    from_others: bool,
    *,
    as_debt: bool = False,
    owe_set_aside: bool = False,
) -> tuple[list[Move], int]:
    """The moves that take ``wanted`` points of a credit back, and the points left owed.

    ``account_id`` is the locked account: the original's, or its survivor's after a merge.
    """
    lot = session.scalars(
        select(Lot).where(Lot.merchant_id == original.merchant_id, Lot.entry_id == original.id)
    ).one()
    take = min(wanted, lot.remaining)
    moves = [Move(lot.id, -take)] if take else []
    shortfall = wanted - take
    if shortfall and from_others:
        # A debt is only recorded once nothing is left anywhere, pending points included.
        lots = open_lots if as_debt else spendable_lots
        others = [v for v in lots(session, account_id, now) if v.id != lot.id]
        taken = min(shortfall, sum(v.remaining for v in others))
        if taken:
            moves += rules.allocate_fifo(others, taken)
        shortfall -= taken
    if as_debt:
        owed = shortfall
    elif owe_set_aside and shortfall:
        # Held or couponed points are not spent yet: forgiving them would let a release
        # or a coupon refund give back points the reversal should have taken.
        owed = min(shortfall, points_set_aside(session, account_id))
    else:
        owed = 0
    if not moves and not owed and not as_debt:
        raise InvalidOperation(
            "the points of this entry were already spent; nothing is left to reverse",
            field="entry_id",
        )
    return moves, owed


def _repay_from(moves: list[Move], debt: int) -> tuple[list[Move], int]:
    """Keep up to ``debt`` of the points ``moves`` give back, to repay it; returns the rest."""
    repaid = min(debt, sum(m.points for m in moves))
    left, kept = repaid, []
    for move in reversed(moves):
        cut = min(left, move.points)
        left -= cut
        if move.points - cut:
            kept.append(Move(move.lot_id, move.points - cut))
    return list(reversed(kept)), repaid


def _adjust_lifetime(account: Account, original_kind: EntryKind, points_back: int) -> None:
    """Keep lifetime counters net of reversals (``points_back`` is the reversal's sign-flip)."""
    if original_kind == EntryKind.EARN:
        account.lifetime_earned -= points_back
    elif original_kind == EntryKind.REDEEM:
        account.lifetime_redeemed += points_back
    elif original_kind == EntryKind.EXPIRE:
        account.lifetime_expired += points_back
