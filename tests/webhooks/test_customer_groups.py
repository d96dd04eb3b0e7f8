"""A customer in several groups (#16): every group counts for audiences and exclusions.

Perfex puts a customer in any number of groups; before #16 the contract carried one
``group`` and the module sent the first, so a program for a customer's second group never
applied to them.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from loyalty_plugin.models import Customer
from tests.webhooks.conftest import balance, customer, event, invoice, replace_default_program


@pytest.fixture
def wholesale(shop, now) -> None:
    """The only program in force is for the ``wholesale`` group: 1 point per 10.00."""
    replace_default_program(shop, now=now, audience={"groups": ["wholesale"]})


def test_every_group_is_stored_and_the_first_is_the_group(send, shop) -> None:
    """``groups`` is kept whole (once each, in order); ``group`` defaults to the first."""
    profile = customer(groups=["retail", "wholesale", "retail"])
    assert send(event("customer.created", {"customer": profile})).status == 200
    row = shop.scalars(select(Customer)).one()
    assert (row.customer_group, row.customer_groups) == ("retail", ["retail", "wholesale"])
    send(event("customer.updated", {"customer": {"id": "c1", "groups": []}}))
    shop.expire_all()
    row = shop.scalars(select(Customer)).one()
    assert (row.customer_group, row.customer_groups) == (None, [])


@pytest.mark.parametrize(
    ("groups", "points"),
    [(["retail", "wholesale"], 12), (["retail"], 0), (["wholesale"], 12)],
    ids=["second-group", "not-in-it", "only-group"],
)
def test_a_program_for_a_second_group_applies(send, shop, wholesale, groups, points) -> None:
    """A wholesale program earns for a customer whose second group is wholesale."""
    send(event("customer.created", {"customer": customer(groups=groups)}))
    answer = send(event("invoice.paid", {"invoice": invoice()}))
    assert answer.body["result"]["points_earned"] == points, answer.body
    assert balance(shop) == points


def test_a_rule_excluding_a_second_group_leaves_the_customer_out(send, shop, now) -> None:
    """A rule excluding ``staff`` leaves out a customer whose groups include staff."""
    exclude = {"products": [], "categories": [], "tags": [], "groups": ["staff"]}
    rules = [{"kind": "per_amount", "points": "1", "per": "10", "exclude": exclude}]
    replace_default_program(shop, now=now, rules=rules)
    send(event("customer.created", {"customer": customer(groups=["retail", "staff"])}))
    send(event("customer.created", {"customer": customer("c2", groups=["retail"])}))
    send(event("invoice.paid", {"invoice": invoice()}))
    send(event("invoice.paid", {"invoice": invoice("INV-2", customer_id="c2")}))
    assert (balance(shop), balance(shop, "c2")) == (0, 12)


def test_groups_must_be_short_texts(send) -> None:
    """A group longer than 64 characters is refused at its place in the list."""
    profile = customer(groups=["retail", "x" * 65])
    answer = send(event("customer.created", {"customer": profile}))
    assert answer.status == 422
    assert "data.customer.groups.1" in answer.body["error"]["fields"]
