"""A merchant's particulars: name, currency, time zone and the locale of its e-mails.

The currency may change only while the merchant has no ledger entry: every entry's money
(what was paid, what points were worth) is in the currency of its day, and reports and the
liability add them up as one currency, so changing it afterwards would mix two currencies
in one sum. A merchant that changes currency with points on the books registers a new
merchant and moves its customers (``loyalty config export`` / ``import``).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import InvalidOperation, ValidationError
from loyalty_plugin.domain.money import check_currency
from loyalty_plugin.domain.notifications import check_locale
from loyalty_plugin.domain.reports import check_zone
from loyalty_plugin.models import LedgerEntry, Merchant
from loyalty_plugin.services.audit import Actor, as_actor, record_change
from loyalty_plugin.services.ledger.accounts import get_merchant
from loyalty_plugin.services.messaging.notifications import (
    notification_prefs,
    set_notification_prefs,
)

#: What :func:`update_particulars` changes.
EDITABLE = frozenset({"name", "currency", "timezone", "locale"})

#: Why a currency cannot change once there are ledger entries (the API and the page say it).
CURRENCY_LOCKED = (
    "the currency cannot change once points were recorded: the ledger's amounts and reports "
    "are in {currency}"
)


def particulars(session: Session, merchant_id: str) -> dict[str, Any]:
    """The merchant's name, id, currency, time zone, e-mail locale, and whether the currency
    may still change."""
    merchant = get_merchant(session, merchant_id)
    return {
        "id": merchant.id,
        "name": merchant.name,
        "currency": merchant.currency,
        "timezone": merchant.timezone,
        "locale": notification_prefs(session, merchant_id).locale,
        "currency_changeable": not _has_entries(session, merchant_id),
    }


def update_particulars(
    session: Session,
    *,
    merchant_id: str,
    changes: dict[str, Any],
    now: datetime,
    actor: Actor | str,
) -> dict[str, Any]:
    """Change the merchant's name, currency, time zone or e-mail locale.

    A time zone must be an IANA zone of :mod:`zoneinfo`; a locale one Babel knows; a new
    currency is refused once the merchant has a ledger entry (see the module). Audited as
    ``merchant.updated`` (the locale as ``notifications.updated``, where it is kept).
    """
    who = as_actor(actor)
    unknown = set(changes) - EDITABLE
    if unknown:
        name = sorted(unknown)[0]
        raise ValidationError(f"{name!r} cannot be changed", field=name)
    merchant = get_merchant(session, merchant_id)
    before = _document(merchant)
    if "name" in changes:
        name = (changes["name"] or "").strip()
        if not name or len(name) > 200:
            raise ValidationError("a name of 1 to 200 characters is required", field="name")
        merchant.name = name
    if "timezone" in changes:
        zone = (changes["timezone"] or "").strip()
        check_zone(zone)
        merchant.timezone = zone
    if "currency" in changes:
        _change_currency(session, merchant, changes["currency"])
    if "locale" in changes:
        locale = check_locale((changes["locale"] or "").strip())
        prefs = notification_prefs(session, merchant_id)
        if prefs.locale != locale:
            set_notification_prefs(
                session,
                merchant_id=merchant_id,
                prefs=dataclasses.replace(prefs, locale=locale),
                now=now,
                actor=who,
            )
    session.flush()
    after = _document(merchant)
    if after != before:
        record_change(
            session,
            merchant_id=merchant_id,
            actor=who,
            action="merchant.updated",
            target_type="merchant",
            target_id=merchant_id,
            before={k: v for k, v in before.items() if after[k] != v},
            after={k: v for k, v in after.items() if before[k] != v},
            now=now,
        )
    return particulars(session, merchant_id)


def _change_currency(session: Session, merchant: Merchant, wanted: Any) -> None:
    currency = check_currency(str(wanted or "").strip().upper())
    if currency == merchant.currency:
        return
    if _has_entries(session, merchant.id):
        raise InvalidOperation(CURRENCY_LOCKED.format(currency=merchant.currency), field="currency")
    merchant.currency = currency


def _has_entries(session: Session, merchant_id: str) -> bool:
    return (
        session.scalar(
            select(LedgerEntry.id).where(LedgerEntry.merchant_id == merchant_id).limit(1)
        )
        is not None
    )


def _document(merchant: Merchant) -> dict[str, Any]:
    return {"name": merchant.name, "currency": merchant.currency, "timezone": merchant.timezone}
