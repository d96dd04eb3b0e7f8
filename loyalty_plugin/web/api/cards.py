"""``/api/v1/cards`` and ``/api/v1/card-batches``: loyalty cards through the API.

Making numbers (generate, import, the printing CSV) needs an admin key; the till's work
(look a card up, assign, block, replace) a write key, and a look-up a read key.
:data:`ROUTES` holds the routes as keyword arguments of the blueprint's ``Route``.
"""

from __future__ import annotations

from typing import Any

from flask import Response, request

from loyalty_plugin.domain.cards import NumberScheme
from loyalty_plugin.domain.errors import ValidationError
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import ApiScope
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.schemas import api as s
from loyalty_plugin.schemas import cards as c
from loyalty_plugin.services.audit import Actor
from loyalty_plugin.services.cards import batches, holders
from loyalty_plugin.web.api.auth import caller
from loyalty_plugin.web.api.reports import csv_response
from loyalty_plugin.web.errors import error_response

CSV = "text/csv"
#: Largest cards file (50,000 numbers of 64 characters fit).
MAX_FILE_BYTES = 4 * 1024 * 1024


def _acting(query: dict[str, Any]) -> tuple[str, Actor]:
    """The merchant the request acts for, and its key as the audit trail names it."""
    who = caller()
    return who.merchant(query.get("merchant_id")), Actor.api_key(who.prefix)


def get_card(query: dict[str, Any], number: str) -> dict[str, Any]:
    """A card: its status and who holds it (a card number finds its customer)."""
    session = get_session()
    merchant_id = caller().merchant(query.get("merchant_id"))
    return holders.card_document(session, holders.get_card(session, merchant_id, number))


def generate_cards(query: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
    """Make ``count`` new available cards of a number scheme, as one batch."""
    session = get_session()
    merchant_id, actor = _acting(query)
    scheme = NumberScheme(
        prefix=args["prefix"], length=args["length"], check_digit=args["check_digit"]
    )
    batch = batches.generate_cards(
        session,
        merchant_id=merchant_id,
        scheme=scheme,
        count=args["count"],
        actor=actor,
        now=utcnow(),
    )
    return batches.batch_document(batch)


def import_cards(query: dict[str, Any]) -> Any:
    """Make available cards of the pre-printed numbers in the CSV body; all or nothing."""
    if request.mimetype != CSV:
        return error_response(
            415,
            "unsupported_media_type",
            f"send the file as the body with 'Content-Type: {CSV}' (UTF-8)",
            {"Content-Type": [f"must be {CSV}"]},
        )
    if (request.content_length or 0) > MAX_FILE_BYTES:
        return error_response(413, "payload_too_large", f"the file is over {MAX_FILE_BYTES} bytes")
    try:
        text = request.get_data().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError("the body is not UTF-8 text", field="body") from None
    scheme = None
    if "length" in query:
        scheme = NumberScheme(
            prefix=query["prefix"], length=query["length"], check_digit=query["check_digit"]
        )
    merchant_id, actor = _acting(query)
    batch = batches.import_cards(
        get_session(),
        merchant_id=merchant_id,
        lines=text.splitlines(keepends=True),
        scheme=scheme,
        actor=actor,
        now=utcnow(),
    )
    return batches.batch_document(batch)


def batch_csv(query: dict[str, Any], batch_id: int) -> Response:
    """The batch's cards as CSV, streamed, for the card printer."""
    merchant_id = caller().merchant(query.get("merchant_id"))
    lines = batches.batch_csv(get_session(), merchant_id=merchant_id, batch_id=batch_id)
    return csv_response(lines, f"cards-{batch_id}.csv")


def assign_card(query: dict[str, Any], args: dict[str, Any], number: str) -> dict[str, Any]:
    """Give an available card to a customer who holds none."""
    session = get_session()
    merchant_id, actor = _acting(query)
    card = holders.assign_card(
        session,
        merchant_id=merchant_id,
        number=number,
        customer_id=args["customer_id"],
        actor=actor,
        now=utcnow(),
    )
    return holders.card_document(session, card)


def block_card(query: dict[str, Any], args: dict[str, Any], number: str) -> dict[str, Any]:
    """Stop a card: its number no longer finds its holder."""
    session = get_session()
    merchant_id, actor = _acting(query)
    card = holders.block_card(
        session,
        merchant_id=merchant_id,
        number=number,
        reason=args["reason"],
        actor=actor,
        now=utcnow(),
    )
    return holders.card_document(session, card)


def replace_card(query: dict[str, Any], args: dict[str, Any], number: str) -> dict[str, Any]:
    """Replace a lost card with an available one; answers the new card."""
    session = get_session()
    merchant_id, actor = _acting(query)
    card = holders.replace_card(
        session,
        merchant_id=merchant_id,
        number=number,
        new_number=args["new_number"],
        reason=args["reason"],
        actor=actor,
        now=utcnow(),
    )
    return holders.card_document(session, card)


READ, WRITE, ADMIN = ApiScope.READ, ApiScope.WRITE, ApiScope.ADMIN
_BATCH = "/card-batches/<int(min=1, max=9223372036854775807):batch_id>"
_CARD = "/cards/<number>"
_M = s.MerchantArgsSchema

#: The card routes, as keyword arguments of the API blueprint's ``Route``.
ROUTES: tuple[dict[str, Any], ...] = (
    {"method": "GET", "rule": _CARD, "view": get_card, "scope": READ, "query": _M,
     "response": c.CardSchema, "errors": (404,)},
    {"method": "POST", "rule": f"{_CARD}/assign", "view": assign_card, "scope": WRITE,
     "query": _M, "body": c.AssignCardArgsSchema, "response": c.CardSchema,
     "idempotency": "optional", "errors": (404, 409)},
    {"method": "POST", "rule": f"{_CARD}/block", "view": block_card, "scope": WRITE,
     "query": _M, "body": c.BlockCardArgsSchema, "response": c.CardSchema,
     "idempotency": "optional", "errors": (404,)},
    {"method": "POST", "rule": f"{_CARD}/replace", "view": replace_card, "scope": WRITE,
     "query": _M, "body": c.ReplaceCardArgsSchema, "response": c.CardSchema,
     "idempotency": "optional", "errors": (404, 409)},
    {"method": "POST", "rule": "/card-batches", "view": generate_cards, "scope": ADMIN,
     "query": _M, "body": c.GenerateCardsArgsSchema, "response": c.CardBatchSchema,
     "status": 201, "idempotency": "optional", "errors": (404,)},
    {"method": "POST", "rule": "/card-batches/import", "view": import_cards, "scope": ADMIN,
     "query": c.ImportCardsArgsSchema, "response": c.CardBatchSchema, "status": 201,
     "idempotency": "optional", "csv_body": True, "errors": (404, 413, 415)},
    {"method": "GET", "rule": f"{_BATCH}/cards.csv", "view": batch_csv, "scope": ADMIN,
     "query": _M, "csv_answer": True, "errors": (404,)},
)  # fmt: skip
