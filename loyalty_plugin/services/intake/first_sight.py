"""Customers on first sight, and registration: shared by host events and the API.

A host whose customers existed before it installed us never sends ``customer.created`` for
them. With the merchant setting ``create_unknown_customers`` (on by default), the first
event or API write that names an unknown customer creates them: enrolled by the merchant's
``auto_enrol`` (auto opt-in), profile pending (no name yet), filled in when
``customer.created`` or ``customer.updated`` arrives. With the setting off, the caller
waits (events) or answers 404 (API), as before.

Registration is one fact per customer, the :class:`~loyalty_plugin.models.EventKey` of
:func:`~loyalty_plugin.domain.host_events.registration_key`: the first time a customer is
seen enrolled, whether on first sight or by ``customer.created``, they register and get the
registration bonus; a later ``customer.created`` finds the key and gives nothing. So the
ledger is the same whichever of an invoice or its customer arrives first.

Two callers meeting an unknown customer at once create one row: the loser's insert fails
on the (merchant, host id) unique key inside a savepoint and it reads the winner's row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import NotFound
from loyalty_plugin.domain.events import CustomerRegistered
from loyalty_plugin.domain.host_events import CustomerProfile, registration_key
from loyalty_plugin.models import Customer
from loyalty_plugin.services.earning import awards as earning
from loyalty_plugin.services.events import publish
from loyalty_plugin.services.idempotency import claim_fact
from loyalty_plugin.services.ledger.accounts import find_customer, update_profile, upsert_customer
from loyalty_plugin.services.spending.settings import merchant_settings


@dataclass(frozen=True, kw_only=True)
class Caller:
    """Who names the customer: hooks for program rule kinds, the ledger's actor, the clock."""

    hooks: Any
    now: datetime
    actor: str
    #: The host delivery that counts a registration (``None``: an API call).
    event_id: int | None = None
    occurred_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class Sighting:
    """A customer named by an event or a call, and what naming them did."""

    customer: Customer
    #: Created just now, on first sight.
    created: bool = False
    #: What registering did (``registered``, ``points_earned``...), if it happened now.
    registration: dict[str, Any] | None = None
    #: A profile pending since first sight was filled in just now.
    completed: bool = False

    def note(self) -> dict[str, Any]:
        """The ``customer_created`` part of an answer (empty unless created now)."""
        if not self.created:
            return {}
        created = {
            "customer_id": self.customer.host_customer_id,
            "enrolled": self.customer.enrolled,
            "profile_pending": self.customer.profile_pending,
        }
        registration = self.registration or {}
        return {
            "customer_created": created
            | {key: registration[key] for key in _NOTED if key in registration}
        }


#: What ``customer_created`` tells of the registration (not a program's whole answer).
_NOTED = ("registered", "points_earned", "reason", "level_changes")


def sight_customer(
    session: Session, *, merchant_id: str, host_customer_id: str, caller: Caller
) -> Sighting | None:
    """The named customer, created on first sight if the merchant allows; else ``None``."""
    found = find_customer(session, merchant_id, host_customer_id)
    if found is not None:
        return Sighting(customer=found)
    settings = merchant_settings(session, merchant_id)
    if not settings.create_unknown_customers:
        return None
    customer, created = _insert_pending(
        session,
        merchant_id=merchant_id,
        host_customer_id=str(host_customer_id),
        enrolled=settings.auto_enrol,
        now=caller.now,
    )
    if not created:
        return Sighting(customer=customer)
    return Sighting(
        customer=customer, created=True, registration=register(session, customer, caller)
    )


def require_customer(
    session: Session, *, merchant_id: str, host_customer_id: str, caller: Caller
) -> Sighting:
    """:func:`sight_customer` for the API: :class:`NotFound` when it may not create."""
    sighting = sight_customer(
        session, merchant_id=merchant_id, host_customer_id=host_customer_id, caller=caller
    )
    if sighting is None:
        raise NotFound(
            f"customer {host_customer_id!r} does not exist (create_unknown_customers is off)",
            field="customer_id",
        )
    return sighting


def save_profile(
    session: Session, *, merchant_id: str, profile: CustomerProfile, now: datetime
) -> Sighting | None:
    """Save a profile the host sent; ``None`` if unknown, nameless and first sight is off.

    A new customer the host does not say is enrolled is enrolled by ``auto_enrol``. A
    pending profile is filled in with what was sent and is pending no more. Registering is
    the caller's next step (:func:`register`).
    """
    fields = dict(profile.fields)
    # One look-up on the hot path (a known customer on every invoice that carries them).
    customer = find_customer(session, merchant_id, profile.id)
    created = False
    if customer is None:
        settings = merchant_settings(session, merchant_id)
        fields.setdefault("enrolled", settings.auto_enrol)
        if fields.get("first_name"):
            customer = upsert_customer(
                session, merchant_id=merchant_id, host_customer_id=profile.id, **fields
            )
            return Sighting(customer=customer, created=True)
        if not settings.create_unknown_customers:
            return None
        customer, created = _insert_pending(
            session,
            merchant_id=merchant_id,
            host_customer_id=profile.id,
            enrolled=fields["enrolled"],
            now=now,
        )
    completed = customer.profile_pending and not created
    update_profile(session, customer, **fields)
    customer.profile_pending = False
    return Sighting(customer=customer, created=created, completed=completed)


def register(session: Session, customer: Customer, caller: Caller) -> dict[str, Any]:
    """The first time a customer is seen enrolled: the event and the registration bonus."""
    if not customer.enrolled:
        return {}
    merchant_id = customer.merchant_id
    key = registration_key(customer.host_customer_id)
    if claim_fact(session, merchant_id=merchant_id, key=key, event_id=caller.event_id) is not None:
        return {}
    publish(
        session,
        CustomerRegistered(
            merchant_id=merchant_id,
            occurred_at=caller.now,
            customer_id=customer.host_customer_id,
        ),
    )
    return {"registered": True} | earning.event_with_programs(
        session,
        merchant_id=merchant_id,
        customer=customer,
        trigger="registration",
        reference=key,
        hooks=caller.hooks,
        now=caller.now,
        occurred_at=caller.occurred_at,
        actor=caller.actor,
    )


def _insert_pending(
    session: Session, *, merchant_id: str, host_customer_id: str, enrolled: bool, now: datetime
) -> tuple[Customer, bool]:
    """Insert the pending customer, or read the one a concurrent caller inserted first."""
    try:
        with session.begin_nested():
            customer = Customer(
                merchant_id=merchant_id,
                host_customer_id=host_customer_id,
                first_name="",
                enrolled=enrolled,
                email_opt_in=False,
                sms_opt_in=False,
                profile_pending=True,
                created_at=now,
                updated_at=now,
            )
            session.add(customer)
    except IntegrityError:
        # Another transaction created them first (and committed): use theirs.
        found = find_customer(session, merchant_id, host_customer_id)
        if found is None:
            raise
        return found, False
    return customer, True
