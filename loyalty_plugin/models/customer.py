"""Customer: a host CRM's customer as one merchant knows them."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from loyalty_plugin.models.base import Base, BigId, utcnow


class Customer(Base):
    """Profile, enrolment and consents of one customer with one merchant."""

    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("merchant_id", "host_customer_id"),
        UniqueConstraint("merchant_id", "card_number"),
        # The dashboard's non-members (few next to the members): their repeat orders.
        Index(
            "ix_customers_not_enrolled",
            "merchant_id",
            "enrolled",
            postgresql_where=text("NOT enrolled"),
            sqlite_where=text("NOT enrolled"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    #: The host's own id for the customer (Perfex sends integers; stored as text).
    host_customer_id: Mapped[str] = mapped_column(String(64))
    customer_number: Mapped[str | None] = mapped_column(String(64))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(32))
    address_line: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str | None] = mapped_column(String(100))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    #: ISO 3166-1 alpha-2 country code.
    country: Mapped[str | None] = mapped_column(String(2))
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    #: The host's customer group (the first, when the host names several), shown in reports.
    customer_group: Mapped[str | None] = mapped_column(String(64))
    #: Every group the host puts the customer in (``groups``); with ``customer_group``,
    #: what program audiences and rule exclusions look at.
    customer_groups: Mapped[list[str] | None] = mapped_column(JSON)
    #: The group the ``roll-up-reports`` job filed the customer's kept open points under
    #: (``report_group_lot_days``); it differs from ``customer_group`` until the job's next
    #: run after the group changed, and the aging report moves those customers' points
    #: itself meanwhile. Written by the job only.
    report_group: Mapped[str | None] = mapped_column(String(64))
    #: Tags the host puts on the customer (``vip``, ``student``): rule conditions read them.
    tags: Mapped[list[str] | None] = mapped_column(JSON)
    enrolled: Mapped[bool] = mapped_column(Boolean, default=True)
    email_opt_in: Mapped[bool] = mapped_column(Boolean, default=False)
    sms_opt_in: Mapped[bool] = mapped_column(Boolean, default=False)
    card_number: Mapped[str | None] = mapped_column(String(64))
    #: The customer's language as the host sent it (``de_DE``); the portal and e-mails
    #: use it when we ship its language, else the merchant's (``loyalty_plugin/i18n.py``).
    locale: Mapped[str | None] = mapped_column(String(16))
    #: Created on first sight (an event or API call named them): no profile from the host
    #: yet; ``customer.created`` or ``customer.updated`` fills it in.
    profile_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The customer this record was merged into (``None``: not merged). A merged record is
    #: kept, never deleted; its host id resolves to this survivor from then on.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    merged_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def display_name(self) -> str:
        """First and last name, as shown to staff and in e-mails."""
        return " ".join(part for part in (self.first_name, self.last_name) if part)
