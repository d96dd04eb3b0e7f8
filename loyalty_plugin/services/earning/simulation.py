"""Dry runs: replay invoices against one program version and count the cost; writes nothing.

A merchant runs ``loyalty programs simulate PROGRAM --invoices FILE.jsonl`` on a draft to
see, before activating it, how many points it would give and what they are worth.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from itertools import islice
from typing import Any

from marshmallow import ValidationError as SchemaError
from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.earning import InvoiceFacts
from loyalty_plugin.domain.errors import LoyaltyError, ValidationError
from loyalty_plugin.domain.money import quantize
from loyalty_plugin.domain.programs import ProgramDefinition, ProgramEarning, evaluate_invoice
from loyalty_plugin.domain.rules import Rule
from loyalty_plugin.domain.rules.conditions import ConditionCheck, MerchantFacts
from loyalty_plugin.models.webhook_event import InboxStatus, WebhookEvent
from loyalty_plugin.schemas.common import AwareDateTime
from loyalty_plugin.schemas.programs import flatten_errors
from loyalty_plugin.schemas.webhooks import InvoiceSchema
from loyalty_plugin.services.earning.bonus_campaigns import CampaignReplay
from loyalty_plugin.services.earning.programs import (
    get_program,
    latest_version,
    version_in_force,
)
from loyalty_plugin.services.earning.replay_customers import ReplayCustomers
from loyalty_plugin.services.earning.rule_engine import (
    RateBook,
    definition_of,
    invoice_view,
    merchant_facts,
)
from loyalty_plugin.services.ledger.accounts import get_merchant
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
    #: Rules with conditions: how often each condition matched and failed.
    conditions: dict[str, ConditionTally] = field(default_factory=dict)
    #: The bonus campaigns that would have given points, by key (budgets not charged).
    bonus_campaigns: dict[str, dict[str, Any]] = field(default_factory=dict)

    def count_conditions(self, earning: ProgramEarning | None) -> None:
        """Tally which conditions of each rule held on one invoice."""
        for rule, check in (earning.conditions if earning else {}).items():
            self.conditions.setdefault(rule, ConditionTally()).add(check)

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
        return (
            {
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
            | (
                {"conditions": {rule: t.to_dict() for rule, t in self.conditions.items()}}
                if self.conditions
                else {}
            )
            | ({"bonus_campaigns": self.bonus_campaigns} if self.bonus_campaigns else {})
        )


@dataclass
class ConditionTally:
    """One rule's conditions over a replay: invoices where all held, and per condition
    (``when.hours``, ``who.inactive_days``...) how often it matched and failed."""

    invoices_matched: int = 0
    invoices_failed: int = 0
    matched: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)

    def add(self, check: ConditionCheck) -> None:
        if check.ok:
            self.invoices_matched += 1
        else:
            self.invoices_failed += 1
        for texts, counts in ((check.matched, self.matched), (check.failed, self.failed)):
            for text in texts:
                name = text.split(":", 1)[0]
                counts[name] = counts.get(name, 0) + 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "invoices_matched": self.invoices_matched,
            "invoices_failed": self.invoices_failed,
            "matched": dict(sorted(self.matched.items())),
            "failed": dict(sorted(self.failed.items())),
        }


#: Invoices of a file whose customers are loaded at once.
BATCH = 500


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
    place = merchant_facts(session, merchant, [definition])
    customers = ReplayCustomers(session, merchant_id, now=now)
    replay = Replay(customers, rates, place, CampaignReplay(session, merchant, key), now)
    for batch in _batches(invoices):
        parsed = _parse_all(batch)
        customers.load(_pairs(parsed))
        for number, facts in parsed:
            try:
                if isinstance(facts, Exception):
                    raise facts
                customer_id, earning = _evaluate(definition, facts, replay, seen)
            except (LoyaltyError, SchemaError, json.JSONDecodeError, TypeError) as error:
                result.skipped.append((number, _message(error)))
                continue
            result.count_conditions(earning)
            total = result.customers.setdefault(customer_id, CustomerTotal())
            total.invoices += 1
            total.points += 0 if earning is None else earning.points
    result.bonus_campaigns = replay.campaigns.report()
    return result


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


# -- before activating: a version against the invoices the host sent ----------------------

#: Most invoices one comparison replays.
MAX_INVOICES = 2000


@dataclass
class VersionTotals:
    """What one version gives on the replayed invoices, rule by rule."""

    version: int
    points: int = 0
    rules: dict[str, int] = field(default_factory=dict)


@dataclass
class Comparison:
    """A version (the draft, or the newest) beside the version in force, on the same invoices."""

    program: str
    currency: str
    point_value: Decimal
    invoices: int
    draft: VersionTotals
    current: VersionTotals | None
    skipped: list[tuple[int, str]] = field(default_factory=list)

    @property
    def difference(self) -> int:
        """Points the draft gives beyond the version in force (negative: fewer)."""
        return self.draft.points - (self.current.points if self.current else 0)

    def value(self, points: int) -> Decimal:
        """The money ``points`` are worth, rounded to the currency's minor unit."""
        return quantize(points * self.point_value, self.currency)

    @property
    def rule_ids(self) -> list[str]:
        """Every rule that gave points under either version, draft's order first."""
        ids = list(self.draft.rules)
        ids += [r for r in (self.current.rules if self.current else {}) if r not in ids]
        return ids


def paid_invoices(
    session: Session,
    merchant_id: str,
    *,
    last: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[tuple[int, Any]]:
    """The ``invoice.paid`` bodies the host sent (processed), newest first, as ``(id, body)``.

    ``last`` bounds how many; ``since``/``until`` (end excluded) bound their ``occurred_at``.
    """
    query = select(WebhookEvent.id, WebhookEvent.body).where(
        WebhookEvent.merchant_id == merchant_id,
        WebhookEvent.event_type == "invoice.paid",
        WebhookEvent.status == InboxStatus.PROCESSED,
    )
    if since is not None:
        query = query.where(WebhookEvent.occurred_at >= since)
    if until is not None:
        query = query.where(WebhookEvent.occurred_at < until)
    limit = min(last or MAX_INVOICES, MAX_INVOICES)
    rows = session.execute(
        query.order_by(WebhookEvent.occurred_at.desc(), WebhookEvent.id.desc()).limit(limit)
    )
    out: list[tuple[int, Any]] = []
    for event_id, body in rows:
        try:
            out.append((event_id, json.loads(body, parse_float=Decimal)))
        except json.JSONDecodeError as error:
            out.append((event_id, error))
    return out


def compare_versions(
    session: Session,
    *,
    merchant_id: str,
    key: str,
    now: datetime,
    last: int | None = 50,
    since: datetime | None = None,
    until: datetime | None = None,
    extra_kinds: Iterable[type[Rule]] = (),
) -> Comparison:
    """Replay the merchant's paid invoices under the program's newest version (a draft too)
    and under its version in force at ``now`` (none for a draft); writes nothing.

    Each version is evaluated alone, as :func:`simulate` does: a customer's first invoice
    in the replay counts as a first purchase unless they bought before.
    """
    if last is not None and not 1 <= last <= MAX_INVOICES:
        raise ValidationError(f"choose between 1 and {MAX_INVOICES} invoices", field="last")
    if since is not None and until is not None and until <= since:
        raise ValidationError("the end must be after the start", field="until")
    merchant = get_merchant(session, merchant_id)
    program = get_program(session, merchant_id, key)
    newest = latest_version(program)
    draft = definition_of(program, newest, extra_kinds=extra_kinds)
    in_force = version_in_force(program, now)
    current = (
        None if in_force is None else definition_of(program, in_force, extra_kinds=extra_kinds)
    )
    events = paid_invoices(session, merchant_id, last=None if since else last, since=since,
                           until=until)  # fmt: skip
    result = Comparison(
        program=key,
        currency=merchant.currency,
        point_value=_point_value(session, draft, merchant_id),
        invoices=0,
        draft=VersionTotals(version=newest.number),
        current=None if in_force is None else VersionTotals(version=in_force.number),
    )
    rates = RateBook(session, merchant, now)
    place = merchant_facts(session, merchant, [draft] + ([current] if current else []))
    customers = ReplayCustomers(session, merchant_id, now=now)
    parsed = _parse_all(reversed(events))  # oldest first: first purchases in order
    customers.load(_pairs(parsed))
    pairs = [(draft, result.draft)] + ([(current, result.current)] if current else [])
    for definition, totals in pairs:
        replay = Replay(customers, rates, place, CampaignReplay(session, merchant, key), now)
        seen: set[str] = set()
        counted = 0
        for number, facts in parsed:
            try:
                if isinstance(facts, Exception):
                    raise facts
                _customer, earning = _evaluate(definition, facts, replay, seen)
            except (LoyaltyError, SchemaError, json.JSONDecodeError, TypeError) as error:
                if totals is result.draft:
                    result.skipped.append((number, _message(error)))
                continue
            counted += 1
            if earning is None:
                continue
            for item_points in earning.settlement.items:
                rule = item_points.award.rule
                totals.rules[rule] = totals.rules.get(rule, 0) + item_points.points
            totals.points += earning.points
        result.invoices = max(result.invoices, counted)
    return result


def _parse_all(items: Iterable[tuple[int, Any]]) -> list[tuple[int, InvoiceFacts | Exception]]:
    """Each item's invoice facts, or the error that makes it unusable (kept with its line)."""
    parsed: list[tuple[int, InvoiceFacts | Exception]] = []
    for number, item in items:
        try:
            parsed.append((number, _facts(item)))
        except (LoyaltyError, SchemaError, json.JSONDecodeError, TypeError) as error:
            parsed.append((number, error))
    return parsed


def _facts(item: Any) -> InvoiceFacts:
    """The invoice of an item: alone, as ``{"invoice": ...}``, or a whole event (whose
    ``occurred_at`` is when it was paid, for time conditions)."""
    if isinstance(item, Exception):
        raise item
    occurred_at = None
    if isinstance(item, dict) and "data" in item:
        occurred_at = _moment(item.get("occurred_at"))
        item = item["data"]
    if isinstance(item, dict) and "invoice" in item:
        item = item["invoice"]
    facts = InvoiceSchema().load(item)["invoice"]
    return facts if occurred_at is None else replace(facts, occurred_at=occurred_at)


def _moment(value: Any) -> datetime | None:
    """An event's ``occurred_at`` (UTC when it names no zone), or ``None``."""
    if value is None:
        return None
    try:
        return AwareDateTime(default_timezone=UTC).deserialize(value)
    except SchemaError:
        raise SchemaError({"occurred_at": ["must be an ISO 8601 date-time"]}) from None


def _pairs(parsed: list[tuple[int, InvoiceFacts | Exception]]) -> list[tuple[str, str]]:
    """``(customer, invoice)`` host ids of the usable items, to load their customers at once."""
    return [
        (str(facts.customer_id), str(facts.id))
        for _, facts in parsed
        if not isinstance(facts, Exception)
    ]


def _batches(items: Iterable[tuple[int, Any]]) -> Iterator[list[tuple[int, Any]]]:
    """Items in lists of :data:`BATCH` (a file may be long: its customers load per batch)."""
    iterator = iter(items)
    while batch := list(islice(iterator, BATCH)):
        yield batch


@dataclass(frozen=True)
class Replay:
    """What every invoice of a replay is evaluated with."""

    customers: ReplayCustomers
    rates: RateBook
    place: MerchantFacts
    #: The bonus campaigns, applied as earning applies them (budgets not charged).
    campaigns: CampaignReplay
    now: datetime


def _evaluate(
    program: ProgramDefinition, facts: InvoiceFacts, replay: Replay, seen: set[str]
) -> tuple[str, Any]:
    """The invoice's customer and its evaluation with the awards and the campaigns'
    bonuses (``None``: the program's audience leaves the customer out)."""
    customer_id = str(facts.customer_id)
    first = customer_id not in seen
    seen.add(customer_id)
    invoice = invoice_view(facts)
    view = replay.customers.view(customer_id, str(facts.id), first=first, at=invoice.occurred_at)
    conversion = replay.rates.conversion(
        invoice_currency=invoice.currency,
        program_currency=program.currency,
        event_rate=invoice.exchange_rate,
    )
    earning = evaluate_invoice(
        program,
        invoice=invoice,
        customer=view,
        conversion=conversion,
        merchant=replay.place,
        use_index=False,  # every rule: the replay counts each one's conditions
    )
    if earning is None:
        return customer_id, None
    at = invoice.occurred_at or replay.now
    return customer_id, replay.campaigns.apply(
        earning, invoice=replace(invoice, occurred_at=at), customer=view, facts=replay.place, at=at
    )
