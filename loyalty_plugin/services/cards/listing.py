"""Reading cards for the admin pages: a filtered, paged list, and one card with its story."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.cards import normalise
from loyalty_plugin.domain.errors import ValidationError
from loyalty_plugin.models import Card, CardBatch, CardStatus, Customer
from loyalty_plugin.services.cards.holders import get_card

#: Cards on one page of the list.
PER_PAGE = 25
#: The deepest page asked for.
MAX_PAGE = 10_000


@dataclass(frozen=True, kw_only=True)
class CardRow:
    """One card in the list, with its holder's id and name."""

    number: str
    status: CardStatus
    batch_id: int
    #: The holder's row id (for links) and the host's id of them (for people).
    customer_pk: int | None
    customer_id: str | None
    customer_name: str | None
    assigned_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class CardFilter:
    """What the list shows: every filter is optional."""

    status: CardStatus | None = None
    batch_id: int | None = None
    #: The start of a number (spaces and dashes ignored).
    number: str | None = None


@dataclass(frozen=True, kw_only=True)
class CardPage:
    """One page of the list, newest cards first; ``pages`` and ``total`` for the pager."""

    rows: list[CardRow]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        """How many pages the filtered list has (at least 1)."""
        return max(1, -(-self.total // self.per_page))


@dataclass(frozen=True, kw_only=True)
class CardStory:
    """One card for its page: the card, its holder, its batch, and what it replaced."""

    card: Card
    holder: Customer | None
    batch: CardBatch
    replaced_by: Card | None
    replaces: Card | None


def parse_filter(*, status: str | None, batch: str | None, number: str | None) -> CardFilter:
    """The list's filters from a query string; a bad one names its field."""
    chosen = None
    if status:
        try:
            chosen = CardStatus(status)
        except ValueError:
            known = ", ".join(s.value for s in CardStatus)
            raise ValidationError(f"one of {known}", field="status") from None
    batch_id = None
    if batch:
        if not batch.isdigit() or not 1 <= int(batch) <= 2**63 - 1:
            raise ValidationError("a batch number", field="batch")
        batch_id = int(batch)
    digits = normalise(number, field="number") if number and number.strip() else None
    return CardFilter(status=chosen, batch_id=batch_id, number=digits)


def list_cards(
    session: Session,
    *,
    merchant_id: str,
    where: CardFilter,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> CardPage:
    """Page ``page`` (from 1) of the merchant's cards matching ``where``, newest first."""
    if not 1 <= page <= MAX_PAGE:
        raise ValidationError(f"the page must be from 1 to {MAX_PAGE}", field="page")
    conditions = _conditions(merchant_id, where)
    total = session.scalar(select(func.count()).select_from(Card).where(*conditions)) or 0
    rows = session.execute(
        select(Card, Customer.host_customer_id, Customer.first_name, Customer.last_name)
        .outerjoin(Customer, Customer.id == Card.customer_id)
        .where(*conditions)
        .order_by(Card.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return CardPage(
        rows=[_row(card, host_id, first, last) for card, host_id, first, last in rows],
        page=page,
        per_page=per_page,
        total=total,
    )


def card_story(session: Session, merchant_id: str, number: str) -> CardStory:
    """A card with its holder, batch, replacement and the card it replaced.

    :raises NotFound: on ``number``.
    """
    card = get_card(session, merchant_id, number)
    replaces = session.scalars(
        select(Card).where(Card.merchant_id == merchant_id, Card.replaced_by_id == card.id)
    ).first()
    return CardStory(
        card=card,
        holder=session.get(Customer, card.customer_id) if card.customer_id else None,
        batch=session.get_one(CardBatch, card.batch_id),
        replaced_by=session.get(Card, card.replaced_by_id) if card.replaced_by_id else None,
        replaces=replaces,
    )


def _conditions(merchant_id: str, where: CardFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [Card.merchant_id == merchant_id]
    if where.status is not None:
        conditions.append(Card.status == where.status)
    if where.batch_id is not None:
        conditions.append(Card.batch_id == where.batch_id)
    if where.number:
        conditions.append(Card.number.startswith(where.number, autoescape=True))
    return conditions


def _row(card: Card, host_id: str | None, first: str | None, last: str | None) -> CardRow:
    return CardRow(
        number=card.number,
        status=card.status,
        batch_id=card.batch_id,
        customer_pk=card.customer_id,
        customer_id=host_id,
        customer_name=" ".join(p for p in (first, last) if p) or None,
        assigned_at=card.assigned_at,
        created_at=card.created_at,
    )
