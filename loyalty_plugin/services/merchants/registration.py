"""Merchants (tenants): registering one, with the program it starts with.

Apart from :mod:`loyalty_plugin.services.ledger.accounts`, which the programs service builds on,
because a new merchant's default program is made by the programs service.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import InvalidOperation, ValidationError
from loyalty_plugin.domain.money import check_currency
from loyalty_plugin.models import Merchant
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.earning.programs import create_default_program


def create_merchant(
    session: Session,
    *,
    merchant_id: str,
    name: str,
    currency: str,
    timezone: str = "UTC",
    default_program: bool = True,
    now: datetime | None = None,
) -> Merchant:
    """Register a merchant (a tenant); refuses an id that is taken.

    The merchant starts with the default program (see
    :data:`~loyalty_plugin.services.earning.programs.DEFAULT_PROGRAM`) unless ``default_program``
    is false (a caller that creates its own program at once).
    """
    if (
        not merchant_id
        or len(merchant_id) > 64
        or not merchant_id.replace("-", "").replace("_", "").isalnum()
    ):
        raise ValidationError("merchant id must be 1-64 letters, digits, '-' or '_'", field="id")
    if not name or not name.strip():
        raise ValidationError("a name is required", field="name")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"{timezone!r} is not an IANA time zone", field="timezone") from None
    if session.get(Merchant, merchant_id) is not None:
        raise InvalidOperation(f"merchant {merchant_id!r} already exists", field="id")
    merchant = Merchant(
        id=merchant_id, name=name.strip(), currency=check_currency(currency), timezone=timezone
    )
    session.add(merchant)
    session.flush()
    if default_program:
        create_default_program(session, merchant_id=merchant.id, now=now or utcnow())
    return merchant
