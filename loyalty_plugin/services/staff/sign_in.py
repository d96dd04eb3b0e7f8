"""Signing in with a password, throttled per account and per address."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.orm import Session

from loyalty_plugin.models import AdminSession, LoginAttempt
from loyalty_plugin.services.staff import SignInRefused, StaffPolicy, TooManyAttempts
from loyalty_plugin.services.staff.accounts import find_staff
from loyalty_plugin.services.staff.passwords import verify_password
from loyalty_plugin.services.staff.sessions import start_session


@dataclass(frozen=True, kw_only=True)
class SignInOutcome:
    """A new session (its cookie token and row), or why there is none.

    A refusal is returned, not raised, so that the caller commits the recorded attempt.
    """

    token: str = ""
    session: AdminSession | None = None
    refusal: SignInRefused | None = None


def sign_in_with_password(
    session: Session,
    *,
    email: str,
    password: str,
    address: str,
    user_agent: str | None,
    policy: StaffPolicy,
    now: datetime,
) -> SignInOutcome:
    """A new session for the account, a refusal, or :class:`TooManyAttempts` (raised).

    While an account or address is throttled even the right password is refused, and
    those refusals are not counted (a wait always ends). A wrong password is recorded.
    """
    email = email.strip().lower()[:254]
    address = address[:64]
    forget_old_attempts(session, policy=policy, now=now)
    check_throttle(session, email=email, address=address, policy=policy, now=now)
    staff = find_staff(session, email)
    matches, new_hash = verify_password(staff.password_hash if staff else None, password)
    session.add(LoginAttempt(email=email, address=address, at=now, succeeded=matches))
    if staff is None or not matches:
        session.flush()
        return SignInOutcome(refusal=SignInRefused())
    if new_hash is not None:
        staff.password_hash = new_hash
    token, row = start_session(
        session,
        staff,
        method="password",
        address=address,
        user_agent=user_agent,
        policy=policy,
        now=now,
    )
    return SignInOutcome(token=token, session=row)


def forget_old_attempts(session: Session, *, policy: StaffPolicy, now: datetime) -> None:
    """Delete attempts older than the window: they no longer count (each attempt tidies up)."""
    session.execute(
        delete(LoginAttempt)
        .where(LoginAttempt.at < now - timedelta(minutes=policy.attempt_minutes))
        .execution_options(synchronize_session=False)
    )


def check_throttle(
    session: Session, *, email: str, address: str, policy: StaffPolicy, now: datetime
) -> None:
    """:class:`TooManyAttempts` with the minutes to wait, if the account or address is locked."""
    window_start = now - timedelta(minutes=policy.attempt_minutes)
    last_success = session.scalar(
        select(func.max(LoginAttempt.at)).where(
            LoginAttempt.email == email, LoginAttempt.succeeded.is_(True)
        )
    )
    account_since = max(window_start, last_success) if last_success else window_start
    waits = [
        _wait(session, LoginAttempt.email == email, account_since, policy.max_attempts_account),
        _wait(session, LoginAttempt.address == address, window_start, policy.max_attempts_address),
    ]
    until = max((w for w in waits if w is not None), default=None)
    if until is not None:
        ends = until + timedelta(minutes=policy.attempt_minutes)
        if ends > now:
            raise TooManyAttempts(max(1, math.ceil((ends - now).total_seconds() / 60)))


def _wait(
    session: Session, who: ColumnElement[bool], since: datetime, limit: int
) -> datetime | None:
    """The time of the ``limit``-th latest failure since ``since``, if there are that many."""
    failures = session.scalars(
        select(LoginAttempt.at)
        .where(who, LoginAttempt.succeeded.is_(False), LoginAttempt.at > since)
        .order_by(LoginAttempt.at.desc())
        .limit(limit)
    ).all()
    return failures[limit - 1] if len(failures) >= limit else None
