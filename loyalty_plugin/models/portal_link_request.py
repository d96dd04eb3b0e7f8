"""A customer's request, on the expired-link page, for a new portal link by e-mail.

Every request is kept for a day, sent or not, so that the page can throttle per customer,
per typed address and per client address without telling whether an address is known.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from loyalty_plugin.models.base import Base, BigId


class PortalLinkRequest(Base):
    """One "e-mail me a new link" form sent from the portal."""

    __tablename__ = "portal_link_requests"
    __table_args__ = (
        Index("ix_portal_link_requests_customer", "customer_id", "at"),
        Index("ix_portal_link_requests_address", "address_hash", "at"),
        Index("ix_portal_link_requests_client", "client", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    #: The customer the expired link named (the new link goes only to their address).
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    #: SHA-256 of the typed address, trimmed and lower-cased (the address itself is not kept).
    address_hash: Mapped[str] = mapped_column(String(64))
    #: The client's IP address.
    client: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    #: Whether a link was queued: the address matched and no limit was reached.
    sent: Mapped[bool] = mapped_column(Boolean)
