"""The customer search on every backend: what matches, paging, scoping, and its query count."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import ValidationError
from loyalty_plugin.models import Account, Customer, Merchant
from loyalty_plugin.services.customers.search import search_customers
from tests.desk.queries import counted


def add(
    session: Session, host_id: str, first: str, last: str | None = None, **more: object
) -> Customer:
    customer = Customer(
        merchant_id=more.pop("merchant_id", "shop"),
        host_customer_id=host_id,
        first_name=first,
        last_name=last,
        **more,
    )
    session.add(customer)
    session.flush()
    return customer


@pytest.fixture
def people(session: Session) -> dict[str, Customer]:
    for merchant in ("shop", "other"):
        session.add(Merchant(id=merchant, name=merchant.title(), currency="EUR"))
    session.flush()
    found = {
        "ana": add(
            session,
            "42",
            "Ana",
            "Silva",
            email="Ana.Silva@Example.com",
            phone="+49 170 1234567",
            customer_number="C-1042",
            card_number="6001",
        ),
        "anabel": add(session, "43", "Anabel", "Berg", email="anabel@example.com"),
        "silvano": add(session, "44", "Silvano", "Ana", email="s@example.com"),
        "vdb": add(session, "45", "Jan", "van der Berg", email="jan@example.com"),
        "odd": add(session, "46", "100%_real", "Name", email="odd@example.com"),
        "near": add(session, "47", "1000_real", "Name", email="near@example.com"),
    }
    add(session, "42", "Ana", "Silva", merchant_id="other", email="ana.silva@example.com")
    session.add(Account(merchant_id="shop", customer_id=found["ana"].id, balance=1500))
    session.commit()
    return found


def names(session: Session, query: str, **more: object) -> list[str]:
    results = search_customers(session, merchant_id="shop", query=query, **more)
    return [row.name for row in results.rows]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ana", ["Silvano Ana", "Anabel Berg", "Ana Silva"]),
        ("ANA SIL", ["Silvano Ana", "Ana Silva"]),
        ("silva an", ["Silvano Ana", "Ana Silva"]),
        ("  anabel   BERG ", ["Anabel Berg"]),
        ("berg anab", ["Anabel Berg"]),
        ("van der", ["Jan van der Berg"]),
        ("ana.silva@example.com", ["Ana Silva"]),
        ("ana.sil", ["Ana Silva"]),
        ("+49 170 1234567", ["Ana Silva"]),
        ("+49 170", []),
        ("c-1042", ["Ana Silva"]),
        ("C-10", []),
        ("42", ["Ana Silva"]),
        ("6001", ["Ana Silva"]),
        ("100%", ["100%_real Name"]),
        ("100%_", ["100%_real Name"]),
        ("nobody", []),
    ],
)
def test_search_matches_names_by_prefix_and_numbers_exactly(
    session: Session, people: dict[str, Customer], query: str, expected: list[str]
) -> None:
    """Names and e-mails match by prefix in any case; phone, numbers and cards exactly;
    LIKE's wildcards typed by staff are taken literally."""
    assert names(session, query) == expected


def test_search_is_scoped_to_the_merchant(session: Session, people: dict[str, Customer]) -> None:
    """Another merchant's customer with the same name and id is never found."""
    for query in ("ana.silva@example.com", "42"):
        mine = search_customers(session, merchant_id="shop", query=query).rows
        theirs = search_customers(session, merchant_id="other", query=query).rows
        assert [row.id for row in mine] == [people["ana"].id]
        assert len(theirs) == 1
        assert theirs[0].id != people["ana"].id


def test_rows_carry_the_balance(session: Session, people: dict[str, Customer]) -> None:
    """Each row shows the account's balance (0 with no account)."""
    rows = search_customers(session, merchant_id="shop", query="ana").rows
    assert {row.name: row.balance for row in rows} == {
        "Ana Silva": 1500, "Anabel Berg": 0, "Silvano Ana": 0,
    }  # fmt: skip


def test_pages_are_stable_and_one_query_each(session: Session) -> None:
    """Paging walks every customer once, newest first, with two queries per page (the
    rows and the count); a page past the end shows the last."""
    session.add(Merchant(id="shop", name="Shop", currency="EUR"))
    session.flush()
    made = [add(session, str(n), f"Name{n:02d}").id for n in range(23)]
    session.commit()
    seen: list[int] = []
    for page in range(1, 5):
        with counted(session) as statements:
            results = search_customers(session, merchant_id="shop", query="", page=page, per_page=7)
        assert len(statements) == 2
        seen += [row.id for row in results.rows]
        assert (results.has_next, results.pages, results.total) == (page < 4, 4, 23)
    assert seen == sorted(made, reverse=True)
    with counted(session) as statements:
        search_customers(session, merchant_id="shop", query="name0 x", page=2, per_page=7)
    assert len(statements) == 2
    last = search_customers(session, merchant_id="shop", query="", page=99, per_page=7)
    assert (last.page, [row.id for row in last.rows]) == (4, sorted(made)[:2][::-1])


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"query": "x" * 101}, "q"), ({"query": "a\x00"}, "q"), ({"query": "", "page": 0}, "page")],
)
def test_bad_searches_name_their_field(session: Session, kwargs: dict, field: str) -> None:
    """Too long a query, a NUL or page 0 are refused at their field."""
    with pytest.raises(ValidationError) as error:
        search_customers(session, merchant_id="shop", **kwargs)
    assert error.value.field == field


def test_a_card_number_finds_its_holder(session: Session, people: dict[str, Customer]) -> None:
    """A card given to a customer finds them, typed with spaces or dashes, even once the
    card is blocked (the lost card's owner); the row shows the card they hold."""
    from datetime import UTC, datetime

    from loyalty_plugin.services.audit import Actor
    from loyalty_plugin.services.cards import batches, holders

    now, actor = datetime(2026, 6, 1, tzinfo=UTC), Actor("staff", "7", "Bo")
    batches.import_cards(
        session, merchant_id="shop", lines=["number", "2977000000018", "2977000000026"],
        scheme=None, actor=actor, now=now,
    )  # fmt: skip
    holders.assign_card(
        session, merchant_id="shop", number="2977000000018", customer_id="43", actor=actor, now=now
    )
    session.commit()
    [row] = search_customers(session, merchant_id="shop", query="2977-0000-0001 8").rows
    assert (row.name, row.card_number) == ("Anabel Berg", "2977000000018")
    assert names(session, "2977000000026") == []  # not given to anyone
    holders.block_card(
        session, merchant_id="shop", number="2977000000018", reason="lost", actor=actor, now=now
    )
    session.commit()
    assert names(session, "2977000000018") == ["Anabel Berg"]
    assert search_customers(session, merchant_id="other", query="2977000000018").rows == []
