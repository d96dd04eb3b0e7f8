"""Expiring points and store credit in sets: a few statements per batch of accounts,
whatever its lot count.

Date expiry takes every unit's lots past their date (points, and store credit when the
merchant's ``credit_expiry_months`` gave it a date, #19): each account is one unit, so its
entry is in its unit. Inactivity expiry takes points only; the preview counts points only.

Each batch has exactly the effects of :func:`loyalty_plugin.services.ledger.entries.expire_due_lots`
called on each of its accounts: one ``expire`` entry per account (with its
``balance_after``), one allocation per lot, lot remainders set to 0, the balance and the
``lifetime_expired`` counter moved. It takes the same account row locks first, in id order,
so it serialises with every other ledger write and with a second expiry worker: whoever
comes second finds nothing left to expire. Batches never commit; the job commits each one
(see :mod:`loyalty_plugin.jobs.expiry`), which makes a run resumable after a crash.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    and_,
    case,
    cast,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.orm import Session

from loyalty_plugin.domain.credit import credit_expiry_date
from loyalty_plugin.domain.events import CreditExpired, PointsExpired
from loyalty_plugin.domain.expiry import ExpiryKind, ExpiryPolicy, expiry_date, inactivity_cutoff
from loyalty_plugin.domain.ledger import POINTS, EntryKind
from loyalty_plugin.domain.money import from_minor
from loyalty_plugin.models import (
    Account,
    Allocation,
    Customer,
    ExpirySettings,
    LedgerEntry,
    Lot,
    MerchantSettings,
)
from loyalty_plugin.services.audit import Actor, as_actor, record_change
from loyalty_plugin.services.events import publish
from loyalty_plugin.services.ledger.accounts import get_merchant
from loyalty_plugin.services.ledger.entries import SYSTEM
from loyalty_plugin.services.ledger.units import points_only
from loyalty_plugin.services.settings_cache import cached

#: The reason written on date-expiry entries (the same as the one-account service writes).
DATE_REASON = "points reached their expiry date"
#: The reason written on store credit's date-expiry entries.
CREDIT_DATE_REASON = "store credit reached its expiry date"
#: Entry kinds that count as activity for inactivity expiry: earning and spending.
ACTIVITY_KINDS = (EntryKind.EARN, EntryKind.REDEEM, EntryKind.HOLD)


@dataclass(frozen=True, slots=True)
class Batch:
    """What one batch did; ``last_account_id`` is where the next batch starts."""

    accounts: int = 0
    lots: int = 0
    #: Points expired (points accounts only).
    points: int = 0
    last_account_id: int | None = None
    #: Store credit expired per currency, in minor units: ``{"EUR": 420}``.
    credit: dict[str, int] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        """No candidate account was left: the run is over."""
        return self.last_account_id is None


# -- policy ------------------------------------------------------------------------------


def expiry_policy(session: Session, merchant_id: str) -> ExpiryPolicy:
    """The merchant's expiry policy (the defaults when it never chose one); kept across
    requests by :mod:`~loyalty_plugin.services.settings_cache`."""
    return cached(
        session, merchant_id, "expiry_policy", lambda: _expiry_policy(session, merchant_id)
    )


def _expiry_policy(session: Session, merchant_id: str) -> ExpiryPolicy:
    row = session.get(ExpirySettings, merchant_id)
    if row is None:
        return ExpiryPolicy()
    return ExpiryPolicy(
        kind=row.kind,
        days=row.days,
        extra_months=row.extra_months,
        fixed_date=row.fixed_date,
        inactivity_months=row.inactivity_months,
        reminder_days=tuple(row.reminder_days or ()),
    )


def set_expiry_policy(
    session: Session,
    *,
    merchant_id: str,
    policy: ExpiryPolicy,
    now: datetime,
    actor: Actor | str,
) -> ExpirySettings:
    """Store ``policy`` for the merchant; it applies to points earned from now on.

    Audited as ``expiry_policy.updated`` with the policy before and after.
    """
    actor = as_actor(actor)
    get_merchant(session, merchant_id)
    before = asdict(expiry_policy(session, merchant_id))
    row = session.get(ExpirySettings, merchant_id) or ExpirySettings(merchant_id=merchant_id)
    row.kind = policy.kind
    row.days = policy.days if policy.kind == ExpiryKind.DAYS_AFTER_EARNING else None
    row.extra_months = policy.extra_months
    row.fixed_date = policy.fixed_date if policy.kind == ExpiryKind.FIXED_DATE else None
    row.inactivity_months = policy.inactivity_months
    row.reminder_days = sorted(set(policy.reminder_days), reverse=True)
    row.updated_at = now
    row.updated_by = actor.label
    session.add(row)
    session.flush()
    after = asdict(expiry_policy(session, merchant_id))
    if before != after:
        record_change(
            session,
            merchant_id=merchant_id,
            actor=actor,
            action="expiry_policy.updated",
            target_type="expiry_policy",
            target_id=merchant_id,
            before=before,
            after=after,
            now=now,
        )
    return row


def expiry_for_new_points(
    session: Session, *, merchant_id: str, earned_at: datetime
) -> datetime | None:
    """``expires_at`` for points the merchant grants at ``earned_at`` (for ``ledger.earn``)."""
    merchant = get_merchant(session, merchant_id)
    return expiry_date(expiry_policy(session, merchant_id), earned_at, ZoneInfo(merchant.timezone))


def expiry_for_new_credit(
    session: Session, *, merchant_id: str, earned_at: datetime
) -> datetime | None:
    """``expires_at`` for store credit earned at ``earned_at``: the merchant's
    ``credit_expiry_months`` after, or ``None`` (never, the default)."""
    months = session.scalar(
        select(MerchantSettings.credit_expiry_months).where(
            MerchantSettings.merchant_id == merchant_id
        )
    )
    if months is None:
        return None
    merchant = get_merchant(session, merchant_id)
    return credit_expiry_date(months, earned_at, ZoneInfo(merchant.timezone))


# -- preview -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExpiryPreview:
    """What an expiry run at ``at`` would take from one merchant, if nothing changed before."""

    at: datetime
    points: int = 0
    customers: int = 0
    lots: int = 0
    #: Of those, the points and customers taken for inactivity (all their points).
    idle_points: int = 0
    idle_customers: int = 0


def preview_expiry(session: Session, *, merchant_id: str, at: datetime) -> ExpiryPreview:
    """The points, customers (accounts) and lots the ``expire-points`` job would expire at
    ``at``: lots past their date, then every lot of accounts idle since the merchant's
    inactivity cutoff. Read-only; the same conditions as :func:`expire_due_batch` and
    :func:`expire_inactive_batch`.
    """
    get_merchant(session, merchant_id)
    policy = expiry_policy(session, merchant_id)
    dated = and_(Lot.merchant_id == merchant_id, _date_due(at), points_only(Lot))
    due = dated
    idle = None
    if policy.inactivity_months is not None:
        cutoff = inactivity_cutoff(policy.inactivity_months, at)
        idle = and_(
            Lot.merchant_id == merchant_id,
            Lot.holds_points,
            Lot.account_id.in_(_inactive_accounts(merchant_id, cutoff)),
        )
        due = or_(dated, idle)
    points, customers, lots = _lot_totals(session, due)
    preview = ExpiryPreview(at=at, points=points, customers=customers, lots=lots)
    if idle is None:
        return preview
    # What inactivity takes is what date expiry leaves of the idle accounts.
    idle_points, idle_customers, _ = _lot_totals(
        session, and_(idle, or_(Lot.expires_at.is_(None), Lot.expires_at > at))
    )
    return ExpiryPreview(
        at=at,
        points=points,
        customers=customers,
        lots=lots,
        idle_points=idle_points,
        idle_customers=idle_customers,
    )


def _lot_totals(session: Session, condition: ColumnElement[bool]) -> tuple[int, int, int]:
    """Points left, distinct accounts and lots of the lots matching ``condition``."""
    row = session.execute(
        select(
            func.coalesce(func.sum(Lot.remaining), 0),
            func.count(func.distinct(Lot.account_id)),
            func.count(),
        ).where(condition)
    ).one()
    return int(row[0]), int(row[1]), int(row[2])


# -- date expiry -------------------------------------------------------------------------


def _date_due(now: datetime) -> ColumnElement[bool]:
    # Every unit: store credit lots have a date only under credit_expiry_months (#19).
    return and_(Lot.holds_points, Lot.expires_at <= now)


def count_due_lots(session: Session, *, now: datetime, merchant_id: str | None = None) -> int:
    """Lots with points or credit left whose expiry date has passed (of one merchant, or
    all)."""
    due = (
        _date_due(now)
        if merchant_id is None
        else and_(_date_due(now), Lot.merchant_id == merchant_id)
    )
    return session.scalar(select(func.count()).select_from(Lot).where(due)) or 0


def expire_due_batch(
    session: Session,
    *,
    now: datetime,
    after_account: int = 0,
    limit: int = 2000,
    actor: str = SYSTEM,
    merchant_id: str | None = None,
) -> Batch:
    """Expire every due lot of the accounts owning the next ``limit`` due lots.

    Accounts are taken in id order after ``after_account``; all of an account's due lots
    go in the same batch, so each account gets one entry per run. With ``merchant_id``,
    that merchant's accounts only.
    """
    mine = true() if merchant_id is None else Lot.merchant_id == merchant_id
    candidates = session.scalars(
        select(Lot.account_id)
        .where(Lot.account_id > after_account, _date_due(now), mine)
        .order_by(Lot.account_id)
        .limit(limit)
    ).all()
    if not candidates:
        return Batch()
    account_ids = sorted(set(candidates))
    lock_accounts(session, account_ids)
    return _expire(
        session,
        account_ids,
        lot_filter=Lot.expires_at <= now,
        now=now,
        actor=actor,
        reason=DATE_REASON,
        details=None,
        credit_reason=CREDIT_DATE_REASON,
    )


# -- inactivity expiry -------------------------------------------------------------------


def inactivity_cutoffs(
    session: Session, *, now: datetime, merchant_id: str | None = None
) -> dict[str, datetime]:
    """Per merchant with inactivity expiry on: accounts idle since before this expire."""
    query = select(ExpirySettings.merchant_id, ExpirySettings.inactivity_months).where(
        ExpirySettings.inactivity_months.is_not(None)
    )
    if merchant_id is not None:
        query = query.where(ExpirySettings.merchant_id == merchant_id)
    rows = session.execute(query)
    return {merchant: inactivity_cutoff(months, now) for merchant, months in rows}


def expire_inactive_batch(
    session: Session,
    *,
    merchant_id: str,
    cutoff: datetime,
    now: datetime,
    after_account: int = 0,
    limit: int = 500,
    actor: str = SYSTEM,
) -> Batch:
    """Expire all points of the next ``limit`` accounts idle since ``cutoff``."""
    candidates = session.scalars(
        _inactive_accounts(merchant_id, cutoff)
        .where(Account.id > after_account)
        .order_by(Account.id)
        .limit(limit)
    ).all()
    if not candidates:
        return Batch()
    lock_accounts(session, candidates)
    # Re-check under the lock: a purchase may have landed since the candidates were read.
    still_idle = session.scalars(
        _inactive_accounts(merchant_id, cutoff).where(Account.id.in_(candidates))
    ).all()
    if not still_idle:
        return Batch(last_account_id=max(candidates))
    months = _months_between(cutoff, now)
    batch = _expire(
        session,
        sorted(still_idle),
        lot_filter=true(),
        now=now,
        actor=actor,
        reason=f"no points earned or spent for {months} months",
        details={"policy": "inactivity", "months": months},
    )
    return Batch(batch.accounts, batch.lots, batch.points, max(candidates))


def _inactive_accounts(merchant_id: str, cutoff: datetime) -> Any:
    active = exists().where(
        LedgerEntry.merchant_id == merchant_id,
        LedgerEntry.account_id == Account.id,
        LedgerEntry.kind.in_(ACTIVITY_KINDS),
        LedgerEntry.created_at >= cutoff,
    )
    return select(Account.id).where(
        Account.merchant_id == merchant_id,
        # Inactivity takes points; store credit is money the customer keeps.
        points_only(Account),
        Account.balance > 0,
        Account.created_at < cutoff,
        ~active,
    )


def _months_between(cutoff: datetime, now: datetime) -> int:
    return (now.year - cutoff.year) * 12 + now.month - cutoff.month


# -- the set-based core ------------------------------------------------------------------


def lock_accounts(session: Session, account_ids: Sequence[int]) -> None:
    """Lock the accounts' rows in id order (the order every batch uses: no deadlock)."""
    session.execute(
        select(Account.id)
        .where(Account.id.in_(sorted(account_ids)))
        .order_by(Account.id)
        .with_for_update()
    ).all()


def _expire(
    session: Session,
    account_ids: Sequence[int],
    *,
    lot_filter: ColumnElement[bool],
    now: datetime,
    actor: str,
    reason: str,
    details: dict[str, Any] | None,
    credit_reason: str | None = None,
) -> Batch:
    """Expire the lots matching ``lot_filter`` of the locked ``account_ids``.

    Credit accounts' entries say ``credit_reason`` (default: ``reason``).

    The new entries are found again by ``id > watermark``: nobody else can write an entry
    for these accounts while their rows are locked, and ids only grow, so this works the
    same on every backend without ``INSERT ... RETURNING``.
    """
    due = and_(Lot.account_id.in_(account_ids), Lot.holds_points, lot_filter)
    watermark = session.scalar(select(func.coalesce(func.max(LedgerEntry.id), 0)))
    session.execute(
        _insert_entries(
            due,
            now=now,
            actor=actor,
            reason=reason,
            credit_reason=credit_reason or reason,
            details=details,
        )
    )
    new = and_(LedgerEntry.id > watermark, LedgerEntry.account_id.in_(account_ids))
    session.execute(
        insert(Allocation).from_select(
            ["merchant_id", "entry_id", "lot_id", "points"],
            select(Lot.merchant_id, LedgerEntry.id, Lot.id, -Lot.remaining)
            .join(
                LedgerEntry,
                and_(
                    LedgerEntry.merchant_id == Lot.merchant_id,
                    LedgerEntry.account_id == Lot.account_id,
                ),
            )
            .where(due, new)
            .order_by(Lot.account_id, Lot.expires_at, Lot.id),
        )
    )
    lots = session.execute(
        update(Lot).where(due).values(remaining=0).execution_options(synchronize_session=False)
    ).rowcount
    _move_balances(session, new, now)
    return _publish_expired(session, new, now=now, lots=lots, last=max(account_ids))


def _insert_entries(
    due: ColumnElement[bool],
    *,
    now: datetime,
    actor: str,
    reason: str,
    credit_reason: str,
    details: dict[str, Any] | None,
) -> Any:
    """``INSERT ... SELECT`` of one ``expire`` entry per account with due lots."""
    columns = LedgerEntry.__table__.c
    totals = (
        select(Lot.account_id, cast(func.sum(Lot.remaining), BigInteger).label("total"))
        .where(due)
        .group_by(Lot.account_id)
        .subquery()
    )
    rows = (
        select(
            Account.merchant_id,
            Account.id,
            Account.unit,
            literal(EntryKind.EXPIRE, columns.kind.type),
            -totals.c.total,
            Account.balance - totals.c.total,
            literal(actor, columns.actor.type),
            case(
                (Account.unit == POINTS, literal(reason, columns.reason.type)),
                else_=literal(credit_reason, columns.reason.type),
            ),
            literal(details, columns.details.type),
            literal(now, columns.created_at.type),
        )
        .join(totals, totals.c.account_id == Account.id)
        .order_by(Account.id)
    )
    names = [
        "merchant_id",
        "account_id",
        "unit",
        "kind",
        "points",
        "balance_after",
        "actor",
        "reason",
    ]
    return insert(LedgerEntry).from_select([*names, "details", "created_at"], rows)


def _move_balances(session: Session, new: ColumnElement[bool], now: datetime) -> None:
    """Set each account's balance to its new entry's ``balance_after``; count the expired."""
    # ``ix_ledger_entries_account`` (account, id) finds each account's new entry.
    mine = and_(
        new, LedgerEntry.merchant_id == Account.merchant_id, LedgerEntry.account_id == Account.id
    )
    after = select(LedgerEntry.balance_after).where(mine).scalar_subquery()
    points = select(LedgerEntry.points).where(mine).scalar_subquery()
    session.execute(
        update(Account)
        .where(Account.id.in_(select(LedgerEntry.account_id).where(new)))
        .values(balance=after, lifetime_expired=Account.lifetime_expired - points, updated_at=now)
        .execution_options(synchronize_session=False)
    )


def _publish_expired(
    session: Session, new: ColumnElement[bool], *, now: datetime, lots: int, last: int
) -> Batch:
    """Publish one :class:`PointsExpired` (or :class:`CreditExpired`) per new entry; the
    batch's totals."""
    rows = session.execute(
        select(
            LedgerEntry.id,
            LedgerEntry.merchant_id,
            LedgerEntry.unit,
            LedgerEntry.points,
            LedgerEntry.balance_after,
            Customer.host_customer_id,
        )
        .join(Account, Account.id == LedgerEntry.account_id)
        .join(Customer, Customer.id == Account.customer_id)
        .where(new)
        .order_by(LedgerEntry.id)
    ).all()
    credit: dict[str, int] = {}
    for entry_id, merchant_id, unit, points, balance, host_customer_id in rows:
        fields: dict[str, Any] = {
            "merchant_id": merchant_id,
            "occurred_at": now,
            "customer_id": host_customer_id,
            "entry_id": entry_id,
        }
        if unit == POINTS:
            publish(session, PointsExpired(points=-points, balance=balance, **fields))
            continue
        credit[unit] = credit.get(unit, 0) - points
        amount, left = str(from_minor(-points, unit)), str(from_minor(balance, unit))
        publish(session, CreditExpired(currency=unit, amount=amount, balance=left, **fields))
    points = -sum(row.points for row in rows if row.unit == POINTS)
    return Batch(len(rows), lots, points, last, credit)
