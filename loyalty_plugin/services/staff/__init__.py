"""Staff of the admin pages: accounts and roles, passwords, sessions, admin links, throttling.

No Flask here: the web layer passes the clock, the request's address and the settings
(:class:`StaffPolicy`) in, and commits.
"""

from __future__ import annotations

from dataclasses import dataclass

from loyalty_plugin.domain.errors import LoyaltyError


@dataclass(frozen=True, kw_only=True)
class StaffPolicy:
    """Deployment settings for sessions and sign-in (``LOYALTY_ADMIN_*``)."""

    #: Hours a session lasts at most from sign-in.
    session_hours: int = 12
    #: Minutes without a request after which a session ends.
    idle_minutes: int = 120
    #: Wrong passwords for one account, within ``attempt_minutes``, before it is refused.
    max_attempts_account: int = 5
    #: Wrong passwords from one address, within ``attempt_minutes``, before it is refused.
    max_attempts_address: int = 20
    #: The window in which wrong passwords count, and so the longest wait.
    attempt_minutes: int = 15
    #: Hours a set-password link works.
    password_link_hours: int = 72


class SignInRefused(LoyaltyError):
    """The e-mail address and password do not match an account (said the same either way)."""

    code = "sign_in_refused"

    def __init__(self) -> None:
        super().__init__("the e-mail address or the password is not right", field="password")


class TooManyAttempts(LoyaltyError):
    """Too many wrong passwords lately: refused, even the right one, for ``minutes``."""

    code = "too_many_attempts"

    def __init__(self, minutes: int) -> None:
        unit = "minute" if minutes == 1 else "minutes"
        super().__init__(f"too many attempts, try again in {minutes} {unit}", field="email")
        self.minutes = minutes
