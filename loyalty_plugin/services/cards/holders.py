"""Who holds a card: give one to a customer, block it, replace a lost one, find its holder.

A customer is given one card at a time (a merge of two customers may leave the survivor
with both of theirs); its number is also kept in the customer's ``card_number``, so
everything that reads that column (the customers import, exports) sees the card in use.
Points belong to the customer's account, never to a card: a replacement card carries the
same balance because nothing moves.

Each change writes one audit row in its transaction. Repeating a change that is already
made (assigning a card to the customer who holds it, blocking a blocked card, replacing a
card with the card that replaced it) changes nothing and writes no row, so a retried
request is harmless.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.cards import normalise
from loyalty_plugin.domain.errors import InvalidOperation, NotFound, ValidationError
from loyalty_plugin.models import Card, CardStatus, Customer
from loyalty_plugin.services.audit import Actor, record_change
from loyalty_plugin.services.ledger.accounts import find_customer

#: Longest reason kept with a blocked card.
MAX_REASON = 200


def get_card(session: Session, merchant_id: str, number: str, *, field: str = "number") -> Card:
    """The merchant's card with this number (spaces and dashes ignored).

    :raises NotFound: naming ``field``.
    """
    card = _card(session, merchant_id, normalise(number, field=field))
    if card is None:
        raise NotFound(f"no card {number!r}", field=field)
    return card


def assign_card(
    session: Session,
    *,
    merchant_id: str,
    number: str,
    customer_id: str,
    actor: Actor,
    now: datetime,
) -> Card:
    """Give an available card to a customer (the host's id) who holds no card yet.

    :raises NotFound: on ``number`` or ``customer_id``.
    :raises InvalidOperation: the card is not available (on ``number``), or the customer
        holds another card already (on ``customer_id``: replace that one instead).
    """
    customer = _locked_customer(session, merchant_id, customer_id)
    card = _locked_card(session, merchant_id, number)
    if card.status == CardStatus.ASSIGNED and card.customer_id == customer.id:
        return card
    _check_available(card)
    if (held := _held_card(session, customer)) is not None:
        raise InvalidOperation(
            f"customer {customer_id} holds card {held.number} already; replace it instead",
            field="customer_id",
        )
    _check_number_free(session, card, customer)
    before = card_state(session, card)
    _give(card, customer, now)
    _audit(session, card, actor, "card.assigned", before, now)
    return card


def block_card(
    session: Session,
    *,
    merchant_id: str,
    number: str,
    reason: str,
    actor: Actor,
    now: datetime,
) -> Card:
    """Stop a card (lost, stolen, misused): its number no longer finds its holder.

    The holder keeps their points and may be given another card (:func:`replace_card`).

    :raises NotFound: on ``number``.
    :raises ValidationError: on ``reason`` (empty or too long).
    """
    reason = _reason(reason)
    card = _locked_card(session, merchant_id, number)
    if card.status in (CardStatus.BLOCKED, CardStatus.REPLACED):
        return card
    before = card_state(session, card)
    _stop(session, card, reason, now)
    _audit(session, card, actor, "card.blocked", before, now)
    return card


def replace_card(
    session: Session,
    *,
    merchant_id: str,
    number: str,
    new_number: str,
    reason: str,
    actor: Actor,
    now: datetime,
) -> Card:
    """Replace a customer's lost card: the old one is blocked and linked to the new one,
    which the customer now holds. Their points stay where they are, on their account.

    :returns: the new card.
    :raises NotFound: on ``number`` or ``new_number``.
    :raises InvalidOperation: the old card has no holder or was replaced already (on
        ``number``), or the new card is not available (on ``new_number``).
    """
    reason = _reason(reason)
    old = _locked_card(session, merchant_id, number)
    if old.customer_id is None:
        raise InvalidOperation(f"card {old.number} is not given to anyone", field="number")
    customer = _locked_customer_row(session, old.customer_id)
    new = _locked_card(session, merchant_id, new_number, field="new_number")
    if old.status == CardStatus.REPLACED:
        if old.replaced_by_id == new.id:
            return new
        raise InvalidOperation(f"card {old.number} was replaced already", field="number")
    # A card blocked earlier, while the customer has been given another since: replacing it
    # would give them a second card. (An assigned card is replaced one for one; a merge of
    # two customers may leave one holding two cards, and either may be replaced.)
    held = _held_card(session, customer) if old.status == CardStatus.BLOCKED else None
    if held is not None:
        raise InvalidOperation(
            f"customer {customer.host_customer_id} holds card {held.number} already",
            field="number",
        )
    if new.id == old.id:
        raise ValidationError("must be another card than the lost one", field="new_number")
    _check_available(new, field="new_number")
    _check_number_free(session, new, customer, field="new_number")
    before = card_state(session, old)
    if old.status == CardStatus.ASSIGNED:
        _stop(session, old, reason, now)
    old.status = CardStatus.REPLACED
    old.replaced_by_id = new.id
    _give(new, customer, now)
    after = card_state(session, old) | {"replaced_by": new.number}
    _record(session, old, actor, "card.replaced", before, after, now)
    return new


def find_customer_by_card(
    session: Session, merchant_id: str, number: str, *, field: str = "card_number"
) -> Customer:
    """The customer a card number names, for earning and spending: the holder of an
    assigned card, or a customer the host gave that ``card_number``.

    :raises NotFound: naming ``field``: no card and no customer has this number.
    :raises ValidationError: naming ``field``: the card is blocked, replaced, or not given
        to anyone yet.
    """
    digits = normalise(number, field=field)
    card = _card(session, merchant_id, digits)
    if card is None:
        customer = _customer_with_number(session, merchant_id, {digits, number.strip()})
        if customer is None:
            raise NotFound(f"no card {digits} and no customer with that card number", field=field)
        return customer
    if card.status == CardStatus.ASSIGNED and card.customer_id is not None:
        return session.get_one(Customer, card.customer_id)
    raise ValidationError(_refusal(card), field=field)


def card_holder(session: Session, merchant_id: str, number: str) -> Customer | None:
    """Whoever a card number was given to, whatever the card's status (the desk's search:
    staff look up the customer whose card was lost), or ``None``."""
    try:
        digits = normalise(number)
    except ValidationError:
        return None
    card = _card(session, merchant_id, digits)
    if card is not None:
        return session.get(Customer, card.customer_id) if card.customer_id else None
    return _customer_with_number(session, merchant_id, {digits, number.strip()})


def cards_of(session: Session, customer: Customer) -> list[Card]:
    """Every card a customer was given, the one they hold first, then newest first."""
    cards = session.scalars(
        select(Card)
        .where(Card.merchant_id == customer.merchant_id, Card.customer_id == customer.id)
        .order_by(Card.id.desc())
    ).all()
    return sorted(cards, key=lambda c: c.status != CardStatus.ASSIGNED)


def card_document(session: Session, card: Card) -> dict[str, Any]:
    """A card as the API and the pages show it: the holder by the host's id, the card
    that replaced it by its number."""
    holder = session.get(Customer, card.customer_id) if card.customer_id else None
    replacement = session.get(Card, card.replaced_by_id) if card.replaced_by_id else None
    return {
        "number": card.number,
        "status": card.status.value,
        "batch_id": card.batch_id,
        "customer_id": holder.host_customer_id if holder else None,
        "assigned_at": card.assigned_at,
        "blocked_at": card.blocked_at,
        "block_reason": card.block_reason,
        "replaced_by": replacement.number if replacement else None,
        "created_at": card.created_at,
    }


def card_state(session: Session, card: Card) -> dict[str, Any]:
    """What a change to a card changes, for the audit trail (the holder by the host's id)."""
    holder = session.get(Customer, card.customer_id) if card.customer_id else None
    return {
        "number": card.number,
        "status": card.status.value,
        "customer_id": holder.host_customer_id if holder else None,
        "block_reason": card.block_reason,
    }


# -- helpers ---------------------------------------------------------------------------------


def _card(session: Session, merchant_id: str, digits: str) -> Card | None:
    return session.scalars(
        select(Card).where(Card.merchant_id == merchant_id, Card.number == digits)
    ).one_or_none()


def _locked_card(session: Session, merchant_id: str, number: str, *, field: str = "number") -> Card:
    digits = normalise(number, field=field)
    card = session.scalars(
        select(Card)
        .where(Card.merchant_id == merchant_id, Card.number == digits)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if card is None:
        raise NotFound(f"no card {digits}", field=field)
    return card


def _locked_customer(session: Session, merchant_id: str, host_id: str) -> Customer:
    customer = find_customer(session, merchant_id, host_id)
    if customer is None:
        raise NotFound(f"customer {host_id!r} does not exist", field="customer_id")
    return _locked_customer_row(session, customer.id)


def _locked_customer_row(session: Session, customer_id: int) -> Customer:
    """The customer row, locked: two cards given to one customer at once take turns."""
    return session.scalars(
        select(Customer)
        .where(Customer.id == customer_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def _held_card(session: Session, customer: Customer) -> Card | None:
    return session.scalars(
        select(Card).where(
            Card.merchant_id == customer.merchant_id,
            Card.customer_id == customer.id,
            Card.status == CardStatus.ASSIGNED,
        )
    ).first()


def _customer_with_number(session: Session, merchant_id: str, numbers: set[str]) -> Customer | None:
    return session.scalars(
        select(Customer).where(
            Customer.merchant_id == merchant_id,
            or_(*(Customer.card_number == n for n in numbers if n)),
        )
    ).first()


def _check_available(card: Card, *, field: str = "number") -> None:
    if card.status != CardStatus.AVAILABLE:
        raise InvalidOperation(_refusal(card), field=field)


def _check_number_free(
    session: Session, card: Card, customer: Customer, *, field: str = "number"
) -> None:
    """The host may have given this number to another customer (their ``card_number``)."""
    other = _customer_with_number(session, card.merchant_id, {card.number})
    if other is not None and other.id != customer.id:
        raise InvalidOperation(
            f"the host gave number {card.number} to customer {other.host_customer_id}",
            field=field,
        )


def _refusal(card: Card) -> str:
    if card.status == CardStatus.BLOCKED:
        return f"card {card.number} is blocked"
    if card.status == CardStatus.REPLACED:
        return f"card {card.number} was reported lost and replaced"
    if card.status == CardStatus.ASSIGNED:
        return f"card {card.number} is given to another customer"
    return f"card {card.number} is not given to any customer yet"


def _give(card: Card, customer: Customer, now: datetime) -> None:
    card.status = CardStatus.ASSIGNED
    card.customer_id = customer.id
    card.assigned_at = now
    card.updated_at = now
    customer.card_number = card.number
    customer.updated_at = now


def _stop(session: Session, card: Card, reason: str, now: datetime) -> None:
    card.status = CardStatus.BLOCKED
    card.block_reason = reason
    card.blocked_at = now
    card.updated_at = now
    if card.customer_id is not None:
        holder = session.get_one(Customer, card.customer_id)
        if holder.card_number == card.number:
            holder.card_number = None
            holder.updated_at = now
    session.flush()  # the old number leaves the customer before the new one arrives


def _reason(reason: str) -> str:
    text = " ".join(reason.split())
    if not text:
        raise ValidationError("say why (lost, stolen...)", field="reason")
    if len(text) > MAX_REASON:
        raise ValidationError(f"must be at most {MAX_REASON} characters", field="reason")
    return text


def _audit(
    session: Session, card: Card, actor: Actor, action: str, before: dict[str, Any], now: datetime
) -> None:
    _record(session, card, actor, action, before, card_state(session, card), now)


def _record(
    session: Session,
    card: Card,
    actor: Actor,
    action: str,
    before: dict[str, Any],
    after: dict[str, Any],
    now: datetime,
) -> None:
    record_change(
        session,
        merchant_id=card.merchant_id,
        actor=actor,
        action=action,
        target_type="card",
        target_id=card.number,
        before=before,
        after=after,
        now=now,
    )
