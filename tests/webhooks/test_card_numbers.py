"""Host events may name their customer by loyalty card: ``card_number`` (issue 14)."""

from __future__ import annotations

from typing import Any

import pytest

from loyalty_plugin.domain.cards import NumberScheme
from loyalty_plugin.services.audit import Actor
from loyalty_plugin.services.cards import batches, holders
from tests.webhooks.conftest import balance, customer, event, invoice

STAFF = Actor.staff(1, "Ana")


@pytest.fixture
def cards(shop, send, now) -> list[str]:
    """Three cards of ``shop``: the first held by c1; c2 is known and holds none."""
    for host_id in ("c1", "c2"):
        assert send(event("customer.created", {"customer": customer(host_id)})).status == 200
    scheme = NumberScheme(prefix="2977", length=13)
    batch = batches.generate_cards(
        shop, merchant_id="shop", scheme=scheme, count=3, actor=STAFF, now=now
    )
    numbers = sorted(shop.scalars(batch_numbers(batch.id)))
    holders.assign_card(
        shop, merchant_id="shop", number=numbers[0], customer_id="c1", actor=STAFF, now=now
    )
    shop.commit()
    return numbers


def batch_numbers(batch_id: int) -> Any:
    from sqlalchemy import select

    from loyalty_plugin.models import Card

    return select(Card.number).where(Card.batch_id == batch_id)


def card_invoice(number: str, **fields: Any) -> dict[str, Any]:
    """An invoice that names its customer only by the card the till read."""
    body = invoice(**fields)
    del body["customer_id"]
    return body | {"card_number": number}


def test_an_invoice_with_only_a_card_earns_for_its_holder(send, shop, cards) -> None:
    before = balance(shop, "c1")
    spaced = f"{cards[0][:4]} {cards[0][4:]}"
    answer = send(event("invoice.paid", {"invoice": card_invoice(spaced)}))
    assert answer.status == 200, answer.body
    assert answer.body["result"]["points_earned"] == 12
    assert balance(shop, "c1") == before + 12


def test_an_unknown_card_is_422_on_the_field(send, shop, cards) -> None:
    answer = send(event("invoice.paid", {"invoice": card_invoice("2977000000007")}))
    assert answer.status == 422
    fields = answer.body["error"]["fields"]
    assert list(fields) == ["data.invoice.card_number"]
    assert "no card 2977000000007" in fields["data.invoice.card_number"][0]


def test_a_blocked_card_is_422_and_earns_nothing(send, shop, cards, now) -> None:
    holders.block_card(
        shop, merchant_id="shop", number=cards[0], reason="stolen", actor=STAFF, now=now
    )
    shop.commit()
    before = balance(shop, "c1")
    answer = send(event("invoice.paid", {"invoice": card_invoice(cards[0])}))
    assert answer.status == 422
    assert answer.body["error"]["fields"]["data.invoice.card_number"] == [
        f"card {cards[0]} is blocked"
    ]
    assert balance(shop, "c1") == before


def test_a_card_nobody_holds_is_422(send, shop, cards) -> None:
    answer = send(event("invoice.paid", {"invoice": card_invoice(cards[1])}))
    assert answer.status == 422
    assert "not given to any customer" in answer.body["error"]["message"]


def test_a_card_of_another_customer_than_the_one_named_is_422(send, shop, cards) -> None:
    body = invoice(customer_id="c2") | {"card_number": cards[0]}
    answer = send(event("invoice.paid", {"invoice": body}))
    assert answer.status == 422
    assert "is customer c1's, not customer c2's" in answer.body["error"]["message"]


def test_the_card_and_the_customer_may_both_be_named(send, shop, cards) -> None:
    body = invoice(customer_id="c1") | {"card_number": cards[0]}
    assert send(event("invoice.paid", {"invoice": body})).status == 200


def test_birthday_and_custom_events_take_a_card_too(send, shop, cards) -> None:
    answer = send(event("event.custom", {"card_number": cards[0], "name": "review"}))
    assert answer.status == 200, answer.body
    assert answer.body["result"]["customer_id"] == "c1"
    blocked = send(event("customer.birthday", {"card_number": cards[2], "date": "2026-01-15"}))
    assert blocked.status == 422
    assert list(blocked.body["error"]["fields"]) == ["data.card_number"]


def test_an_event_must_name_its_customer_somehow(send, shop) -> None:
    answer = send(event("event.custom", {"name": "review"}))
    assert answer.status == 422
    assert answer.body["error"]["fields"] == {
        "data.customer_id": ["customer_id or card_number is required"]
    }
    body = invoice()
    del body["customer_id"]
    answer = send(event("invoice.paid", {"invoice": body}))
    assert answer.body["error"]["fields"] == {
        "data.invoice.customer_id": ["customer_id, customer or card_number is required"]
    }


def test_the_replacement_card_earns_for_the_same_customer(send, shop, cards, now) -> None:
    holders.replace_card(
        shop,
        merchant_id="shop",
        number=cards[0],
        new_number=cards[1],
        reason="lost",
        actor=STAFF,
        now=now,
    )
    shop.commit()
    before = balance(shop, "c1")
    assert send(event("invoice.paid", {"invoice": card_invoice(cards[1])})).status == 200
    assert balance(shop, "c1") == before + 12
    old = send(event("invoice.paid", {"invoice": card_invoice(cards[0], id="INV-2")}))
    assert old.status == 422
    assert "reported lost and replaced" in old.body["error"]["message"]


def test_plugins_read_the_customer_a_card_named(send, shop, cards, pm) -> None:
    """``host_event_received`` sees ``customer_id`` filled in when the host sent a card."""
    from loyalty_plugin import hookimpl

    seen = []

    class Recorder:
        @hookimpl
        def host_event_received(self, session, event):
            data = event.data
            seen.append(getattr(data, "customer_id", None) or data.invoice.customer_id)

    pm.register(Recorder())
    assert send(event("event.custom", {"card_number": cards[0], "name": "review"})).status == 200
    assert send(event("invoice.paid", {"invoice": card_invoice(cards[0])})).status == 200
    assert seen == ["c1", "c1"]
