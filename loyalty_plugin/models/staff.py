"""Staff of the admin pages: accounts, their merchants and roles, sessions, throttling."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, Enum, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from loyalty_plugin.models.base import Base, BigId, utcnow


class StaffRole(enum.StrEnum):
    """What a staff member may do for a merchant; each role includes the ones before it."""

    #: Read everything; adjustments always wait for approval.
    STAFF = "staff"
    #: Also programs, levels, customers, adjustments up to the approval threshold.
    MANAGER = "manager"
    #: Everything, including API keys, webhook secrets and staff.
    OWNER = "owner"

    @property
    def rank(self) -> int:
        """0 for staff, 1 for manager, 2 for owner."""
        return list(StaffRole).index(self)

    def grants(self, needed: StaffRole) -> bool:
        """True if this role may do what ``needed`` allows."""
        return self.rank >= needed.rank

    def __lt__(self, other: object) -> bool:
        if isinstance(other, StaffRole):
            return self.rank < other.rank
        return NotImplemented

    def __le__(self, other: object) -> bool:
        if isinstance(other, StaffRole):
            return self.rank <= other.rank
        return NotImplemented

    def __gt__(self, other: object) -> bool:
        if isinstance(other, StaffRole):
            return self.rank > other.rank
        return NotImplemented

    def __ge__(self, other: object) -> bool:
        if isinstance(other, StaffRole):
            return self.rank >= other.rank
        return NotImplemented


def _role_type() -> Enum:
    return Enum(
        StaffRole, native_enum=False, length=16, values_callable=lambda e: [k.value for k in e]
    )


class StaffMember(Base):
    """A person who uses the admin pages, for one or more merchants."""

    __tablename__ = "staff_members"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: Lower-cased; one account per address.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    #: argon2id hash; ``None`` for staff who only come through admin links from the host.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_sign_in_at: Mapped[datetime | None]

    memberships: Mapped[list[StaffMembership]] = relationship(
        back_populates="staff", order_by="StaffMembership.merchant_id", lazy="selectin"
    )


class StaffMembership(Base):
    """A staff member's role at one merchant (and the host's id of that user, if any)."""

    __tablename__ = "staff_memberships"
    __table_args__ = (
        UniqueConstraint("staff_id", "merchant_id"),
        UniqueConstraint("merchant_id", "host_user_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_members.id"))
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), index=True)
    role: Mapped[StaffRole] = mapped_column(_role_type())
    #: The host CRM's id of this user, for staff that come through admin links.
    host_user_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    staff: Mapped[StaffMember] = relationship(back_populates="memberships")


class AdminSession(Base):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is stored."""

    __tablename__ = "admin_sessions"
    __table_args__ = (Index("ix_admin_sessions_staff", "staff_id", "revoked_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: SHA-256 (hex) of the cookie's token.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_members.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Updated at most once a minute.
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    #: The value every form of this session posts back as ``csrf``.
    csrf_secret: Mapped[str] = mapped_column(String(64))
    #: A message to show once on the next page (after a redirect).
    flash: Mapped[str | None] = mapped_column(String(500))
    #: How the session started: ``password`` or ``link``.
    method: Mapped[str] = mapped_column(String(16))
    address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(255))

    staff: Mapped[StaffMember] = relationship(lazy="joined")


class AdminLinkNonce(Base):
    """The nonce of an admin link that was opened: a second opening finds it and is refused."""

    __tablename__ = "admin_link_nonces"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    used_at: Mapped[datetime]
    #: When the link would have expired anyway (older rows may be deleted).
    expires_at: Mapped[datetime] = mapped_column(index=True)


class LoginAttempt(Base):
    """One password sign-in attempt, for throttling per account and per address."""

    __tablename__ = "admin_login_attempts"
    __table_args__ = (
        Index("ix_admin_login_attempts_email", "email", "at"),
        Index("ix_admin_login_attempts_address", "address", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    succeeded: Mapped[bool] = mapped_column(Boolean)
