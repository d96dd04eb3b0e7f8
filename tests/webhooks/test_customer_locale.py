"""The host may send a customer's ``locale``: stored, and the portal's and e-mails'
language (docs/portal.md#languages); an unknown one is refused at the field."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty_plugin.models import Customer
from tests.webhooks.conftest import customer, event


def _locale(session: Session) -> str | None:
    return session.scalars(select(Customer.locale).where(Customer.host_customer_id == "c1")).one()


def test_the_host_sends_and_changes_a_customers_locale(shop: Session, send) -> None:
    assert send(event("customer.created", {"customer": customer(locale="de_DE")})).status == 200
    assert _locale(shop) == "de_DE"
    assert send(event("customer.updated", {"customer": customer(locale="sw-KE")})).status == 200
    assert _locale(shop) == "sw-KE"
    assert send(event("customer.updated", {"customer": customer(last_name="Horvat")})).status == 200
    assert _locale(shop) == "sw-KE"  # only the fields sent change


def test_an_unknown_locale_is_refused_at_its_field(shop: Session, send) -> None:
    answer = send(event("customer.created", {"customer": customer(locale="xx_NOPE")}))
    assert answer.status == 422
    assert "data.customer.locale" in answer.body["error"]["fields"], answer.body
