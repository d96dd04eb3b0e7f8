"""Admin links: a host's staff member opens our admin pages from the CRM, signed in.

The host asks for a link (``POST /api/v1/admin-links``) naming its user and a role. The
link carries a token signed with the plugin's secret (itsdangerous, salt of its own) that
names the merchant, the user, the role, when it expires and a random nonce. Nothing is
stored when it is made; opening it stores the nonce, so a second opening is refused.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import InvalidOperation, LoyaltyError, ValidationError
from loyalty_plugin.models import (
    AdminLinkNonce,
    AdminSession,
    StaffMember,
    StaffMembership,
    StaffRole,
)
from loyalty_plugin.services.audit import Actor
from loyalty_plugin.services.ledger.accounts import get_merchant
from loyalty_plugin.services.staff import StaffPolicy
from loyalty_plugin.services.staff.accounts import (
    add_to_merchant,
    create_staff,
    find_staff,
    normalize_email,
)
from loyalty_plugin.services.staff.sessions import start_session

_SALT = "loyalty-admin-link"
#: The longest an admin link may work: it is meant to be opened at once.
MAX_VALID = timedelta(minutes=15)


class AdminLinkInvalid(LoyaltyError):
    """The link is damaged, forged or signed with another key."""

    code = "admin_link_invalid"


class AdminLinkExpired(LoyaltyError):
    """The link is past its expiry."""

    code = "admin_link_expired"


class AdminLinkUsed(LoyaltyError):
    """The link was already opened once."""

    code = "admin_link_used"


@dataclass(frozen=True, kw_only=True)
class AdminLink:
    """A link made for the host: the address and when it stops working."""

    url: str
    expires_at: datetime
    merchant_id: str
    host_user_id: str
    email: str
    role: StaffRole


@dataclass(frozen=True, kw_only=True)
class OpenedLink:
    """An opened link: the new session (its cookie token and row) and the merchant."""

    token: str
    session: AdminSession
    merchant_id: str


def make_admin_link(
    session: Session,
    *,
    secret: str,
    base_url: str,
    merchant_id: str,
    covered: Sequence[str],
    host_user_id: str,
    email: str,
    name: str,
    role: StaffRole,
    now: datetime,
    valid: timedelta,
) -> AdminLink:
    """A one-time link signing the host's user in at ``merchant_id`` with ``role``.

    ``covered`` are the merchants of the asking API key: the link may not sign in an
    account that also works for a merchant outside them.
    """
    get_merchant(session, merchant_id)
    email = normalize_email(email)
    name = " ".join(name.split())
    if not name:
        raise ValidationError("give the staff member's name", field="name")
    _check_account(session, merchant_id, host_user_id, email, covered)
    expires_at = now + min(valid, MAX_VALID)
    payload = [
        merchant_id, host_user_id, email, name[:200], role.value, list(covered),
        math.ceil(expires_at.timestamp()), secrets.token_urlsafe(16),
    ]  # fmt: skip
    token = URLSafeSerializer(secret, salt=_SALT).dumps(payload)
    return AdminLink(
        url=f"{base_url.rstrip('/')}/admin/link/{token}",
        expires_at=expires_at,
        merchant_id=merchant_id,
        host_user_id=host_user_id,
        email=email,
        role=role,
    )


def open_admin_link(
    session: Session,
    *,
    secret: str,
    token: str,
    address: str | None,
    user_agent: str | None,
    policy: StaffPolicy,
    now: datetime,
) -> OpenedLink:
    """Use the link once: the staff member (made on first use, role as the link says) and a
    new session; :class:`AdminLinkInvalid`, :class:`AdminLinkExpired` or
    :class:`AdminLinkUsed` otherwise."""
    merchant_id, host_user_id, email, name, role, covered, expires_at, nonce = _read(secret, token)
    if expires_at <= now:
        raise AdminLinkExpired("this admin link has expired")
    if session.get(AdminLinkNonce, nonce) is not None:
        raise AdminLinkUsed("this admin link was already used")
    forget_used_links(session, now=now)
    session.add(AdminLinkNonce(nonce=nonce, used_at=now, expires_at=expires_at))
    session.flush()  # a simultaneous second opening fails here, and is refused on retry
    staff = _check_account(session, merchant_id, host_user_id, email, covered)
    if staff is None:
        staff = create_staff(session, email=email, name=name, now=now)
    add_to_merchant(
        session,
        staff,
        merchant_id=merchant_id,
        role=role,
        host_user_id=host_user_id,
        actor=Actor.host(f"admin link for {host_user_id}"),
        now=now,
    )
    cookie, row = start_session(
        session, staff, method="link", address=address, user_agent=user_agent, policy=policy,
        now=now,
    )  # fmt: skip
    return OpenedLink(token=cookie, session=row, merchant_id=merchant_id)


def forget_used_links(session: Session, *, now: datetime) -> None:
    """Delete the nonces of links that have expired anyway (each opening tidies up)."""
    session.execute(
        delete(AdminLinkNonce)
        .where(AdminLinkNonce.expires_at < now)
        .execution_options(synchronize_session=False)
    )


def _check_account(
    session: Session, merchant_id: str, host_user_id: str, email: str, covered: Sequence[str]
) -> StaffMember | None:
    """The account the host's user is (by their host id here, else by e-mail), if any.

    :class:`InvalidOperation` if it also works for a merchant the asking key does not
    cover: one host may not sign in another merchant's staff.
    """
    by_host_id = session.scalars(
        select(StaffMembership).where(
            StaffMembership.merchant_id == merchant_id,
            StaffMembership.host_user_id == host_user_id,
        )
    ).one_or_none()
    staff = by_host_id.staff if by_host_id is not None else find_staff(session, email)
    if staff is not None and any(m.merchant_id not in covered for m in staff.memberships):
        raise InvalidOperation(
            "this staff member also works for a merchant this API key does not act for",
            field="email",
        )
    return staff


def _read(
    secret: str, token: str
) -> tuple[str, str, str, str, StaffRole, list[str], datetime, str]:
    invalid = AdminLinkInvalid("this admin link is not valid")
    try:
        values = URLSafeSerializer(secret, salt=_SALT).loads(token)
        merchant_id, host_user_id, email, name, role, covered, expiry, nonce = values
        checked = (
            str(merchant_id), str(host_user_id), str(email), str(name), StaffRole(role),
            [str(m) for m in covered], datetime.fromtimestamp(int(expiry), UTC), str(nonce),
        )  # fmt: skip
    except (BadSignature, ValueError, TypeError):
        raise invalid from None
    return checked
