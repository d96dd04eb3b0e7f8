"""Merchants, customers and their points accounts."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import NotFound, ValidationError
from loyalty_plugin.domain.ledger import POINTS
from loyalty_plugin.domain.money import check_currency
from loyalty_plugin.models import Account, Customer, Merchant
from loyalty_plugin.services.memo import recall, remember

#: Profile fields a host may set on a customer.
PROFILE_FIELDS = frozenset(
    {
        "customer_number",
        "first_name",
        "last_name",
        "email",
        "phone",
        "address_line",
        "city",
        "state",
        "postal_code",
        "country",
        "date_of_birth",
        "customer_group",
        "customer_groups",
        "tags",
        "enrolled",
        "email_opt_in",
        "sms_opt_in",
        "card_number",
        "locale",
    }
)


def get_merchant(session: Session, merchant_id: str) -> Merchant:
    """The merchant, or :class:`NotFound` naming ``merchant_id``."""
    merchant = session.get(Merchant, merchant_id)
    if merchant is None:
        raise NotFound(f"merchant {merchant_id!r} does not exist", field="merchant_id")
    return merchant


def find_customer(
    session: Session, merchant_id: str, host_customer_id: str, *, follow_merge: bool = True
) -> Customer | None:
    """The merchant's customer with this host id, if known.

    The host id of a merged customer names the survivor from then on (a merge points
    every merged record straight at the survivor, so this is one step); with
    ``follow_merge=False``, the merged record itself. A customer found earlier in the
    transaction is taken from the identity map (an event looks its customer up twice).
    """
    key = ("customer", merchant_id, str(host_customer_id))
    if (customer := recall(session, key)) is not None and (
        customer in session
        and customer.merchant_id == merchant_id
        and customer.host_customer_id == str(host_customer_id)
        and customer.merged_into_id is None
    ):
        return customer
    customer = session.scalars(
        select(Customer).where(
            Customer.merchant_id == merchant_id,
            Customer.host_customer_id == str(host_customer_id),
        )
    ).one_or_none()
    if follow_merge and customer is not None and customer.merged_into_id is not None:
        return session.get_one(Customer, customer.merged_into_id)
    if customer is not None and customer.merged_into_id is None:
        remember(session, key, customer)  # by reference: the identity map holds it weakly
    return customer


def upsert_customer(
    session: Session, *, merchant_id: str, host_customer_id: str | int, **profile: Any
) -> Customer:
    """Create the customer or update the given profile fields; returns the row."""
    profile = _checked_profile(profile)
    get_merchant(session, merchant_id)
    host_id = str(host_customer_id)
    customer = find_customer(session, merchant_id, host_id)
    if customer is None:
        if not profile.get("first_name"):
            raise ValidationError("a new customer needs a first name", field="first_name")
        customer = Customer(merchant_id=merchant_id, host_customer_id=host_id)
        session.add(customer)
    return _set_profile(session, customer, profile)


def update_profile(session: Session, customer: Customer, **profile: Any) -> Customer:
    """Set the given profile fields of a customer already loaded; returns it."""
    return _set_profile(session, customer, _checked_profile(profile))


def _checked_profile(profile: dict[str, Any]) -> dict[str, Any]:
    unknown = set(profile) - PROFILE_FIELDS
    if unknown:
        raise ValidationError(
            f"unknown profile field {sorted(unknown)[0]!r}", field=sorted(unknown)[0]
        )
    if isinstance(profile.get("date_of_birth"), str):
        profile["date_of_birth"] = date.fromisoformat(profile["date_of_birth"])
    return profile


def _set_profile(session: Session, customer: Customer, profile: dict[str, Any]) -> Customer:
    for field, value in profile.items():
        setattr(customer, field, value)
    session.flush()
    return customer


def open_account(
    session: Session, *, merchant_id: str, customer_id: int, unit: str = POINTS
) -> Account:
    """The customer's account with the merchant, created on first use: points by default,
    or store credit in the currency ``unit``."""
    if unit != POINTS:
        check_currency(unit, field="currency")
    account = _find_account(session, merchant_id, customer_id, unit)
    if account is not None:
        return account
    customer = session.get(Customer, customer_id)
    if customer is None or customer.merchant_id != merchant_id:
        raise NotFound(f"customer {customer_id} does not exist", field="customer_id")
    try:
        with session.begin_nested():
            account = Account(merchant_id=merchant_id, customer_id=customer_id, unit=unit)
            session.add(account)
    except IntegrityError:
        # Another transaction opened the same account first; use theirs.
        account = _find_account(session, merchant_id, customer_id, unit)
        if account is None:
            raise
    return account


def account_for_host_customer(session: Session, merchant_id: str, host_customer_id: str) -> Account:
    """The account of a customer named by the host's id, or :class:`NotFound`."""
    customer = find_customer(session, merchant_id, host_customer_id)
    if customer is None:
        raise NotFound(f"customer {host_customer_id!r} does not exist", field="customer_id")
    return open_account(session, merchant_id=merchant_id, customer_id=customer.id)


def _find_account(
    session: Session, merchant_id: str, customer_id: int, unit: str = POINTS
) -> Account | None:
    return session.scalars(
        select(Account).where(
            Account.merchant_id == merchant_id,
            Account.customer_id == customer_id,
            Account.unit == unit,
        )
    ).one_or_none()


def merged_with(account_id: int) -> Select[tuple[int]]:
    """The ids of an account and of the accounts merged into it (their entries stay theirs)."""
    return select(Account.id).where(
        or_(Account.id == account_id, Account.merged_into_id == account_id)
    )
