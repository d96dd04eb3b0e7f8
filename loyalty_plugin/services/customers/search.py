"""Finding a merchant's customers: by name, e-mail, phone, customer number or card number.

Two queries per page (the matches, and how many there are), whatever the number of
customers. The search is a ``UNION`` of small
branches, each answerable from one index (migration ``c6e2d8a4f1b7``), joined back to the
customers and their accounts and ordered newest first:

* names and e-mail addresses match **by prefix, ignoring case** ("ana sil" finds Ana Silva,
  "silva" too, "ana.silva@" her address);
* the host's customer id, the customer number (ignoring case), the phone (as stored: the
  host's format) and a card number (a card given to them, whatever its status now, or
  the ``card_number`` the host sent) match **exactly**.

How "ignoring case" reaches an index differs per backend, so :func:`_prefix` and
:func:`_folded` write the comparison the way that backend's index is built: ``lower(x)``
on PostgreSQL, the column itself on MariaDB (its collation ignores case), ``x COLLATE
NOCASE`` on SQLite (whose ``LIKE`` and ``NOCASE`` fold ASCII letters only).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, func, select, union
from sqlalchemy.orm import Session

from loyalty_plugin.domain import cards
from loyalty_plugin.domain.errors import ValidationError
from loyalty_plugin.models import Account, Card, CardStatus, Customer
from loyalty_plugin.services.ledger.units import points_only

#: Customers on one page of results.
PER_PAGE = 25
#: Longer queries are refused (no name, address or number is this long).
MAX_QUERY = 100
#: The highest page number asked for (offset paging: deeper pages get slower).
MAX_PAGE = 4000
_ESCAPE = "\\"


@dataclass(frozen=True, kw_only=True)
class Row:
    """One customer in the results, with what the table shows of their points."""

    id: int
    host_customer_id: str
    customer_number: str | None
    name: str
    email: str | None
    phone: str | None
    card_number: str | None
    enrolled: bool
    balance: int
    created_at: datetime
    #: The customer this record was merged into (its host id finds the survivor since).
    merged_into_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class Results:
    """One page of a search (``query`` empty: every customer, newest first)."""

    query: str
    rows: list[Row]
    page: int
    per_page: int
    #: How many customers match.
    total: int

    @property
    def pages(self) -> int:
        """How many pages the matches fill (at least 1)."""
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_next(self) -> bool:
        """Whether a page follows this one."""
        return self.page < self.pages


def normalise(query: str | None) -> str:
    """The query as searched: trimmed, inner spaces collapsed; too long is refused."""
    text = " ".join((query or "").split())
    if len(text) > MAX_QUERY:
        raise ValidationError(f"search for at most {MAX_QUERY} characters", field="q")
    if "\x00" in text:
        raise ValidationError("the search contains a NUL character", field="q")
    return text


def search_customers(
    session: Session,
    *,
    merchant_id: str,
    query: str | None,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> Results:
    """Page ``page`` (from 1; past the end: the last) of the merchant's customers matching
    ``query``, newest first, and how many match: two queries."""
    text = normalise(query)
    if not 1 <= page <= MAX_PAGE:
        raise ValidationError(f"the page must be from 1 to {MAX_PAGE}", field="page")
    if not 1 <= per_page <= 200:
        raise ValidationError("per_page must be from 1 to 200", field="per_page")
    dialect = session.get_bind().dialect.name
    ids = _matching_ids(dialect, merchant_id, text).subquery("matched")
    total = session.scalar(select(func.count()).select_from(ids)) or 0
    page = max(1, min(page, math.ceil(total / per_page)))
    # The card the customer holds now: one look-up per row by ``ix_cards_customer``.
    card = (
        select(Card.number)
        .where(
            Card.merchant_id == merchant_id,
            Card.customer_id == Customer.id,
            Card.status == CardStatus.ASSIGNED,
        )
        .order_by(Card.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    rows = session.execute(
        select(Customer, Account.balance, card)
        .join(ids, ids.c.id == Customer.id)
        .outerjoin(
            Account,
            and_(
                Account.customer_id == Customer.id,
                Account.merchant_id == merchant_id,
                points_only(Account),
            ),
        )
        .order_by(Customer.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return Results(
        query=text,
        rows=[_row(customer, balance, number) for customer, balance, number in rows],
        page=page,
        per_page=per_page,
        total=total,
    )


def _matching_ids(dialect: str, merchant_id: str, text: str) -> Select[tuple[int]]:
    """The ids of matching customers: every customer when ``text`` is empty."""
    if not text:
        return select(Customer.id).where(Customer.merchant_id == merchant_id)
    branches = [_ids(merchant_id, condition) for condition in _conditions(dialect, text)]
    branches += _card_branch(merchant_id, text)
    return select(union(*branches).subquery("branches").c.id)


def _card_branch(merchant_id: str, text: str) -> list[Select[tuple[int]]]:
    """Whoever was given the card with this number, whatever its status now (staff look
    up the customer whose card was lost), by the cards' unique index."""
    try:
        number = cards.normalise(text)
    except ValidationError:
        return []
    return [
        select(Card.customer_id.label("id")).where(
            Card.merchant_id == merchant_id, Card.number == number, Card.customer_id.is_not(None)
        )
    ]


def _conditions(dialect: str, text: str) -> list[ColumnElement[bool]]:
    """One condition per branch, each answerable from one index."""
    exact = [
        Customer.host_customer_id == text,
        Customer.card_number == text,
        Customer.phone == text,
        _folded(dialect, Customer.customer_number, text),
    ]
    first_name, last_name = Customer.first_name, Customer.last_name
    first, _, rest = text.partition(" ")
    if not rest:
        names = [
            _prefix(dialect, Customer.first_name, text),
            _prefix(dialect, Customer.last_name, text),
            _prefix(dialect, Customer.email, text),
        ]
    else:
        names = [
            # "Ana Silva", "Silva Ana", and a last name of several words ("van der Berg").
            and_(_prefix(dialect, first_name, first), _prefix(dialect, last_name, rest)),
            and_(_prefix(dialect, last_name, first), _prefix(dialect, first_name, rest)),
            _prefix(dialect, Customer.last_name, text),
        ]
    return exact + names


def _ids(merchant_id: str, condition: ColumnElement[bool]) -> Select[tuple[int]]:
    return select(Customer.id).where(Customer.merchant_id == merchant_id, condition)


def _prefix(dialect: str, column: ColumnElement[str | None], text: str) -> ColumnElement[bool]:
    """``column`` starts with ``text``, ignoring case, as that backend's index can answer."""
    pattern = _escaped(text) + "%"
    if dialect == "postgresql":
        return func.lower(column).like(pattern.lower(), escape=_ESCAPE)
    # MariaDB's collation ignores case; SQLite's LIKE ignores ASCII case and its index is
    # ``COLLATE NOCASE``, which is what lets it read the LIKE as a range.
    return column.like(pattern, escape=_ESCAPE)


def _folded(dialect: str, column: ColumnElement[str | None], text: str) -> ColumnElement[bool]:
    """``column`` equals ``text``, ignoring case, as that backend's index can answer."""
    if dialect == "postgresql":
        return func.lower(column) == text.lower()
    if dialect == "sqlite":
        return column.collate("NOCASE") == text
    return column == text


def _escaped(text: str) -> str:
    """``text`` with LIKE's wildcards taken literally."""
    return (
        text.replace(_ESCAPE, _ESCAPE * 2).replace("%", _ESCAPE + "%").replace("_", _ESCAPE + "_")
    )


def _row(customer: Customer, balance: int | None, card: str | None) -> Row:
    return Row(
        id=customer.id,
        host_customer_id=customer.host_customer_id,
        customer_number=customer.customer_number,
        name=customer.display_name,
        email=customer.email,
        phone=customer.phone,
        card_number=card or customer.card_number,
        enrolled=customer.enrolled,
        balance=balance or 0,
        created_at=customer.created_at,
        merged_into_id=customer.merged_into_id,
    )
