"""Card services on every database: batches, assigning, blocking, replacing, finding."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from stdnum import luhn

from loyalty_plugin.domain.cards import NumberScheme
from loyalty_plugin.domain.errors import InvalidOperation, NotFound, ValidationError
from loyalty_plugin.models import AuditEntry, Card, CardStatus, Customer
from loyalty_plugin.services.cards import batches, holders
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.accounts import account_for_host_customer


def _generate(session, actor, now, scheme, count=5, **kwargs):
    batch = batches.generate_cards(
        session, merchant_id="shop", scheme=scheme, count=count, actor=actor, now=now, **kwargs
    )
    session.commit()
    return batch


def _numbers(session: Session, batch_id: int) -> list[str]:
    return list(session.scalars(select(Card.number).where(Card.batch_id == batch_id)))


def test_generating_makes_available_cards_of_the_scheme(session, shop, actor, now, scheme) -> None:
    """N cards, all new, all available, each with a valid Luhn digit and the prefix."""
    batch = _generate(session, actor, now, scheme, count=200)
    numbers = _numbers(session, batch.id)
    assert len(numbers) == len(set(numbers)) == 200 == batch.count
    assert all(luhn.is_valid(n) and n.startswith("2977") and len(n) == 13 for n in numbers)
    statuses = set(session.scalars(select(Card.status).where(Card.batch_id == batch.id)))
    assert statuses == {CardStatus.AVAILABLE}
    assert batch.created_by == actor.label


def test_a_repeated_generation_makes_nothing_twice(session, shop, actor, now, scheme) -> None:
    """The same request key returns the first batch."""
    first = _generate(session, actor, now, scheme, count=3, request_key="form-1")
    again = _generate(session, actor, now, scheme, count=3, request_key="form-1")
    assert again.id == first.id
    assert session.scalar(select(func.count()).select_from(Card)) == 3


def test_a_full_scheme_is_refused_on_count(session, shop, actor, now) -> None:
    """A scheme with room for 10,000 numbers cannot give 10,001; it can give all 10,000
    over two batches, and then none."""
    small = NumberScheme(prefix="123", length=8, check_digit="luhn")
    with pytest.raises(ValidationError) as refused:
        _generate(session, actor, now, small, count=10_001)
    assert refused.value.field == "count"
    session.rollback()
    _generate(session, actor, now, small, count=9_000)
    _generate(session, actor, now, small, count=1_000)
    assert session.scalar(select(func.count()).select_from(Card)) == 10_000
    with pytest.raises(ValidationError, match="room for 0 more"):
        _generate(session, actor, now, small, count=1)


@pytest.mark.parametrize("count", [0, -1, 50_001, True])
def test_a_bad_count_is_refused(session, shop, actor, now, scheme, count) -> None:
    with pytest.raises(ValidationError) as refused:
        _generate(session, actor, now, scheme, count=count)
    assert refused.value.field == "count"


def test_the_csv_of_a_batch_lists_its_cards(session, shop, actor, now, scheme) -> None:
    batch = _generate(session, actor, now, scheme, count=3)
    text = "".join(batches.batch_csv(session, merchant_id="shop", batch_id=batch.id))
    lines = text.splitlines()
    assert lines[0] == "number,batch_id,status,customer_id"
    assert sorted(line.split(",")[0] for line in lines[1:]) == sorted(_numbers(session, batch.id))
    assert all(line.endswith(f",{batch.id},available,") for line in lines[1:])


def test_another_merchants_batch_is_not_found(session, shop, actor, now, scheme) -> None:
    batch = _generate(session, actor, now, scheme, count=1)
    with pytest.raises(NotFound) as refused:
        batches.batch_csv(session, merchant_id="other", batch_id=batch.id)
    assert refused.value.field == "batch_id"


def test_importing_pre_printed_numbers(session, shop, actor, now, scheme) -> None:
    """Numbers are read with spaces and dashes, checked against the scheme, made available."""
    a, b = scheme.draw(), scheme.draw()
    lines = ["number\n", f"{a[:4]} {a[4:]}\n", f"{b[:4]}-{b[4:]}\n"]
    batch = batches.import_cards(
        session, merchant_id="shop", lines=lines, scheme=scheme, actor=actor, now=now
    )
    session.commit()
    assert sorted(_numbers(session, batch.id)) == sorted([a, b])
    assert batch.source == "imported"


def test_an_import_with_a_bad_line_imports_nothing(session, shop, actor, now, scheme) -> None:
    """All or nothing: every bad line is named with its field, and no card is made."""
    taken = _numbers(session, _generate(session, actor, now, scheme, count=1).id)[0]
    good = scheme.draw()
    lines = [
        "number\n",
        f"{good}\n",  # line 2
        "2977000000001\n",  # line 3: check digit
        f"{good}\n",  # line 4: twice
        f"{taken}\n",  # line 5: a card already
        "\n",
        "12\n",  # line 7: length
    ]
    with pytest.raises(batches.CardImportRefused) as refused:
        batches.import_cards(
            session, merchant_id="shop", lines=lines, scheme=scheme, actor=actor, now=now
        )
    session.rollback()
    where = [(e.line, e.field) for e in refused.value.errors]
    assert where == [(3, "number"), (4, "number"), (5, "number"), (7, "number")]
    texts = refused.value.to_dict()["fields"]["file"]
    assert "line 3: number: the check digit does not match (luhn)" in texts[0]
    assert "is on line 2 already" in texts[1]
    assert "is a card already" in texts[2]
    assert refused.value.message == "4 lines refused; no card was imported"
    assert session.scalar(select(func.count()).select_from(Card)) == 1


def test_an_import_without_a_scheme_takes_any_number(session, shop, actor, now) -> None:
    batch = batches.import_cards(
        session,
        merchant_id="shop",
        lines=["number\n", "abc-123\n"],
        scheme=None,
        actor=actor,
        now=now,
    )
    assert _numbers(session, batch.id) == ["ABC123"]


def test_an_empty_file_is_refused(session, shop, actor, now) -> None:
    with pytest.raises(batches.CardImportRefused):
        batches.import_cards(
            session, merchant_id="shop", lines=["number\n"], scheme=None, actor=actor, now=now
        )


# -- holders -----------------------------------------------------------------------------------


@pytest.fixture
def stock(session, shop, actor, now, scheme) -> list[str]:
    """Five available cards of ``shop``."""
    return sorted(_numbers(session, _generate(session, actor, now, scheme, count=5).id))


def _assign(session, actor, now, number, customer_id="c1"):
    card = holders.assign_card(
        session, merchant_id="shop", number=number, customer_id=customer_id, actor=actor, now=now
    )
    session.commit()
    return card


def test_an_assigned_card_finds_its_customer(session, stock, actor, now) -> None:
    card = _assign(session, actor, now, stock[0])
    assert card.status == CardStatus.ASSIGNED
    found = holders.find_customer_by_card(session, "shop", f"{stock[0][:4]} {stock[0][4:]}")
    assert found.host_customer_id == "c1"
    assert found.card_number == stock[0]


def test_assigning_twice_to_the_same_customer_changes_nothing(session, stock, actor, now) -> None:
    first = _assign(session, actor, now, stock[0])
    again = _assign(session, actor, now, stock[0])
    assert again.id == first.id
    assert again.assigned_at == first.assigned_at


def test_a_card_goes_to_one_customer_and_a_customer_holds_one_card(
    session, stock, actor, now
) -> None:
    _assign(session, actor, now, stock[0], "c1")
    with pytest.raises(InvalidOperation) as taken:
        _assign(session, actor, now, stock[0], "c2")
    assert taken.value.field == "number"
    session.rollback()
    with pytest.raises(InvalidOperation) as holds:
        _assign(session, actor, now, stock[1], "c1")
    assert holds.value.field == "customer_id"
    assert "replace it instead" in holds.value.message


def test_unknown_card_and_customer_name_their_field(session, stock, actor, now) -> None:
    with pytest.raises(NotFound) as card:
        _assign(session, actor, now, "2977000000004")
    assert card.value.field == "number"
    with pytest.raises(NotFound) as customer:
        _assign(session, actor, now, stock[0], "nobody")
    assert customer.value.field == "customer_id"


def test_a_blocked_card_finds_no_one_for_earning(session, stock, actor, now) -> None:
    _assign(session, actor, now, stock[0])
    holders.block_card(
        session, merchant_id="shop", number=stock[0], reason="stolen", actor=actor, now=now
    )
    session.commit()
    with pytest.raises(ValidationError) as refused:
        holders.find_customer_by_card(session, "shop", stock[0])
    assert refused.value.field == "card_number"
    assert "blocked" in refused.value.message
    # The desk still finds whose card it was.
    assert holders.card_holder(session, "shop", stock[0]).host_customer_id == "c1"
    assert (
        session.scalar(select(Customer.card_number).where(Customer.host_customer_id == "c1"))
        is None
    )


def test_blocking_twice_changes_nothing(session, stock, actor, now) -> None:
    first = holders.block_card(
        session, merchant_id="shop", number=stock[0], reason="lost", actor=actor, now=now
    )
    again = holders.block_card(
        session, merchant_id="shop", number=stock[0], reason="other", actor=actor, now=now
    )
    assert again.block_reason == first.block_reason == "lost"


def test_blocking_needs_a_reason(session, stock, actor, now) -> None:
    with pytest.raises(ValidationError) as refused:
        holders.block_card(
            session, merchant_id="shop", number=stock[0], reason="  ", actor=actor, now=now
        )
    assert refused.value.field == "reason"


def test_replacing_a_lost_card_keeps_the_points(session, stock, actor, now) -> None:
    """The old card is replaced (blocked, linked); the new one finds the same customer,
    whose balance did not move."""
    _assign(session, actor, now, stock[0])
    account = account_for_host_customer(session, "shop", "c1")
    ledger.earn(session, account_id=account.id, points=120, now=now, actor="t")
    session.commit()
    new = holders.replace_card(
        session,
        merchant_id="shop",
        number=stock[0],
        new_number=stock[1],
        reason="lost",
        actor=actor,
        now=now,
    )
    session.commit()
    old = holders.get_card(session, "shop", stock[0])
    assert (old.status, old.replaced_by_id) == (CardStatus.REPLACED, new.id)
    customer = holders.find_customer_by_card(session, "shop", stock[1])
    assert customer.host_customer_id == "c1"
    assert customer.card_number == stock[1]
    session.refresh(account)
    assert account.balance == 120
    with pytest.raises(ValidationError, match="replaced"):
        holders.find_customer_by_card(session, "shop", stock[0])


def test_replacing_again_with_the_same_card_changes_nothing(session, stock, actor, now) -> None:
    _assign(session, actor, now, stock[0])
    kwargs = {"merchant_id": "shop", "number": stock[0], "reason": "lost", "actor": actor}
    first = holders.replace_card(session, new_number=stock[1], now=now, **kwargs)
    session.commit()
    again = holders.replace_card(session, new_number=stock[1], now=now, **kwargs)
    assert again.id == first.id
    with pytest.raises(InvalidOperation, match="replaced already"):
        holders.replace_card(session, new_number=stock[2], now=now, **kwargs)


def test_a_replacement_must_be_available(session, stock, actor, now) -> None:
    _assign(session, actor, now, stock[0], "c1")
    _assign(session, actor, now, stock[1], "c2")
    with pytest.raises(InvalidOperation) as refused:
        holders.replace_card(
            session,
            merchant_id="shop",
            number=stock[0],
            new_number=stock[1],
            reason="lost",
            actor=actor,
            now=now,
        )
    assert refused.value.field == "new_number"


def test_a_card_nobody_holds_cannot_be_replaced(session, stock, actor, now) -> None:
    with pytest.raises(InvalidOperation) as refused:
        holders.replace_card(
            session,
            merchant_id="shop",
            number=stock[0],
            new_number=stock[1],
            reason="lost",
            actor=actor,
            now=now,
        )
    assert refused.value.field == "number"


def test_a_card_number_the_host_set_finds_its_customer(session, shop) -> None:
    """``card_number`` from the host's ``customer.created`` is found without a card row."""
    customer = session.scalars(select(Customer).where(Customer.host_customer_id == "c2")).one()
    customer.card_number = "HOST-77"
    session.commit()
    assert holders.find_customer_by_card(session, "shop", "HOST-77").id == customer.id
    with pytest.raises(NotFound) as unknown:
        holders.find_customer_by_card(session, "shop", "HOST-78")
    assert unknown.value.field == "card_number"


def test_a_number_the_host_gave_another_customer_cannot_be_assigned(
    session, stock, actor, now
) -> None:
    customer = session.scalars(select(Customer).where(Customer.host_customer_id == "c2")).one()
    customer.card_number = stock[0]
    session.commit()
    with pytest.raises(InvalidOperation, match="the host gave number"):
        _assign(session, actor, now, stock[0], "c1")


def test_another_merchant_sees_none_of_the_cards(session, stock, actor, now) -> None:
    _assign(session, actor, now, stock[0])
    with pytest.raises(NotFound):
        holders.find_customer_by_card(session, "other", stock[0])
    with pytest.raises(NotFound):
        holders.get_card(session, "other", stock[0])


def test_every_change_is_in_the_audit_trail_once(session, stock, actor, now) -> None:
    """Generating, assigning, blocking and replacing each write one audit row; repeats none."""
    kwargs = {"merchant_id": "shop", "actor": actor, "now": now}
    for _ in range(2):
        holders.assign_card(session, number=stock[0], customer_id="c1", **kwargs)
    for _ in range(2):
        holders.replace_card(session, number=stock[0], new_number=stock[1], reason="lost", **kwargs)
    for _ in range(2):
        holders.block_card(session, number=stock[2], reason="stolen", **kwargs)
    session.commit()
    rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [(r.action, r.target_id) for r in rows] == [
        ("card_batch.generated", rows[0].target_id),
        ("card.assigned", stock[0]),
        ("card.replaced", stock[0]),
        ("card.blocked", stock[2]),
    ]
    replaced = rows[2]
    assert replaced.before["status"] == "assigned"
    assert replaced.after | {} == {
        "number": stock[0],
        "status": "replaced",
        "customer_id": "c1",
        "block_reason": "lost",
        "replaced_by": stock[1],
    }
    assert (replaced.actor_kind, replaced.actor_id, replaced.actor_name) == ("staff", "7", "Ana")


def test_a_customer_left_with_two_cards_by_a_merge_may_replace_either(
    session, stock, actor, now
) -> None:
    """A merge moves the merged customer's card to the survivor, who then holds two."""
    _assign(session, actor, now, stock[0], "c1")
    _assign(session, actor, now, stock[1], "c2")
    survivor = session.scalars(select(Customer).where(Customer.host_customer_id == "c1")).one()
    holders.get_card(session, "shop", stock[1]).customer_id = survivor.id
    session.commit()
    for lost, new in ((stock[1], stock[2]), (stock[0], stock[3])):
        card = holders.replace_card(
            session,
            merchant_id="shop",
            number=lost,
            new_number=new,
            reason="lost",
            actor=actor,
            now=now,
        )
        session.commit()
        assert card.customer_id == survivor.id
    assert holders.find_customer_by_card(session, "shop", stock[2]).id == survivor.id


def test_a_blocked_card_is_not_replaced_once_the_customer_has_another(
    session, stock, actor, now
) -> None:
    kwargs = {"merchant_id": "shop", "actor": actor, "now": now}
    holders.assign_card(session, number=stock[0], customer_id="c1", **kwargs)
    holders.block_card(session, number=stock[0], reason="lost", **kwargs)
    holders.assign_card(session, number=stock[1], customer_id="c1", **kwargs)
    with pytest.raises(InvalidOperation, match=f"holds card {stock[1]} already"):
        holders.replace_card(session, number=stock[0], new_number=stock[2], reason="x", **kwargs)
