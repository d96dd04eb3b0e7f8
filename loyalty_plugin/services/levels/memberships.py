"""Membership levels: qualifying amounts, moves between levels, bought and given levels.

A program whose version has ``levels`` settings keeps one :class:`Membership` per account.
:func:`update_levels` runs right after an earning, refund or cancellation, in the same
transaction: it moves the customer up at once, and down only as the downgrade policy says.
:func:`review_batch` does the same for many accounts with one query per batch (the
``review-levels`` job). Every move appends a :class:`LevelHistory` row and publishes
:class:`LevelChanged`, delivered after commit. Nothing here commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.orm import Session, aliased

from loyalty_plugin.domain.errors import (
    IdempotencyConflict,
    InvalidOperation,
    NotFound,
    ValidationError,
)
from loyalty_plugin.domain.events import LevelChanged
from loyalty_plugin.domain.ledger import EntryKind
from loyalty_plugin.domain.levels import (
    Level,
    LevelScheme,
    Measure,
    RedeemAt,
    Source,
    decide,
    discount_amount,
    level_for,
    project,
    review_date,
    scheme_from_settings,
)
from loyalty_plugin.domain.redemption import DraftInvoice, PointsAtValue, PointValue, round_down
from loyalty_plugin.models import (
    Account,
    Customer,
    InvoiceEarning,
    LedgerEntry,
    LevelHistory,
    Membership,
    Merchant,
)
from loyalty_plugin.services.audit import Actor, as_actor, record_change
from loyalty_plugin.services.earning.rule_engine import (
    parsed_versions,
    program_versions,
    rows_in_force,
    versions_in_force,
)
from loyalty_plugin.services.events import publish
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.entries import Reference
from loyalty_plugin.services.ledger.units import points_only
from loyalty_plugin.services.settings_cache import can_cache

ZERO = Decimal(0)


@dataclass(frozen=True, kw_only=True)
class LevelProgram:
    """A program version in force that has levels."""

    program_id: int
    merchant_id: str
    key: str
    version: int
    scheme: LevelScheme


def level_programs(
    session: Session, *, at: datetime, merchant_id: str | None = None
) -> list[LevelProgram]:
    """The programs in force at ``at`` whose version defines levels, oldest program first."""
    if merchant_id is not None and can_cache(session, merchant_id):
        return _level_programs_from_snapshot(session, at=at, merchant_id=merchant_id)
    found = [
        LevelProgram(
            program_id=program.id,
            merchant_id=program.merchant_id,
            key=program.key,
            version=version.number,
            scheme=replace(scheme, timezone=_timezone(session, program.merchant_id)),
        )
        for program, version in versions_in_force(session, at=at, merchant_id=merchant_id)
        if (scheme := scheme_from_settings(version.settings.get("levels"))) is not None
    ]
    return sorted(found, key=lambda lp: lp.program_id)


#: Parsed level schemes by (version id, settings hash): the hash is of the settings
#: themselves, so an id met again in another database cannot lend a wrong scheme.
_SCHEMES: dict[tuple[int, str], LevelScheme | None] = {}


def _level_programs_from_snapshot(
    session: Session, *, at: datetime, merchant_id: str
) -> list[LevelProgram]:
    """:func:`level_programs` from the settings cache's program versions (issue 20)."""
    rows = rows_in_force(program_versions(session, merchant_id), at)
    schemes = parsed_versions(
        session,
        rows,
        _SCHEMES,
        lambda row: (row.version_id, row.settings_hash),
        lambda _row, settings: scheme_from_settings(settings.get("levels")),
    )
    found = [
        LevelProgram(
            program_id=row.program_id,
            merchant_id=row.merchant_id,
            key=row.key,
            version=row.number,
            scheme=replace(scheme, timezone=_timezone(session, row.merchant_id)),
        )
        for row in rows
        if isinstance(scheme := schemes[row.version_id], LevelScheme)
    ]
    return sorted(found, key=lambda lp: lp.program_id)


def _timezone(session: Session, merchant_id: str) -> str:
    merchant = session.get(Merchant, merchant_id)  # from the identity map after the first
    return "UTC" if merchant is None else merchant.timezone


# -- qualifying amounts ---------------------------------------------------------------------


def qualifying_amounts(
    session: Session, program: LevelProgram, *, at: datetime, accounts: tuple[int, int] | None
) -> dict[int, Decimal]:
    """Each account's qualifying amount at ``at``, in one query (``accounts``: an id range).

    Points: points earned, less what refunds and cancellations took back; spending never
    counts. Money: paid on invoices the program earned on, less refunds; cancelled
    invoices count nothing. Only what falls in the scheme's window counts.
    """
    if program.scheme.measure is Measure.POINTS:
        return _points(session, program, at, accounts)
    return _money(session, program, at, accounts)


def _points(
    session: Session, program: LevelProgram, at: datetime, accounts: tuple[int, int] | None
) -> dict[int, Decimal]:
    start = program.scheme.window_start(at)
    origin = aliased(LedgerEntry)
    counted = or_(
        LedgerEntry.kind == EntryKind.EARN,
        (LedgerEntry.kind == EntryKind.REVERSE) & (origin.kind == EntryKind.EARN),
    )
    query = (
        select(LedgerEntry.account_id, func.sum(LedgerEntry.points))
        .outerjoin(origin, origin.id == LedgerEntry.reverses_entry_id)
        .where(LedgerEntry.merchant_id == program.merchant_id, points_only(LedgerEntry), counted)
        .group_by(LedgerEntry.account_id)
    )
    if start is not None:
        earned_at = func.coalesce(origin.created_at, LedgerEntry.created_at)
        query = query.where(earned_at >= start)
    # A merged customer's earnings count for the survivor: the entries stay on the merged
    # account (append-only), which names the survivor's. Few accounts are merged, so they
    # are read first and their sums added to their survivors'.
    survivors = _merged_into(session, program.merchant_id, accounts)
    if accounts is not None:
        in_range = LedgerEntry.account_id.between(*accounts)
        query = query.where(
            or_(in_range, LedgerEntry.account_id.in_(survivors)) if survivors else in_range
        )
    totals: dict[int, int] = {}
    for account, total in session.execute(query):
        owner = survivors.get(account, account)
        totals[owner] = totals.get(owner, 0) + int(total or 0)
    return {account: Decimal(total) for account, total in totals.items()}


def _merged_into(
    session: Session, merchant_id: str, accounts: tuple[int, int] | None
) -> dict[int, int]:
    """Merged accounts and their survivor (those whose survivor is in ``accounts``)."""
    query = select(Account.id, Account.merged_into_id).where(
        Account.merchant_id == merchant_id,
        Account.merged_into_id.is_not(None),
        points_only(Account),
    )
    if accounts is not None:
        query = query.where(Account.merged_into_id.between(*accounts))
    return {merged: survivor for merged, survivor in session.execute(query)}


def _money(
    session: Session, program: LevelProgram, at: datetime, accounts: tuple[int, int] | None
) -> dict[int, Decimal]:
    conditions = [
        InvoiceEarning.program_id == program.program_id,
        InvoiceEarning.cancelled_at.is_(None),
    ]
    start = program.scheme.window_start(at)
    if start is not None:
        conditions.append(InvoiceEarning.created_at >= start)
    if accounts is not None:
        conditions.append(InvoiceEarning.account_id.between(*accounts))
    if session.get_bind().dialect.name == "sqlite":
        # Money is decimal text on SQLite, where SUM would go through float: add in Python.
        rows = session.execute(
            select(InvoiceEarning.account_id, InvoiceEarning.paid, InvoiceEarning.refunded).where(
                *conditions
            )
        )
        totals: dict[int, Decimal] = {}
        for account, paid, refunded in rows:
            totals[account] = totals.get(account, ZERO) + paid - refunded
        return {account: _tidy(total) for account, total in totals.items()}
    net = func.sum(InvoiceEarning.paid - InvoiceEarning.refunded)
    query = select(InvoiceEarning.account_id, net).where(*conditions)
    rows = session.execute(query.group_by(InvoiceEarning.account_id))
    return {account: _tidy(Decimal(str(total or 0))) for account, total in rows}


def _tidy(amount: Decimal) -> Decimal:
    """``15000.0000`` (NUMERIC(20, 4) on the servers) as ``15000.00``, as SQLite gives it."""
    cents = amount.quantize(Decimal("0.01"))
    return cents if cents == amount else amount


# -- moving between levels ------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Move:
    """A level change to record."""

    membership: Membership
    from_level: str | None
    to_level: str
    reason: str


def update_levels(
    session: Session, *, merchant_id: str, account_id: int, now: datetime, actor: str
) -> list[Move]:
    """Re-decide the account's level in each program with levels (after an earning).

    Takes the account's lock (callers usually hold it already) before reading or creating
    a membership, so that no other writer creates the same one meanwhile.
    """
    account_id = ledger.lock_account(session, account_id).id
    moves = []
    for program in level_programs(session, at=now, merchant_id=merchant_id):
        membership = _membership(session, program.program_id, account_id, lock=True)
        amounts = qualifying_amounts(session, program, at=now, accounts=(account_id, account_id))
        amount = amounts.get(account_id, ZERO)
        if membership is None:
            membership = new_membership(program, account_id=account_id, amount=amount, now=now)
            session.add(membership)
        if move := settle(program, membership, amount=amount, now=now):
            moves.append(move)
        membership.updated_at = now
    record_moves(session, moves, now=now, actor=actor)
    return moves


def update_levels_after(
    session: Session,
    *,
    merchant_id: str,
    now: datetime,
    actor: str,
    customer: Customer | None = None,
    invoice_id: str | None = None,
) -> list[Move]:
    """:func:`update_levels` for the customer, or for whoever earned on ``invoice_id``."""
    if customer is not None and (
        locked := ledger.locked_account_of(
            session, merchant_id=merchant_id, customer_id=customer.id
        )
    ):
        return update_levels(
            session, merchant_id=merchant_id, account_id=locked, now=now, actor=actor
        )
    if customer is not None:
        query = select(Account.id).where(
            Account.merchant_id == merchant_id,
            Account.customer_id == customer.id,
            points_only(Account),
        )
    else:
        query = select(InvoiceEarning.account_id).where(
            InvoiceEarning.merchant_id == merchant_id, InvoiceEarning.invoice_id == invoice_id
        )
    account_id = session.scalar(query.limit(1))
    if account_id is None:
        return []
    return update_levels(
        session, merchant_id=merchant_id, account_id=account_id, now=now, actor=actor
    )


def new_membership(
    program: LevelProgram, *, account_id: int, amount: Decimal, now: datetime
) -> Membership:
    """A membership at the lowest level, not yet decided nor added to a session."""
    lowest = program.scheme.levels[0].key
    return Membership(
        merchant_id=program.merchant_id,
        program_id=program.program_id,
        account_id=account_id,
        level=lowest,
        earned_level=lowest,
        source=Source.EARNED,
        amount=amount,
        since=now,
        expires_at=None,
        review_at=review_date(program.scheme, now),
        version=program.version,
        updated_at=now,
    )


def settle(
    program: LevelProgram, membership: Membership, *, amount: Decimal, now: datetime
) -> Move | None:
    """Decide one account's level from its amount; updates the membership, returns a move."""
    scheme = program.scheme
    decision = decide(
        scheme,
        current=membership.earned_level,
        amount=amount,
        at=now,
        review_at=membership.review_at,
    )
    membership.amount = amount
    qualifies = scheme.rank(level_for(scheme, amount).key) >= scheme.rank(decision.level.key)
    if qualifies and _review_due(membership, now):
        membership.review_at = review_date(scheme, now)  # still qualifies: renewed
    membership.earned_level = decision.level.key
    return _effective(program, membership, now, decision.reason)


def _review_due(membership: Membership, now: datetime) -> bool:
    return membership.review_at is not None and membership.review_at <= now


def _effective(
    program: LevelProgram, membership: Membership, now: datetime, reason: str
) -> Move | None:
    """Set the level held: a bought or given level until it ends, else the earned one."""
    scheme = program.scheme
    held = membership.level
    level, source = membership.earned_level, Source.EARNED
    if membership.source is not Source.EARNED and not _ended(membership, now):
        if scheme.rank(membership.level) >= scheme.rank(membership.earned_level):
            level, source = membership.level, membership.source
    elif membership.source is not Source.EARNED:
        reason = f"{membership.source.value} level ended"
    if source is Source.EARNED:
        membership.expires_at = None
    membership.source = source
    membership.version = program.version
    if level == held:
        return None
    membership.level = level
    membership.since = now
    membership.review_at = review_date(scheme, now)
    return Move(membership=membership, from_level=held, to_level=level, reason=reason)


def _ended(membership: Membership, now: datetime) -> bool:
    return membership.expires_at is not None and membership.expires_at <= now


def record_moves(
    session: Session,
    moves: Sequence[Move],
    *,
    now: datetime,
    actor: str,
    details: dict[str, Any] | None = None,
    entry_id: int | None = None,
) -> None:
    """Append a history row per move; publish ``LevelChanged`` (after commit) for real moves."""
    if not moves:
        return
    session.flush()
    hosts = _host_ids(session, [m.membership.account_id for m in moves])
    rows = [
        {
            "merchant_id": move.membership.merchant_id,
            "program_id": move.membership.program_id,
            "account_id": move.membership.account_id,
            "from_level": move.from_level,
            "to_level": move.to_level,
            "reason": move.reason,
            "actor": actor,
            "version": move.membership.version,
            "amount": move.membership.amount,
            "details": details or {},
            "entry_id": entry_id,
            "at": now,
        }
        for move in moves
    ]
    session.execute(insert(LevelHistory), rows)
    for move in moves:
        if move.from_level == move.to_level:
            continue
        publish(
            session,
            LevelChanged(
                merchant_id=move.membership.merchant_id,
                occurred_at=now,
                customer_id=hosts[move.membership.account_id],
                from_level=move.from_level,
                to_level=move.to_level,
                reason=move.reason,
            ),
        )


def _host_ids(session: Session, account_ids: Iterable[int]) -> dict[int, str]:
    rows = session.execute(
        select(Account.id, Customer.host_customer_id)
        .join(Customer, Customer.id == Account.customer_id)
        .where(Account.id.in_(sorted(set(account_ids))))
    )
    return {account: host for account, host in rows}


def _membership(
    session: Session, program_id: int, account_id: int, *, lock: bool = False
) -> Membership | None:
    """The account's membership; with ``lock``, locked and re-read (a writer's read).

    Writers lock it so that a review batch and an earning never decide from the same old
    row: the later one waits and decides from what the first wrote.
    """
    query = select(Membership).where(
        Membership.program_id == program_id, Membership.account_id == account_id
    )
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.scalar(query)


# -- the review job -------------------------------------------------------------------------


@dataclass
class Batch:
    """What one batch of the review did."""

    accounts: int = 0
    moves: int = 0
    last_account_id: int | None = None

    @property
    def done(self) -> bool:
        return self.accounts == 0


def review_batch(
    session: Session, program: LevelProgram, *, now: datetime, after_account: int, limit: int
) -> Batch:
    """Review the next ``limit`` accounts of ``program``'s merchant after ``after_account``.

    One query for the accounts, one for their amounts, one for their memberships; only
    accounts whose level changes are written. Running it again changes nothing.
    """
    # The accounts' locks first, in id order, as every writer takes them before the
    # membership: an earning creating an account's first membership is then waited for
    # and its row updated, never inserted a second time (nor a deadlock on the insert's
    # foreign-key lock of the account).
    ids = list(
        session.scalars(
            select(Account.id)
            .where(
                Account.merchant_id == program.merchant_id,
                Account.id > after_account,
                # A merged customer's level is the survivor's now; theirs stays as it was.
                Account.merged_into_id.is_(None),
                # Levels go by points: a customer's credit accounts have none.
                points_only(Account),
            )
            .order_by(Account.id)
            .limit(limit)
            .with_for_update()
        )
    )
    if not ids:
        return Batch()
    span = (ids[0], ids[-1])
    # Lock, then read the amounts: an earning that changed a membership while we waited
    # for its lock is then counted, never undone with the amount from before it.
    memberships = _locked_memberships(session, program.program_id, span)
    amounts = qualifying_amounts(session, program, at=now, accounts=span)
    before = {m.id: _columns(m) for m in memberships.values()}
    created, changed, moves = [], [], []
    for account_id in ids:
        amount = amounts.get(account_id, ZERO)
        membership = memberships.get(account_id)
        if membership is None and amount == 0:
            continue  # at the lowest level and nothing to record
        if membership is None:
            membership = new_membership(program, account_id=account_id, amount=amount, now=now)
            created.append(membership)
        elif not _worth_review(program, membership, amount, now):
            continue
        if move := settle(program, membership, amount=amount, now=now):
            moves.append(move)
        if membership.id is not None and _columns(membership) != before[membership.id]:
            membership.updated_at = now
            changed.append(membership)
    _write(session, created=created, changed=changed)
    record_moves(session, moves, now=now, actor="job:review-levels")
    return Batch(accounts=len(ids), moves=len(moves), last_account_id=ids[-1])


#: The columns a review may change.
_MUTABLE = ("level", "earned_level", "source", "amount", "since", "expires_at", "review_at",
            "version", "updated_at")  # fmt: skip


def _columns(membership: Membership) -> tuple[Any, ...]:
    return tuple(getattr(membership, name) for name in _MUTABLE)


def _locked_memberships(
    session: Session, program_id: int, span: tuple[int, int]
) -> dict[int, Membership]:
    """The memberships of the accounts in ``span``, locked, then detached from the session.

    Detached, so that the batch is written with two statements (:func:`_write`) rather than
    one UPDATE per changed row.
    """
    found = {
        m.account_id: m
        for m in session.scalars(
            select(Membership)
            .where(Membership.program_id == program_id, Membership.account_id.between(*span))
            .with_for_update()
        )
    }
    for membership in found.values():
        session.expunge(membership)
    return found


def _write(
    session: Session, *, created: Sequence[Membership], changed: Sequence[Membership]
) -> None:
    """Insert the new memberships and update the changed ones, each in one executemany."""
    identity = ("merchant_id", "program_id", "account_id")
    if created:
        rows = [{c: getattr(m, c) for c in identity + _MUTABLE} for m in created]
        session.execute(insert(Membership), rows)
    if changed:
        rows = [{"id": m.id} | dict(zip(_MUTABLE, _columns(m), strict=True)) for m in changed]
        session.execute(update(Membership), rows)


def _worth_review(
    program: LevelProgram, membership: Membership, amount: Decimal, now: datetime
) -> bool:
    """True when something may change: the amount, a new version, a date reached."""
    return (
        membership.amount != amount
        or membership.version != program.version
        or _review_due(membership, now)
        or _ended(membership, now)
    )


# -- bought and given levels ----------------------------------------------------------------


def give_level(
    session: Session,
    *,
    merchant_id: str,
    account_id: int,
    level: str,
    until: datetime,
    reason: str,
    now: datetime,
    actor: Actor | str,
    program_key: str | None = None,
) -> Membership:
    """Staff give ``level`` until ``until``; afterwards the customer falls back.

    Audited as ``level.given`` on the customer, with the membership before and after.
    """
    actor = as_actor(actor)
    if not reason.strip():
        raise ValidationError("say why the level is given", field="reason")
    if until <= now:
        raise ValidationError("the end date must be in the future", field="until")
    program = _program_for(session, merchant_id, program_key, now)
    _level_of(program, level)
    account_id = ledger.lock_account(session, account_id).id
    membership = _current(session, program, account_id, now)
    if program.scheme.rank(level) < program.scheme.rank(membership.earned_level):
        raise InvalidOperation(
            "the customer already earns a higher level", field="level", reason="level_higher"
        )
    before, held = membership.level, _given_document(program, membership)
    membership.level, membership.source, membership.expires_at = level, Source.GIVEN, until
    _record_manual(
        session,
        program,
        membership,
        before=before,
        reason=f"given: {reason}",
        now=now,
        actor=actor.label,
    )
    record_change(
        session,
        merchant_id=merchant_id,
        actor=actor,
        action="level.given",
        target_type="customer",
        target_id=_host_ids(session, [account_id])[account_id],
        before=held,
        after=_given_document(program, membership) | {"reason": reason},
        now=now,
    )
    return membership


def _given_document(program: LevelProgram, membership: Membership) -> dict[str, Any]:
    """A membership as the audit trail keeps it."""
    return {
        "program": program.key,
        "level": membership.level,
        "source": membership.source,
        "expires_at": membership.expires_at,
    }


def buy_membership(
    session: Session,
    *,
    merchant_id: str,
    account_id: int,
    level: str,
    now: datetime,
    actor: str,
    program_key: str | None = None,
    idempotency_key: str | None = None,
) -> Membership:
    """Buy ``level`` with points for its duration; buying it again extends, never stacks.

    With ``idempotency_key``, a repeat answers the membership as the first call left it:
    no second spend, no second extension.
    """
    program = _program_for(session, merchant_id, program_key, now)
    wanted = _level_of(program, level)
    if wanted.price_points is None or wanted.duration_days is None:
        raise InvalidOperation(
            f"level {level!r} cannot be bought", field="level", reason="level_not_for_sale"
        )
    account_id = ledger.lock_account(session, account_id).id
    if idempotency_key is not None and _bought_with_key(
        session, program, account_id, level, idempotency_key
    ):
        return _current(session, program, account_id, now)
    membership = _current(session, program, account_id, now)
    if program.scheme.rank(level) < program.scheme.rank(membership.level):
        raise InvalidOperation(
            "the customer already holds a higher level", field="level", reason="level_higher"
        )
    entry = ledger.spend(
        session,
        account_id=account_id,
        points=wanted.price_points,
        now=now,
        actor=actor,
        reference=Reference("membership", f"{program.program_id}:{level}"),
        reason=f"membership {wanted.name} for {wanted.duration_days} days",
        idempotency_key=idempotency_key,
    )
    before = membership.level
    extends = membership.source is Source.BOUGHT and membership.level == level
    start = membership.expires_at if extends and membership.expires_at else now
    membership.level, membership.source = level, Source.BOUGHT
    membership.expires_at = start + timedelta(days=wanted.duration_days)
    _record_manual(
        session,
        program,
        membership,
        before=before,
        reason="bought (extended)" if extends else "bought",
        now=now,
        actor=actor,
        entry_id=entry.id,
    )
    return membership


def _bought_with_key(
    session: Session, program: LevelProgram, account_id: int, level: str, key: str
) -> bool:
    """Whether a purchase with ``key`` was made (:class:`IdempotencyConflict` if not this one)."""
    made = session.execute(
        select(LedgerEntry.account_id, LedgerEntry.reference_id).where(
            LedgerEntry.merchant_id == program.merchant_id, LedgerEntry.idempotency_key == key
        )
    ).one_or_none()
    if made is None:
        return False
    if tuple(made) != (account_id, f"{program.program_id}:{level}"):
        raise IdempotencyConflict(key)
    return True


def absorb_levels(
    session: Session,
    *,
    merchant_id: str,
    merged_account_id: int,
    survivor_account_id: int,
    now: datetime,
    actor: str,
) -> list[Move]:
    """After a merge: carry a running bought or given level, then re-decide the survivor.

    In each program with levels, a level the merged customer bought or was given, still
    running and above the survivor's, is the survivor's until the same end date. Then the
    survivor's earned level is decided again on the combined qualifying amounts (the
    merged customer's earnings count for the survivor from now on).
    """
    for program in level_programs(session, at=now, merchant_id=merchant_id):
        theirs = _membership(session, program.program_id, merged_account_id, lock=True)
        if theirs is None or theirs.source is Source.EARNED or _ended(theirs, now):
            continue
        ours = _current(session, program, survivor_account_id, now)
        if program.scheme.rank(theirs.level) <= program.scheme.rank(ours.level):
            continue
        before = ours.level
        ours.level, ours.source, ours.expires_at = theirs.level, theirs.source, theirs.expires_at
        reason = f"{theirs.source.value}: carried over from a merged customer"
        _record_manual(session, program, ours, before=before, reason=reason, now=now, actor=actor)
    return update_levels(
        session, merchant_id=merchant_id, account_id=survivor_account_id, now=now, actor=actor
    )


def _current(session: Session, program: LevelProgram, account_id: int, now: datetime) -> Membership:
    """The account's membership, brought up to date first (created if missing)."""
    membership = _membership(session, program.program_id, account_id, lock=True)
    amounts = qualifying_amounts(session, program, at=now, accounts=(account_id, account_id))
    amount = amounts.get(account_id, ZERO)
    if membership is None:
        membership = new_membership(program, account_id=account_id, amount=amount, now=now)
        session.add(membership)
    move = settle(program, membership, amount=amount, now=now)
    record_moves(session, [move] if move else [], now=now, actor="levels")
    return membership


def _record_manual(
    session: Session,
    program: LevelProgram,
    membership: Membership,
    *,
    before: str,
    reason: str,
    now: datetime,
    actor: str,
    entry_id: int | None = None,
) -> None:
    """History row for a bought or given level (and ``LevelChanged`` when it changes)."""
    if before != membership.level:
        membership.since = now
    move = Move(membership=membership, from_level=before, to_level=membership.level, reason=reason)
    details = {"expires_at": membership.expires_at.isoformat() if membership.expires_at else None}
    record_moves(session, [move], now=now, actor=actor, details=details, entry_id=entry_id)


def _program_for(
    session: Session, merchant_id: str, program_key: str | None, now: datetime
) -> LevelProgram:
    programs = level_programs(session, at=now, merchant_id=merchant_id)
    if program_key is not None:
        programs = [p for p in programs if p.key == program_key]
    if not programs:
        raise NotFound("no program in force has levels", field="program")
    return programs[0]


def _level_of(program: LevelProgram, key: str) -> Level:
    level = program.scheme.level(key)
    if level is None:
        raise ValidationError(f"program {program.key!r} has no level {key!r}", field="level")
    return level


# -- reading --------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class LevelTerms:
    """The level whose benefits apply to an account now, and the scheme it belongs to."""

    scheme: LevelScheme
    level: Level


def terms_for(session: Session, *, account_id: int, now: datetime) -> LevelTerms | None:
    """The account's level and scheme in the merchant's oldest program with levels."""
    for program in level_programs(session, at=now, merchant_id=_merchant_of(session, account_id)):
        membership = _membership(session, program.program_id, account_id)
        key = program.scheme.levels[0].key if membership is None else _held(membership, now)
        level = program.scheme.level(key) or program.scheme.levels[0]
        return LevelTerms(scheme=program.scheme, level=level)
    return None


def benefits_for(session: Session, *, account_id: int, now: datetime) -> Level | None:
    """The level whose benefits apply to the account now (``None``: no levels)."""
    terms = terms_for(session, account_id=account_id, now=now)
    return None if terms is None else terms.level


def redemption_purse(
    session: Session,
    *,
    account_id: int,
    now: datetime,
    merchant_value: PointValue,
    terms: LevelTerms | None,
) -> list[PointsAtValue]:
    """The account's spendable points in spending order, each part with its value.

    Points are worth the current level's value (the merchant's without one), unless the
    levels redeem at the earning level (fallback redemption): then each lot's points are
    worth the value of the level it was earned at.
    """
    if terms is None or terms.scheme.redeem_at is not RedeemAt.EARNING_LEVEL:
        points = ledger.spendable_points(session, account_id, now)
        if terms is None:
            return [PointsAtValue(points=points, value=merchant_value)]
        value = terms.level.point_value or merchant_value
        return [PointsAtValue(points=points, value=value, level=terms.level.key)]
    purse: list[PointsAtValue] = []
    for points, earned_at in ledger.spendable_by_level(session, account_id, now):
        level, value = terms.scheme.value_of(earned_at, merchant_value)
        if purse and purse[-1].level == level:
            purse[-1] = replace(purse[-1], points=purse[-1].points + points)
        else:
            purse.append(PointsAtValue(points=points, value=value, level=level))
    return purse


def level_names(session: Session, *, merchant_id: str, at: datetime) -> dict[str, str]:
    """Each level's name by its key, in the merchant's oldest program with levels."""
    for program in level_programs(session, at=at, merchant_id=merchant_id):
        return {level.key: level.name for level in program.scheme.levels}
    return {}


def level_of_new_points(session: Session, *, account_id: int, now: datetime) -> str | None:
    """The level points credited now are earned at (kept on their lot; ``None``: no levels)."""
    level = benefits_for(session, account_id=account_id, now=now)
    return None if level is None else level.key


def _held(membership: Membership, now: datetime) -> str:
    return membership.earned_level if _ended(membership, now) else membership.level


def _merchant_of(session: Session, account_id: int) -> str:
    account = session.get(Account, account_id)  # usually in the identity map (locked)
    if account is None:
        raise NotFound(f"account {account_id} does not exist", field="account")
    return account.merchant_id


def summary(
    session: Session, *, merchant_id: str, account_id: int | None, now: datetime
) -> dict[str, Any] | None:
    """Current level, next level, what is still needed and the review or end date."""
    programs = level_programs(session, at=now, merchant_id=merchant_id)
    if not programs:
        return None
    program = programs[0]
    scheme = program.scheme
    membership = None
    amount = ZERO
    if account_id is not None:
        membership = _membership(session, program.program_id, account_id)
        span = (account_id, account_id)
        amount = qualifying_amounts(session, program, at=now, accounts=span).get(account_id, ZERO)
    current = membership is not None and not _ended(membership, now)
    key = scheme.levels[0].key if membership is None else _held(membership, now)
    level = scheme.level(key) or scheme.levels[0]
    ahead = project(scheme, current=level.key, amount=amount)
    return {
        "program": program.key,
        "version": program.version,
        "level": level.key,
        "name": level.name,
        "source": membership.source.value if current else Source.EARNED.value,  # type: ignore[union-attr]
        "since": None if membership is None else membership.since,
        "qualifying_amount": amount,
        "measure": scheme.measure.value,
        "next_level": None if ahead.next_level is None else ahead.next_level.key,
        "needed": ahead.needed,
        "review_at": None if membership is None else membership.review_at,
        "expires_at": membership.expires_at if current else None,  # type: ignore[union-attr]
        "benefits": level.benefits(),
    }


def history(session: Session, *, account_id: int) -> list[LevelHistory]:
    """The account's level history, newest first."""
    return list(
        session.scalars(
            select(LevelHistory)
            .where(LevelHistory.account_id == account_id)
            .order_by(LevelHistory.id.desc())
        )
    )


def quote_benefits(
    session: Session, *, account_id: int, invoice: DraftInvoice, now: datetime
) -> dict[str, Any] | None:
    """The customer's level and the discount its benefits give on ``invoice`` (or ``None``)."""
    level = benefits_for(session, account_id=account_id, now=now)
    if level is None:
        return None
    lines = [(i.total, i.product_id, i.category_id) for i in invoice.items]
    return {
        "key": level.key,
        "name": level.name,
        "discounts": [d.to_json() for d in level.discounts],
        # In the currency's places, rounded down: never more than the level's percentages.
        "discount_amount": str(round_down(discount_amount(level, lines), invoice.currency)),
        "point_value": level.benefits()["point_value"],
        "max_share_percent": level.benefits()["max_share_percent"],
    }
