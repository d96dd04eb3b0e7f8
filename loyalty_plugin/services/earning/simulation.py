"""Dry runs: replay invoices against one program version and count the cost; writes nothing.

A merchant runs ``loyalty programs simulate PROGRAM --invoices FILE.jsonl`` on a draft to
see, before activating it, how many points it would give and what they are worth.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from marshmallow import ValidationError as SchemaError
from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import LoyaltyError
from loyalty_plugin.domain.money import quantize
from loyalty_plugin.domain.programs import ProgramDefinition, evaluate_invoice
from loyalty_plugin.domain.rules import CustomerView, Rule
from loyalty_plugin.schemas.programs import flatten_errors
from loyalty_plugin.schemas.webhooks import InvoiceSchema
from loyalty_plugin.services.earning.programs import get_program, latest_version
from loyalty_plugin.services.earning.rule_engine import (
    RateBook,
    customer_view,
    definition_of,
    invoice_view,
)
from loyalty_plugin.services.ledger.accounts import find_customer, get_merchant
from loyalty_plugin.services.spending.settings import merchant_settings


@dataclass
class CustomerTotal:
    """What one customer would earn in the replay."""

    invoices: int = 0
    points: int = 0


@dataclass
class Simulation:
    """The replay's result: points and their value per customer and in total."""

    program: str
    version: int
    currency: str
    point_value: Decimal
    customers: dict[str, CustomerTotal] = field(default_factory=dict)
    skipped: list[tuple[int, str]] = field(default_factory=list)

    @property
    def invoices(self) -> int:
        return sum(c.invoices for c in self.customers.values())

    @property
    def points(self) -> int:
        return sum(c.points for c in self.customers.values())

    def value(self, points: int) -> Decimal:
        """The money ``points`` are worth, rounded to the currency's minor unit."""
        return quantize(points * self.point_value, self.currency)

    def to_dict(self) -> dict[str, Any]:
        return {
            "program": self.program,
            "version": self.version,
            "currency": self.currency,
            "point_value": str(self.point_value),
            "customers": [
                {
                    "customer_id": customer_id,
                    "invoices": total.invoices,
                    "points": total.points,
                    "value": str(self.value(total.points)),
                }
                for customer_id, total in sorted(self.customers.items())
            ],
            "total": {
                "invoices": self.invoices,
                "points": self.points,
                "value": str(self.value(self.points)),
            },
            "skipped": [{"line": line, "error": error} for line, error in self.skipped],
        }


def read_jsonl(lines: Iterable[str]) -> Iterator[tuple[int, Any]]:
    """Number and parse each non-blank line; numbers become ``Decimal``, never float."""
    for number, text in enumerate(lines, start=1):
        if text.strip():
            try:
                yield number, json.loads(text, parse_float=Decimal)
            except json.JSONDecodeError as error:
                yield number, error


def simulate(
    session: Session,
    *,
    merchant_id: str,
    key: str,
    invoices: Iterable[tuple[int, Any]],
    now: datetime,
    point_value: Decimal | None = None,
    extra_kinds: Iterable[type[Rule]] = (),
) -> Simulation:
    """Evaluate the program's newest version (a draft too) alone on each invoice.

    Each item is an invoice object of the host contract, alone or as ``{"invoice": ...}``
    or a whole ``invoice.paid`` event. Invalid ones are skipped and listed with their line.
    """
    merchant = get_merchant(session, merchant_id)
    program = get_program(session, merchant_id, key)
    definition = definition_of(program, latest_version(program), extra_kinds=extra_kinds)
    result = Simulation(
        program=key,
        version=definition.version,
        currency=merchant.currency,
        point_value=point_value or _point_value(session, definition, merchant_id),
    )
    seen: set[str] = set()
    rates = RateBook(session, merchant, now)
    for number, item in invoices:
        try:
            customer_id, points = _replay(session, merchant_id, definition, item, rates, seen)
        except (LoyaltyError, SchemaError, json.JSONDecodeError, TypeError) as error:
            result.skipped.append((number, _message(error)))
            continue
        total = result.customers.setdefault(customer_id, CustomerTotal())
        total.invoices += 1
        total.points += points
    return result


def _replay(
    session: Session,
    merchant_id: str,
    program: ProgramDefinition,
    item: Any,
    rates: RateBook,
    seen: set[str],
) -> tuple[str, int]:
    if isinstance(item, Exception):
        raise item
    if isinstance(item, dict) and "data" in item:
        item = item["data"]
    if isinstance(item, dict) and "invoice" in item:
        item = item["invoice"]
    facts = InvoiceSchema().load(item)["invoice"]
    customer_id = str(facts.customer_id)
    known = find_customer(session, merchant_id, customer_id)
    first = customer_id not in seen
    seen.add(customer_id)
    if known is None:
        view = CustomerView(id=customer_id, first_purchase=first)
    else:
        view = customer_view(session, known, invoice_id=facts.id)
        view = replace(view, first_purchase=first and view.first_purchase)
    invoice = invoice_view(facts)
    conversion = rates.conversion(
        invoice_currency=invoice.currency,
        program_currency=program.currency,
        event_rate=invoice.exchange_rate,
    )
    earning = evaluate_invoice(program, invoice=invoice, customer=view, conversion=conversion)
    return customer_id, 0 if earning is None else earning.points


def _point_value(session: Session, program: ProgramDefinition, merchant_id: str) -> Decimal:
    """Money per point: the program's ``redemption.point_value``, else the merchant's rate."""
    own = program.redemption.get("point_value")
    if own is not None:
        return Decimal(str(own))
    settings = merchant_settings(session, merchant_id)
    return settings.conversion_amount / settings.conversion_points


def _message(error: Exception) -> str:
    if isinstance(error, SchemaError):
        fields = flatten_errors(error.messages)
        return "; ".join(f"{path}: {' '.join(messages)}" for path, messages in fields.items())
    if isinstance(error, LoyaltyError):
        return f"{error.field}: {error.message}" if error.field else error.message
    return str(error)
