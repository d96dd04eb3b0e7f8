"""Admin sessions, stored: sign in, read, sign out (here or everywhere), one-time messages.

The browser's cookie holds a random token; the database holds its SHA-256 only, so a copy
of the table does not sign anyone in. Every sign-in makes a new token and row.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from loyalty_plugin.models import AdminSession, StaffMember
from loyalty_plugin.services.audit import Actor, record_change
from loyalty_plugin.services.staff import StaffPolicy
from loyalty_plugin.services.staff.accounts import member

#: ``last_seen_at`` is written at most this often, so pages do not all write.
TOUCH_EVERY = timedelta(minutes=1)
#: Ended sessions are kept this long (for "My sessions" and investigations), then deleted.
KEEP_ENDED = timedelta(days=30)


def token_hash(token: str) -> str:
    """What is stored of a session token."""
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(
    session: Session,
    staff: StaffMember,
    *,
    method: str,
    address: str | None,
    user_agent: str | None,
    policy: StaffPolicy,
    now: datetime,
) -> tuple[str, AdminSession]:
    """A new session for ``staff``: the token for the cookie, and the stored row.

    The staff member's sessions that ended over :data:`KEEP_ENDED` ago are deleted.
    """
    session.execute(
        delete(AdminSession)
        .where(AdminSession.staff_id == staff.id, AdminSession.expires_at < now - KEEP_ENDED)
        .execution_options(synchronize_session=False)
    )
    token = secrets.token_urlsafe(32)
    row = AdminSession(
        token_hash=token_hash(token),
        staff_id=staff.id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=policy.session_hours),
        csrf_secret=secrets.token_urlsafe(32),
        method=method,
        address=(address or "")[:64] or None,
        user_agent=(user_agent or "")[:255] or None,
    )
    session.add(row)
    staff.last_sign_in_at = now
    session.flush()
    return token, row


def read_session(
    session: Session, token: str, *, policy: StaffPolicy, now: datetime
) -> AdminSession | None:
    """The live session of ``token`` (``None`` if unknown, signed out, expired or idle)."""
    if not token or len(token) > 100:
        return None
    row = session.scalars(
        select(AdminSession).where(AdminSession.token_hash == token_hash(token))
    ).one_or_none()
    if row is None or not is_live(row, policy=policy, now=now):
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
        session.flush()
    return row


def is_live(row: AdminSession, *, policy: StaffPolicy, now: datetime) -> bool:
    """Not signed out, not past its end, and used within the idle time."""
    idle_end = row.last_seen_at + timedelta(minutes=policy.idle_minutes)
    return row.revoked_at is None and now < row.expires_at and now < idle_end


def sign_out(session: Session, row: AdminSession, *, now: datetime) -> None:
    """End this one session."""
    if row.revoked_at is None:
        row.revoked_at = now
    session.flush()


def sign_out_everywhere(session: Session, staff_id: int, *, now: datetime) -> int:
    """End every session of the staff member; returns how many were live."""
    result = session.execute(
        update(AdminSession)
        .where(AdminSession.staff_id == staff_id, AdminSession.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session="fetch")
    )
    session.flush()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def sign_out_member(
    session: Session, *, merchant_id: str, staff_id: int, actor: Actor | str, now: datetime
) -> tuple[StaffMember, int]:
    """An owner ends every session of one of the merchant's staff (in the audit trail)."""
    staff = member(session, merchant_id, staff_id).staff
    count = sign_out_everywhere(session, staff_id, now=now)
    record_change(
        session,
        merchant_id=merchant_id,
        actor=actor,
        action="staff.signed_out",
        target_type="staff",
        target_id=staff_id,
        before=None,
        after={"sessions_ended": count},
        now=now,
    )
    return staff, count


def live_sessions(
    session: Session, staff_id: int, *, policy: StaffPolicy, now: datetime
) -> list[AdminSession]:
    """The staff member's sessions that still work, most recently used first."""
    rows = session.scalars(
        select(AdminSession)
        .where(
            AdminSession.staff_id == staff_id,
            AdminSession.revoked_at.is_(None),
            AdminSession.expires_at > now,
        )
        .order_by(AdminSession.last_seen_at.desc(), AdminSession.id.desc())
    )
    return [row for row in rows if is_live(row, policy=policy, now=now)]


def set_flash(session: Session, row: AdminSession, text: str) -> None:
    """Keep ``text`` to show once on the session's next page."""
    row.flash = text[:500]
    session.flush()


def take_flash(session: Session, row: AdminSession) -> str | None:
    """The message kept for this page, removed so that it shows once."""
    text = row.flash
    if text is not None:
        row.flash = None
        session.flush()
    return text
