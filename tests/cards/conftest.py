"""Cards: a merchant with customers, and the staff member who acts."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from loyalty_plugin.domain.cards import NumberScheme
from loyalty_plugin.models import Customer, Merchant
from loyalty_plugin.services.audit import Actor


@pytest.fixture
def actor() -> Actor:
    return Actor(kind="staff", id="7", name="Ana")


@pytest.fixture
def scheme() -> NumberScheme:
    return NumberScheme(prefix="2977", length=13, check_digit="luhn")


@pytest.fixture
def shop(session: Session) -> Merchant:
    """Merchant ``shop`` with customers ``c1`` and ``c2``, committed."""
    merchant = Merchant(id="shop", name="Shop", currency="EUR")
    session.add(merchant)
    session.flush()
    for host_id in ("c1", "c2"):
        session.add(Customer(merchant_id="shop", host_customer_id=host_id, first_name=host_id))
    session.add(Merchant(id="other", name="Other", currency="EUR"))
    session.commit()
    return merchant
