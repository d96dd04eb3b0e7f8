"""Coupons: bought with points, issued by rewards and campaigns, redeemed exactly once.

A coupon changes state only through a guarded ``UPDATE ... WHERE status = <expected>``, so
when twenty requests redeem one code at once the database lets exactly one of them through,
on every backend, without holding a lock across the request. :func:`expire_coupons` does
the same for a whole batch in one statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select, true, update
from sqlalchemy.orm import Session, lazyload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from loyalty_plugin.domain.coupons import (
    CODE_LENGTH,
    GROUP,
    CouponKind,
    CouponStatus,
    CouponValue,
    coupon_amount,
    coupon_expiry,
    generate_code,
    normalize_code,
    unusable_reason,
)
from loyalty_plugin.domain.errors import (
    IdempotencyConflict,
    InvalidOperation,
    NotFound,
    ValidationError,
)
from loyalty_plugin.domain.events import CouponCreated, CouponRedeemed
from loyalty_plugin.domain.ledger import POINTS, EntryKind
from loyalty_plugin.models import Account, Coupon, CouponCampaign, LedgerEntry
from loyalty_plugin.services.audit import Actor, as_actor, record_change
from loyalty_plugin.services.events import publish
from loyalty_plugin.services.idempotency import claim_fact
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.accounts import account_for_host_customer, get_merchant
from loyalty_plugin.services.ledger.entries import SYSTEM, Money, Reference
from loyalty_plugin.services.spending.settings import coupon_rules, merchant_settings

#: The most coupons one campaign may generate in one request.
MAX_CAMPAIGN_SIZE = 5000


def convert_points_to_coupon(
    session: Session,
    *,
    merchant_id: str,
    customer_id: str,
    points: int,
    now: datetime,
    actor: str,
    idempotency_key: str | None = None,
) -> Coupon:
    """Spend ``points`` (oldest expiry first) on a coupon worth what the merchant set.

    With ``idempotency_key``, a repeat (even a simultaneous one) returns the coupon the first
    call issued and spends nothing more.
    """
    merchant = get_merchant(session, merchant_id)
    account = account_for_host_customer(session, merchant_id, customer_id)
    if idempotency_key is not None and (
        issued := _coupon_for_key(session, account, idempotency_key, points)
    ):
        return issued
    settings = merchant_settings(session, merchant_id)
    if not settings.coupon_conversion:
        raise InvalidOperation("points cannot be turned into coupons here", field="points")
    rules = coupon_rules(settings)
    amount = coupon_amount(points, rules, currency=merchant.currency)
    value = CouponValue(
        kind=CouponKind.AMOUNT,
        amount=amount,
        currency=merchant.currency,
        product_ids=rules.product_ids,
        category_ids=rules.category_ids,
    )
    return buy_coupon(
        session,
        account=account,
        points=points,
        value=value,
        expires_at=coupon_expiry(rules, now=now),
        now=now,
        actor=actor,
        idempotency_key=idempotency_key,
    )


def buy_coupon(
    session: Session,
    *,
    account: Account,
    points: int,
    value: CouponValue,
    expires_at: datetime | None,
    now: datetime,
    actor: str,
    reward_id: int | None = None,
    idempotency_key: str | None = None,
) -> Coupon:
    """Take ``points`` from the account with a ``redeem`` entry and issue the coupon."""
    code = generate_code()
    entry = ledger.spend(
        session,
        account_id=account.id,
        points=points,
        now=now,
        actor=actor,
        kind=EntryKind.REDEEM,
        money=Money(value.amount, value.currency) if value.amount and value.currency else None,
        reference=Reference("coupon", code),
        reason=f"points turned into coupon {code}",
        idempotency_key=idempotency_key,
    )
    coupon = _new_coupon(
        merchant_id=account.merchant_id,
        code=code,
        value=value,
        expires_at=expires_at,
        now=now,
        actor=actor,
        account_id=account.id,
        points=points,
        entry_id=entry.id,
        reward_id=reward_id,
    )
    session.add(coupon)
    session.flush()
    # ledger.spend announced the points redeemed; the coupon is announced here.
    _announce(session, coupon, now, customer_id=account.customer.host_customer_id)
    return coupon


def get_coupon(session: Session, *, merchant_id: str, code: str) -> Coupon:
    """The merchant's coupon with this code (as typed: case and spaces do not matter)."""
    coupon = session.scalars(
        select(Coupon).where(Coupon.merchant_id == merchant_id, Coupon.code == normalize_code(code))
    ).one_or_none()
    if coupon is None:
        raise NotFound("no such coupon", field="code")
    return coupon


def redeem_coupon(
    session: Session,
    *,
    merchant_id: str,
    code: str,
    now: datetime,
    actor: str,
    invoice_id: str | None = None,
    customer_id: str | None = None,
) -> Coupon:
    """Use the coupon, once: a second attempt, even a simultaneous one, is refused."""
    coupon = get_coupon(session, merchant_id=merchant_id, code=code)
    owner = coupon.account.customer.host_customer_id if coupon.account else None
    if owner is not None and customer_id is not None and str(customer_id) != owner:
        raise InvalidOperation("the coupon belongs to another customer", field="customer_id")
    won = _transition(
        session,
        coupon,
        CouponStatus.ACTIVE,
        CouponStatus.REDEEMED,
        unexpired_at=now,
        redeemed_at=now,
        redeemed_invoice_id=None if invoice_id is None else str(invoice_id),
        redeemed_by=actor,
    )
    if not won:
        raise InvalidOperation(
            f"coupon cannot be used: {_why_not(coupon, now) or 'it was just used'}",
            field="code",
        )
    publish(
        session,
        CouponRedeemed(
            merchant_id=merchant_id,
            occurred_at=now,
            code=coupon.code,
            customer_id=owner,
            reference=None if invoice_id is None else f"invoice:{invoice_id}",
        ),
    )
    return coupon


def restore_coupons_for_invoice(
    session: Session, *, merchant_id: str, invoice_id: str, now: datetime, actor: str
) -> list[Coupon]:
    """The invoice was cancelled: its coupons become usable again, unless they expired."""
    coupons = session.scalars(
        select(Coupon).where(
            Coupon.merchant_id == merchant_id,
            Coupon.redeemed_invoice_id == str(invoice_id),
            Coupon.status == CouponStatus.REDEEMED,
        )
    ).all()
    restored = []
    for coupon in coupons:
        if coupon.expires_at is not None and coupon.expires_at <= now:
            if _transition(session, coupon, CouponStatus.REDEEMED, CouponStatus.EXPIRED):
                _refund_if_set(session, coupon, now=now, actor=actor)
        elif _transition(
            session,
            coupon,
            CouponStatus.REDEEMED,
            CouponStatus.ACTIVE,
            redeemed_at=None,
            redeemed_invoice_id=None,
            redeemed_by=None,
        ):
            restored.append(coupon)
    return restored


def expire_coupons(
    session: Session,
    *,
    now: datetime,
    actor: str = SYSTEM,
    limit: int = 1000,
    merchant_id: str | None = None,
) -> list[Coupon]:
    """Mark up to ``limit`` unused coupons past their expiry as expired; give points back where set.

    Two statements per batch, however many coupons: one ``SELECT`` of the due coupons and
    one guarded ``UPDATE``. Only the refunds (a ledger entry each) cost one write per coupon.
    """
    due = _lock_due_coupons(session, now=now, limit=limit, merchant_id=merchant_id)
    if not due:
        return []
    expired = _expire_batch(session, due, now=now)
    refunds = _refund_on_expiry(session, {c.merchant_id for c in expired if c.entry_id})
    refunded = [c for c in expired if c.entry_id and refunds.get(c.merchant_id)]
    for coupon, unit in _in_lock_order(session, refunded):
        _refund(session, coupon, now=now, actor=actor, unit=unit)
    return expired


def _in_lock_order(session: Session, due: Sequence[Coupon]) -> list[tuple[Coupon, str]]:
    """``due`` with its accounts' units, in the order every writer locks accounts: points
    accounts first, then store credit accounts by currency (a coupon bought with credit
    sits on the credit account), so the refunds cannot deadlock with a hold (#19)."""
    if not due:
        return []
    units = dict(
        session.execute(
            select(Account.id, Account.unit).where(Account.id.in_({c.account_id for c in due}))
        ).all()
    )
    order = sorted(due, key=lambda c: (units[c.account_id] != POINTS, units[c.account_id], c.id))
    return [(coupon, units[coupon.account_id]) for coupon in order]


def create_campaign(
    session: Session,
    *,
    merchant_id: str,
    name: str,
    count: int,
    value: CouponValue,
    now: datetime,
    actor: Actor | str,
    expires_at: datetime | None = None,
    prefix: str = "",
    request_key: str | None = None,
) -> tuple[CouponCampaign, list[Coupon]]:
    """Generate ``count`` coupons that cost no points (a promotion).

    ``request_key`` (an admin form's one-time key) makes a repeat answer the campaign the
    first request made instead of making a second one. Audited as
    ``coupon_campaign.created`` (its settings, not the codes).
    """
    who = as_actor(actor)
    get_merchant(session, merchant_id)
    if request_key is not None and (
        made := _campaign_for_key(session, merchant_id, request_key, name)
    ):
        return made
    if not name or not name.strip():
        raise ValidationError("a name is required", field="name")
    if not 1 <= count <= MAX_CAMPAIGN_SIZE:
        raise ValidationError(f"count is 1 to {MAX_CAMPAIGN_SIZE}", field="count")
    if expires_at is not None and expires_at <= now:
        raise ValidationError("expiry must be in the future", field="expires_at")
    campaign = CouponCampaign(
        merchant_id=merchant_id,
        name=name.strip(),
        count=count,
        expires_at=expires_at,
        created_by=who.label,
        created_at=now,
    )
    campaign.set_value(value)
    session.add(campaign)
    session.flush()
    codes: set[str] = set()
    while len(codes) < count:
        codes.add(generate_code(prefix))
    coupons = [
        _new_coupon(
            merchant_id=merchant_id,
            code=code,
            value=value,
            expires_at=expires_at,
            now=now,
            actor=who.label,
            campaign_id=campaign.id,
        )
        for code in sorted(codes)
    ]
    session.add_all(coupons)
    session.flush()
    record_change(
        session,
        merchant_id=merchant_id,
        actor=who,
        action="coupon_campaign.created",
        target_type="coupon_campaign",
        target_id=campaign.id,
        before=None,
        after={
            "name": campaign.name,
            "count": count,
            "prefix": prefix,
            "expires_at": expires_at,
            "value": asdict(value),
        },
        now=now,
    )
    for coupon in coupons:
        _announce(session, coupon, now, customer_id=None)
    return campaign, coupons


def list_coupons(
    session: Session,
    *,
    merchant_id: str,
    limit: int,
    after_id: int | None = None,
    account_id: int | None = None,
    campaign_id: int | None = None,
    status: CouponStatus | None = None,
    code: str | None = None,
    customer_id: int | None = None,
) -> Sequence[Coupon]:
    """Coupons newest first, ``limit`` of them after the cursor ``after_id``.

    ``code`` finds a code as typed (see :func:`code_condition`); ``customer_id`` keeps the
    customer's coupons, bought with points or with store credit (any of their accounts).
    """
    query = _filtered(
        merchant_id, account_id=account_id, campaign_id=campaign_id, status=status, code=code
    )
    if customer_id is not None:
        query = query.where(
            Coupon.account_id.in_(
                select(Account.id).where(
                    Account.merchant_id == merchant_id, Account.customer_id == customer_id
                )
            )
        )
    if after_id is not None:
        query = query.where(Coupon.id < after_id)
    return session.scalars(query.order_by(Coupon.id.desc()).limit(limit)).all()


@dataclass(frozen=True, kw_only=True)
class CouponPage:
    """One page of the admin list, newest coupons first; ``pages`` and ``total`` for the pager."""

    rows: Sequence[Coupon]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        """How many pages the filtered list has (at least 1)."""
        return max(1, -(-self.total // self.per_page))


def search_coupons(
    session: Session,
    *,
    merchant_id: str,
    code: str | None = None,
    status: CouponStatus | None = None,
    campaign_id: int | None = None,
    page: int = 1,
    per_page: int = 25,
) -> CouponPage:
    """The admin list: coupons matching a typed code and a status, one numbered page."""
    query = _filtered(merchant_id, status=status, code=code, campaign_id=campaign_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    last = max(1, -(-total // per_page))
    page = min(max(1, page), last)
    rows = session.scalars(
        query.options(selectinload(Coupon.account).joinedload(Account.customer))
        .order_by(Coupon.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return CouponPage(rows=rows, page=page, per_page=per_page, total=total)


def code_condition(typed: str) -> ColumnElement[bool]:
    """Codes matching what someone typed: a whole code exactly, else the codes it starts.

    Case, spaces and dashes do not matter: ``k7qx m2`` finds ``K7QX-M2PD-9HTA``, and
    ``summer`` finds ``SUMMER-...``.
    """
    whole = normalize_code(typed)
    clean = "".join(ch for ch in typed if ch.isalnum()).upper()
    if len(clean) >= CODE_LENGTH:
        return Coupon.code == whole
    grouped = "-".join(clean[i : i + GROUP] for i in range(0, len(clean), GROUP))
    as_typed = "-".join(typed.upper().replace("-", " ").split())
    return or_(
        Coupon.code.startswith(grouped, autoescape=True),
        Coupon.code.startswith(as_typed, autoescape=True),
    )


def cancel_coupon(
    session: Session,
    *,
    merchant_id: str,
    code: str,
    now: datetime,
    actor: Actor | str,
    reason: str | None = None,
    request_key: str | None = None,
) -> Coupon:
    """Cancel an unused coupon; the points it cost go back to the customer.

    The coupon moves from active to cancelled in one guarded ``UPDATE``, so a cancellation
    and a redemption of the same code at the same moment never both succeed. The points
    come back as a new ``reverse`` entry of the ``redeem`` entry that paid for it (the
    ledger is append-only), keyed by the coupon, so they come back once. A used, expired or
    already cancelled coupon is refused. ``request_key`` (an admin form's one-time key)
    makes a repeat of the same request answer the cancelled coupon instead of an error.
    Audited as ``coupon.cancelled``.
    """
    who = as_actor(actor)
    coupon = get_coupon(session, merchant_id=merchant_id, code=code)
    if request_key is not None:
        key = f"coupon-cancel:{request_key}"[:255]
        if claim_fact(session, merchant_id=merchant_id, key=key, event_id=None) is not None:
            session.refresh(coupon)
            if coupon.status == CouponStatus.CANCELLED:
                return coupon
    note = (reason or "").strip()[:200] or None
    moved = _transition(
        session, coupon, CouponStatus.ACTIVE, CouponStatus.CANCELLED, unexpired_at=now
    )
    if not moved:
        why = _why_not(coupon, now) or "it was just used"
        raise InvalidOperation(f"coupon cannot be cancelled: {why}", field="code")
    returned = 0
    if coupon.entry_id is not None and coupon.refund_entry_id is None:
        entry: LedgerEntry = ledger.reverse(
            session,
            entry_id=coupon.entry_id,
            now=now,
            actor=who.label,
            reason=f"coupon {coupon.code} cancelled: points returned"
            + (f" ({note})" if note else ""),
            idempotency_key=f"coupon:{coupon.id}:cancel-refund",
        )
        coupon.refund_entry_id = entry.id
        returned = entry.points
        session.flush()
    record_change(
        session,
        merchant_id=merchant_id,
        actor=who,
        action="coupon.cancelled",
        target_type="coupon",
        target_id=coupon.code,
        before={"status": CouponStatus.ACTIVE},
        after={"status": CouponStatus.CANCELLED, "reason": note} | _returned(coupon, returned),
        now=now,
    )
    return coupon


def _returned(coupon: Coupon, minor_or_points: int) -> dict[str, Any]:
    """What a cancellation gave back, for the audit row: points, or store credit as money."""
    paid = coupon.credit_paid
    if paid is None:
        return {"points_returned": minor_or_points}
    return {"credit_returned": {paid["currency"]: paid["amount"] if minor_or_points else "0"}}


def _filtered(
    merchant_id: str,
    *,
    account_id: int | None = None,
    campaign_id: int | None = None,
    status: CouponStatus | None = None,
    code: str | None = None,
) -> Select[tuple[Coupon]]:
    query = select(Coupon).where(Coupon.merchant_id == merchant_id)
    for column, wanted in (
        (Coupon.account_id, account_id),
        (Coupon.campaign_id, campaign_id),
        (Coupon.status, status),
    ):
        if wanted is not None:
            query = query.where(column == wanted)
    if code is not None and code.strip():
        query = query.where(code_condition(code))
    return query


# -- internals -------------------------------------------------------------------------


def _campaign_for_key(
    session: Session, merchant_id: str, request_key: str, name: str
) -> tuple[CouponCampaign, list[Coupon]] | None:
    """The campaign an earlier form with this key made (``None``: the key is new)."""
    fact = f"campaign-form:{request_key}"[:255]
    if claim_fact(session, merchant_id=merchant_id, key=fact, event_id=None) is None:
        return None
    campaign = session.scalars(
        select(CouponCampaign)
        .where(CouponCampaign.merchant_id == merchant_id, CouponCampaign.name == name.strip())
        .order_by(CouponCampaign.id.desc())
        .limit(1)
    ).first()
    if campaign is None:
        return None
    made = session.scalars(select(Coupon).where(Coupon.campaign_id == campaign.id)).all()
    return campaign, list(made)


def _coupon_for_key(session: Session, account: Account, key: str, points: int) -> Coupon | None:
    """The coupon an earlier call with ``key`` issued, looked up under the account's lock."""
    ledger.lock_account(session, account.id)
    coupon = session.scalars(
        select(Coupon)
        .join(LedgerEntry, LedgerEntry.id == Coupon.entry_id)
        .where(LedgerEntry.merchant_id == account.merchant_id, LedgerEntry.idempotency_key == key)
    ).one_or_none()
    if coupon is not None and (coupon.account_id != account.id or coupon.points != points):
        raise IdempotencyConflict(key)
    return coupon


def _new_coupon(
    *,
    merchant_id: str,
    code: str,
    value: CouponValue,
    expires_at: datetime | None,
    now: datetime,
    actor: str,
    **links: Any,
) -> Coupon:
    coupon = Coupon(
        merchant_id=merchant_id,
        code=code,
        status=CouponStatus.ACTIVE,
        expires_at=expires_at,
        created_by=actor,
        created_at=now,
        **links,
    )
    coupon.set_value(value)
    return coupon


def _announce(session: Session, coupon: Coupon, now: datetime, *, customer_id: str | None) -> None:
    publish(
        session,
        CouponCreated(
            merchant_id=coupon.merchant_id,
            occurred_at=now,
            code=coupon.code,
            customer_id=customer_id,
            points=coupon.points,
            details={
                "kind": str(coupon.kind),
                "amount": None if coupon.amount is None else str(coupon.amount),
                "currency": coupon.currency,
                "percent": None if coupon.percent is None else str(coupon.percent),
                "expires_at": None if coupon.expires_at is None else coupon.expires_at.isoformat(),
            },
        ),
    )


def _transition(
    session: Session,
    coupon: Coupon,
    old: CouponStatus,
    new: CouponStatus,
    *,
    unexpired_at: datetime | None = None,
    **values: Any,
) -> bool:
    """Move the coupon from ``old`` to ``new`` if it is still ``old``; True if this call did."""
    query = update(Coupon).where(Coupon.id == coupon.id, Coupon.status == old)
    if unexpired_at is not None:
        query = query.where(or_(Coupon.expires_at.is_(None), Coupon.expires_at > unexpired_at))
    result = session.execute(
        query.values(status=new, **values).execution_options(synchronize_session=False)
    )
    session.refresh(coupon)
    return result.rowcount == 1


def _lock_due_coupons(
    session: Session, *, now: datetime, limit: int, merchant_id: str | None = None
) -> Sequence[Coupon]:
    """The oldest active coupons past their expiry, locked for this transaction.

    ``SKIP LOCKED`` passes over a coupon being redeemed right now (PostgreSQL, MariaDB); the
    redemption decides it, and a later run expires it if it is still active. SQLite has no
    row locks: its write lock (``BEGIN IMMEDIATE``) already keeps other writers out.
    """
    return session.scalars(
        select(Coupon)
        .options(lazyload(Coupon.account))  # lock the coupons only, not their accounts
        .where(
            Coupon.status == CouponStatus.ACTIVE,
            Coupon.expires_at <= now,
            true() if merchant_id is None else Coupon.merchant_id == merchant_id,
        )
        .order_by(Coupon.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()


def _expire_batch(session: Session, due: Sequence[Coupon], *, now: datetime) -> list[Coupon]:
    """Move the batch from active to expired in one guarded ``UPDATE``; the ones it moved."""
    ids = [coupon.id for coupon in due]
    moved = session.execute(
        update(Coupon)
        .where(Coupon.id.in_(ids), Coupon.status == CouponStatus.ACTIVE, Coupon.expires_at <= now)
        .values(status=CouponStatus.EXPIRED)
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != len(ids):
        # Only without the row locks (a host's own SQLite engine): find out which ones moved.
        still = set(
            session.scalars(
                select(Coupon.id)
                .where(Coupon.id.in_(ids))
                .where(Coupon.status == CouponStatus.EXPIRED)
            )
        )
        due = [coupon for coupon in due if coupon.id in still]
    for coupon in due:
        set_committed_value(coupon, "status", CouponStatus.EXPIRED)
    return list(due)


def _refund_on_expiry(session: Session, merchant_ids: set[str]) -> dict[str, bool]:
    """Whether each merchant gives an expired coupon's points back (one lookup per merchant)."""
    return {
        merchant_id: coupon_rules(merchant_settings(session, merchant_id)).refund_on_expiry
        for merchant_id in merchant_ids
    }


def _why_not(coupon: Coupon, now: datetime) -> str | None:
    return unusable_reason(coupon.status, expires_at=coupon.expires_at, now=now)


def _refund_if_set(session: Session, coupon: Coupon, *, now: datetime, actor: str) -> None:
    """Give an expired coupon's points back, if the merchant says so and it cost any."""
    if coupon.entry_id is None or coupon.refund_entry_id is not None:
        return
    if not coupon_rules(merchant_settings(session, coupon.merchant_id)).refund_on_expiry:
        return
    unit = session.get_one(Account, coupon.account_id).unit
    _refund(session, coupon, now=now, actor=actor, unit=unit)


def _refund(session: Session, coupon: Coupon, *, now: datetime, actor: str, unit: str) -> None:
    """Reverse the ``redeem`` entry that paid for the coupon (once: the key guards it)."""
    if coupon.entry_id is None or coupon.refund_entry_id is not None:
        return
    returned = "points" if unit == POINTS else "store credit"
    entry: LedgerEntry = ledger.reverse(
        session,
        entry_id=coupon.entry_id,
        now=now,
        actor=actor,
        reason=f"coupon {coupon.code} expired unused: {returned} returned",
        idempotency_key=f"coupon:{coupon.id}:expiry-refund",
    )
    coupon.refund_entry_id = entry.id
    session.flush()
