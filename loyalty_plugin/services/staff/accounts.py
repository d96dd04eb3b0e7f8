"""Staff accounts, their merchants and roles, and one-time set-password links."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import InvalidOperation, NotFound, ValidationError
from loyalty_plugin.models import Merchant, StaffMember, StaffMembership, StaffRole
from loyalty_plugin.services.audit import SYSTEM, Actor, record_change
from loyalty_plugin.services.ledger.accounts import get_merchant
from loyalty_plugin.services.staff.passwords import hash_password

_PASSWORD_SALT = "loyalty-admin-password"  # noqa: S105 - a salt name, not a secret
#: The roles, lowest first.
ROLES: tuple[StaffRole, ...] = tuple(StaffRole)


@dataclass(frozen=True, kw_only=True)
class StaffRow:
    """One line of a merchant's staff list."""

    staff_id: int
    name: str
    email: str
    role: StaffRole
    has_password: bool
    host_user_id: str | None
    last_sign_in_at: datetime | None


def normalize_email(email: str) -> str:
    """The address as stored: trimmed and lower-cased (:class:`ValidationError` if not one)."""
    text = email.strip().lower()
    local, _, domain = text.partition("@")
    if not local or "." not in domain or len(text) > 254 or any(c.isspace() for c in text):
        raise ValidationError("enter an e-mail address such as ana@example.com", field="email")
    return text


def parse_role(value: str | StaffRole) -> StaffRole:
    """A role from its name (:class:`ValidationError` naming ``role`` otherwise)."""
    try:
        return StaffRole(str(value).strip().lower())
    except ValueError:
        names = ", ".join(r.value for r in StaffRole)
        raise ValidationError(f"choose a role: {names}", field="role") from None


def find_staff(session: Session, email: str) -> StaffMember | None:
    """The account with this e-mail address, if any."""
    return session.scalars(
        select(StaffMember).where(StaffMember.email == email.strip().lower())
    ).one_or_none()


def create_staff(
    session: Session, *, email: str, name: str, password: str | None = None, now: datetime
) -> StaffMember:
    """A new account (:class:`InvalidOperation` if the address already has one)."""
    address = normalize_email(email)
    name = " ".join(name.split())
    if not name or len(name) > 200:
        raise ValidationError("enter the person's name (at most 200 characters)", field="name")
    if find_staff(session, address) is not None:
        raise InvalidOperation(f"{address} already has an account", field="email")
    staff = StaffMember(
        email=address,
        name=name,
        password_hash=None if password is None else hash_password(password),
        created_at=now,
    )
    session.add(staff)
    session.flush()
    return staff


def add_staff(
    session: Session,
    *,
    merchant_id: str,
    email: str,
    name: str,
    role: StaffRole,
    actor: Actor | str = SYSTEM,
    now: datetime,
) -> tuple[StaffMember, bool]:
    """Give the person with ``email`` ``role`` at the merchant, making their account if new.

    Returns the account and whether it was made now (it then has no password yet). A
    person who already works here is refused: change their role instead.
    """
    staff = find_staff(session, normalize_email(email))
    created = staff is None
    if staff is None:
        staff = create_staff(session, email=email, name=name, now=now)
    elif membership_of(session, staff.id, merchant_id) is not None:
        raise InvalidOperation(f"{staff.email} already works here", field="email")
    add_to_merchant(session, staff, merchant_id=merchant_id, role=role, actor=actor, now=now)
    return staff, created


def add_to_merchant(
    session: Session,
    staff: StaffMember,
    *,
    merchant_id: str,
    role: StaffRole,
    host_user_id: str | None = None,
    actor: Actor | str = SYSTEM,
    now: datetime,
) -> StaffMembership:
    """Give ``staff`` ``role`` at the merchant (updating the role if already a member)."""
    get_merchant(session, merchant_id)
    membership = membership_of(session, staff.id, merchant_id)
    before = None if membership is None else _audited(membership)
    if membership is None:
        membership = StaffMembership(
            staff_id=staff.id, merchant_id=merchant_id, role=role, created_at=now
        )
        session.add(membership)
        staff.memberships.append(membership)
    else:
        membership.role = role
    if host_user_id is not None:
        membership.host_user_id = host_user_id
    session.flush()
    after = _audited(membership)
    if before != after:
        action = "staff.added" if before is None else "staff.role_changed"
        _record(session, membership, action, before, after, actor=actor, now=now)
    return membership


def membership_of(session: Session, staff_id: int, merchant_id: str) -> StaffMembership | None:
    """The staff member's membership at the merchant, if any."""
    return session.scalars(
        select(StaffMembership).where(
            StaffMembership.staff_id == staff_id, StaffMembership.merchant_id == merchant_id
        )
    ).one_or_none()


def merchants_of(session: Session, staff_id: int) -> list[tuple[str, str, StaffRole]]:
    """``(merchant_id, name, role)`` of every merchant the staff member belongs to, by name."""
    rows = session.execute(
        select(Merchant.id, Merchant.name, StaffMembership.role)
        .join(StaffMembership, StaffMembership.merchant_id == Merchant.id)
        .where(StaffMembership.staff_id == staff_id)
        .order_by(Merchant.name, Merchant.id)
    )
    return [(mid, name, role) for mid, name, role in rows]


def list_staff(session: Session, merchant_id: str) -> list[StaffRow]:
    """The merchant's staff, owners first, then by name."""
    rows = session.execute(
        select(StaffMember, StaffMembership)
        .join(StaffMembership, StaffMembership.staff_id == StaffMember.id)
        .where(StaffMembership.merchant_id == merchant_id)
        .order_by(StaffMember.name, StaffMember.id)
    )
    result = [
        StaffRow(
            staff_id=staff.id,
            name=staff.name,
            email=staff.email,
            role=membership.role,
            has_password=staff.password_hash is not None,
            host_user_id=membership.host_user_id,
            last_sign_in_at=staff.last_sign_in_at,
        )
        for staff, membership in rows
    ]
    return sorted(result, key=lambda row: -row.role.rank)


def staff_roles(session: Session, *, merchant_id: str | None = None) -> list[dict[str, object]]:
    """Every (account, merchant, role), by e-mail then merchant; for ``loyalty staff list``."""
    query = (
        select(StaffMember, StaffMembership)
        .join(StaffMembership, StaffMembership.staff_id == StaffMember.id)
        .order_by(StaffMember.email, StaffMembership.merchant_id)
    )
    if merchant_id is not None:
        query = query.where(StaffMembership.merchant_id == merchant_id)
    return [
        {
            "email": staff.email,
            "name": staff.name,
            "merchant_id": membership.merchant_id,
            "role": membership.role.value,
            "host_user_id": membership.host_user_id,
            "has_password": staff.password_hash is not None,
            "last_sign_in_at": staff.last_sign_in_at,
        }
        for staff, membership in session.execute(query)
    ]


def member(session: Session, merchant_id: str, staff_id: int) -> StaffMembership:
    """The membership of ``staff_id`` at the merchant (:class:`NotFound` if none)."""
    membership = membership_of(session, staff_id, merchant_id)
    if membership is None:
        raise NotFound(f"staff member {staff_id} does not work for {merchant_id}", field="staff")
    return membership


def change_role(
    session: Session,
    *,
    merchant_id: str,
    staff_id: int,
    role: StaffRole,
    actor: Actor | str = SYSTEM,
    now: datetime,
) -> StaffMembership:
    """Set the staff member's role at the merchant; the last owner stays an owner."""
    membership = member(session, merchant_id, staff_id)
    if membership.role == StaffRole.OWNER and role != StaffRole.OWNER:
        _keep_an_owner(session, merchant_id)
    before = _audited(membership)
    membership.role = role
    session.flush()
    if before != _audited(membership):
        _record(
            session, membership, "staff.role_changed", before, _audited(membership),
            actor=actor, now=now,
        )  # fmt: skip
    return membership


def remove_from_merchant(
    session: Session,
    *,
    merchant_id: str,
    staff_id: int,
    actor: Actor | str = SYSTEM,
    now: datetime,
) -> StaffMember:
    """Take the staff member off the merchant (the account stays for their other merchants)."""
    membership = member(session, merchant_id, staff_id)
    if membership.role == StaffRole.OWNER:
        _keep_an_owner(session, merchant_id)
    staff = membership.staff
    _record(session, membership, "staff.removed", _audited(membership), None, actor=actor, now=now)
    staff.memberships.remove(membership)
    session.delete(membership)
    session.flush()
    return staff


def _audited(membership: StaffMembership) -> dict[str, object]:
    return {
        "email": membership.staff.email,
        "name": membership.staff.name,
        "role": membership.role.value,
        "host_user_id": membership.host_user_id,
    }


def _record(
    session: Session,
    membership: StaffMembership,
    action: str,
    before: dict[str, object] | None,
    after: dict[str, object] | None,
    *,
    actor: Actor | str,
    now: datetime,
) -> None:
    record_change(
        session,
        merchant_id=membership.merchant_id,
        actor=actor,
        action=action,
        target_type="staff",
        target_id=membership.staff_id,
        before=before,
        after=after,
        now=now,
    )


def _keep_an_owner(session: Session, merchant_id: str) -> None:
    owners = session.scalar(
        select(func.count())
        .select_from(StaffMembership)
        .where(StaffMembership.merchant_id == merchant_id, StaffMembership.role == StaffRole.OWNER)
    )
    if (owners or 0) <= 1:
        raise InvalidOperation("a merchant keeps at least one owner", field="role")


# -- set-password links --------------------------------------------------------------------


def password_token(
    secret: str, staff: StaffMember, *, now: datetime, valid: timedelta
) -> tuple[str, datetime]:
    """A signed token to set ``staff``'s password, and when it stops working.

    It names the current password hash (a fingerprint of it), so it works once: setting
    the password changes the hash and so ends every earlier link.
    """
    expires_at = now + valid
    payload = [staff.id, _fingerprint(staff), math.ceil(expires_at.timestamp())]
    return URLSafeSerializer(secret, salt=_PASSWORD_SALT).dumps(payload), expires_at


def staff_for_password_token(
    session: Session, secret: str, token: str, *, now: datetime
) -> StaffMember:
    """The account a set-password token is for (:class:`NotFound` if used, expired or forged)."""
    refused = NotFound("this link to set a password does not work any more", field="token")
    try:
        staff_id, fingerprint, expiry = URLSafeSerializer(secret, salt=_PASSWORD_SALT).loads(token)
    except (BadSignature, ValueError, TypeError):
        raise refused from None
    if not isinstance(staff_id, int) or not isinstance(expiry, int):
        raise refused
    staff = session.get(StaffMember, staff_id)
    if staff is None or fingerprint != _fingerprint(staff):
        raise refused
    if datetime.fromtimestamp(expiry, UTC) <= now:
        raise refused
    return staff


def set_password(session: Session, staff: StaffMember, *, password: str) -> None:
    """Replace the staff member's password (the caller ends their sessions)."""
    staff.password_hash = hash_password(password)
    session.flush()


def password_link_url(base_url: str, token: str) -> str:
    """The set-password page's address (``base_url`` includes the blueprints' prefix)."""
    return f"{base_url.rstrip('/')}/admin/password/{token}"


def _fingerprint(staff: StaffMember) -> str:
    return hashlib.sha256((staff.password_hash or "none").encode()).hexdigest()[:16]
