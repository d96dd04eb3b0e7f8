"""Feeding the pure rules from the database: programs in force, rates, customers, invoices.

Nothing here writes. :func:`programs_in_force` loads every version a merchant has in force
at a date in **one** query; versions are immutable, so their parsed form is cached by id and
settings hash. Evaluating an invoice then runs no query per line or per rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, exists, func, inspect, or_, select
from sqlalchemy.orm import Session, aliased, defer, undefer

from loyalty_plugin.domain.earning import InvoiceFacts
from loyalty_plugin.domain.errors import ValidationError
from loyalty_plugin.domain.programs import (
    ProgramDefinition,
    ProgramEarning,
    ProgramStatus,
    combine,
    definition_from_settings,
    evaluate_invoice,
)
from loyalty_plugin.domain.rules import Conversion, CustomerView, InvoiceView, LineView, Rule
from loyalty_plugin.domain.rules.conditions import MerchantFacts
from loyalty_plugin.domain.rules.index import LineLookup
from loyalty_plugin.models import (
    Account,
    Customer,
    ExchangeRate,
    Invoice,
    InvoiceEarning,
    InvoiceStatus,
    Membership,
    Merchant,
    MerchantSettings,
    Program,
    ProgramVersion,
)
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.memo import forget, remembered
from loyalty_plugin.services.settings_cache import cached, can_cache

ZERO = Decimal(0)
ONE = Decimal(1)
T = TypeVar("T")

#: Parsed versions, keyed by everything a definition is built from; bounded, cleared when
#: full. The program's id, key and name are in the key because ids can come back (MariaDB's
#: TRUNCATE, a restored backup, another database in the same process): a version must never
#: lend another program its id.
_DEFINITIONS: dict[tuple[Any, ...], ProgramDefinition] = {}
_CACHE_SIZE = 512


def plugin_rule_kinds(hooks: Any) -> list[type[Rule]]:
    """The rule kinds plugins register with ``register_earning_rules``.

    Anything but a :class:`~loyalty_plugin.domain.rules.Rule` subclass is a plugin's bug (the
    bonus objects of the retired interim rule included): a ``TypeError``, so that the event
    stays queued for a retry once the plugin is fixed.
    """
    found: list[type[Rule]] = []
    if hooks is None:  # a caller without plugins (an import run outside the app)
        return found
    for registered in hooks.register_earning_rules():
        for item in registered or ():
            if not (isinstance(item, type) and issubclass(item, Rule)):
                raise TypeError(
                    f"register_earning_rules must return Rule subclasses, not {item!r} "
                    "(bonus objects were retired: see docs/plugin_hooks.md)"
                )
            if item not in found:
                found.append(item)
    return found


def definition_of(
    program: Program, version: ProgramVersion, *, extra_kinds: Iterable[type[Rule]] = ()
) -> ProgramDefinition:
    """The version's settings as a :class:`ProgramDefinition` (cached: versions never change)."""
    kinds = tuple(extra_kinds)
    key = _cache_key(program, version, kinds)
    cached = _DEFINITIONS.get(key)
    if cached is not None:
        return cached
    if len(_DEFINITIONS) >= _CACHE_SIZE:
        _DEFINITIONS.clear()
    definition = definition_from_settings(
        version.settings,
        key=program.key,
        name=program.name,
        program_id=program.id,
        version=version.number,
        version_id=version.id,
        extra_kinds=kinds,
    )
    _DEFINITIONS[key] = definition
    return definition


def _cache_key(
    program: Program, version: ProgramVersion, kinds: tuple[type[Rule], ...]
) -> tuple[Any, ...]:
    return (
        (program.id, program.key, program.name),
        (version.id, version.number, version.settings_hash),
        tuple(sorted(k.kind for k in kinds)),
    )


def programs_in_force(
    session: Session,
    *,
    merchant_id: str,
    at: datetime,
    extra_kinds: Iterable[type[Rule]] = (),
) -> list[ProgramDefinition]:
    """The versions of the merchant's active programs in force at ``at``, in one query.

    A version is in force from its ``effective_from`` until the next version's; programs
    whose start and end dates leave ``at`` out are dropped. Settings are read only for
    versions not parsed yet (one more query, the first time), so a program of thousands
    of rules is not read and parsed again for every invoice.
    """
    kinds = tuple(extra_kinds)
    if can_cache(session, merchant_id):
        return _programs_from_snapshot(session, merchant_id=merchant_id, at=at, kinds=kinds)
    rows = versions_in_force(session, at=at, merchant_id=merchant_id, with_settings=False)
    _load_settings(session, [v for p, v in rows if _cache_key(p, v, kinds) not in _DEFINITIONS])
    definitions = [definition_of(p, v, extra_kinds=kinds) for p, v in rows]
    return [d for d in definitions if d.is_live(at)]


@dataclass(frozen=True, slots=True)
class VersionRow:
    """A version of an active program, without its settings: what the settings cache keeps."""

    program_id: int
    merchant_id: str
    key: str
    name: str
    version_id: int
    number: int
    effective_from: datetime
    settings_hash: str


def program_versions(session: Session, merchant_id: str) -> tuple[VersionRow, ...]:
    """Every version of the merchant's active programs, ordered by program key; kept across
    requests by :mod:`~loyalty_plugin.services.settings_cache` (any date is answered from
    it by :func:`rows_in_force`, so a version taking effect later needs no new read)."""

    def read() -> tuple[VersionRow, ...]:
        query = (
            select(
                Program.id,
                Program.merchant_id,
                Program.key,
                Program.name,
                ProgramVersion.id,
                ProgramVersion.number,
                ProgramVersion.effective_from,
                ProgramVersion.settings_hash,
            )
            .join(ProgramVersion, ProgramVersion.program_id == Program.id)
            .where(Program.merchant_id == merchant_id, Program.status == ProgramStatus.ACTIVE)
            .order_by(Program.merchant_id, Program.key)
        )
        return tuple(VersionRow(*row) for row in session.execute(query))

    return cached(session, merchant_id, "program_versions", read)


def rows_in_force(rows: Iterable[VersionRow], at: datetime) -> list[VersionRow]:
    """Each program's version in force at ``at`` (as :func:`versions_in_force` chooses it:
    the latest ``effective_from`` not after ``at``, then the highest number), in the
    programs' order in ``rows``."""
    chosen: dict[int, VersionRow] = {}
    for row in rows:
        if row.effective_from > at:
            continue
        held = chosen.get(row.program_id)
        if held is None or (row.effective_from, row.number) > (held.effective_from, held.number):
            chosen[row.program_id] = row
    return list(chosen.values())


def version_settings(session: Session, version_ids: Iterable[int]) -> dict[int, Any]:
    """The settings of the versions, by id, in one query (none for no ids)."""
    ids = sorted(set(version_ids))
    if not ids:
        return {}
    query = select(ProgramVersion.id, ProgramVersion.settings).where(ProgramVersion.id.in_(ids))
    return {version_id: settings for version_id, settings in session.execute(query)}


_MISSING: Any = object()


def parsed_versions(
    session: Session,
    rows: Sequence[VersionRow],
    cache: dict[Any, T],
    key_of: Callable[[VersionRow], Any],
    parse: Callable[[VersionRow, Any], T],
) -> dict[int, T]:
    """Each row's version parsed, by version id: from ``cache`` (bounded, cleared when
    full), else parsed from its settings, read for all the missing ones in one query."""
    # Read into a local dict first: another thread may clear the shared one meanwhile.
    found = {row.version_id: cache.get(key_of(row), _MISSING) for row in rows}
    settings = version_settings(session, [v for v, d in found.items() if d is _MISSING])
    for row in rows:
        if found[row.version_id] is _MISSING:
            found[row.version_id] = parse(row, settings[row.version_id])
            if len(cache) >= _CACHE_SIZE:
                cache.clear()
            cache[key_of(row)] = found[row.version_id]
    return found


def _programs_from_snapshot(
    session: Session, *, merchant_id: str, at: datetime, kinds: tuple[type[Rule], ...]
) -> list[ProgramDefinition]:
    rows = rows_in_force(program_versions(session, merchant_id), at)
    kind_names = tuple(sorted(k.kind for k in kinds))

    def key_of(row: VersionRow) -> tuple[Any, ...]:
        return (
            (row.program_id, row.key, row.name),
            (row.version_id, row.number, row.settings_hash),
            kind_names,
        )

    def parse(row: VersionRow, settings: Any) -> ProgramDefinition:
        return definition_from_settings(
            settings,
            key=row.key,
            name=row.name,
            program_id=row.program_id,
            version=row.number,
            version_id=row.version_id,
            extra_kinds=kinds,
        )

    parsed = parsed_versions(session, rows, _DEFINITIONS, key_of, parse)
    return [d for row in rows if (d := parsed[row.version_id]).is_live(at)]


def _load_settings(session: Session, versions: list[ProgramVersion]) -> None:
    """Read the settings of ``versions`` that are not loaded yet, in one query."""
    missing = [v for v in versions if "settings" in inspect(v).unloaded]
    if missing:
        session.scalars(
            select(ProgramVersion)
            .where(ProgramVersion.id.in_([v.id for v in missing]))
            .options(undefer(ProgramVersion.settings))
        ).all()


def versions_in_force(
    session: Session, *, at: datetime, merchant_id: str | None = None, with_settings: bool = True
) -> list[tuple[Program, ProgramVersion]]:
    """Each active program (of ``merchant_id``, or of every merchant) with its version at ``at``.

    ``with_settings=False`` leaves the settings JSON out (loaded when first read): a
    version's parsed definition is cached, and a program of thousands of rules is a large
    document to read and parse again for every invoice.

    Read once per transaction and arguments (an earning asks three times), again after a
    program or version is written.
    """
    key = ("versions_in_force", at, merchant_id, with_settings)

    def rows() -> list[tuple[Program, ProgramVersion]]:
        return remembered(
            session,
            key,
            lambda: _versions_in_force(
                session, at=at, merchant_id=merchant_id, with_settings=with_settings
            ),
            watch=(Program, ProgramVersion),
        )

    found = rows()
    if any(inspect(program).expired or inspect(version).expired for program, version in found):
        forget(session, key)  # expired since (expire_all): one query beats a refresh per row
        found = rows()
    return list(found)


def _versions_in_force(
    session: Session, *, at: datetime, merchant_id: str | None, with_settings: bool
) -> list[tuple[Program, ProgramVersion]]:
    newer = aliased(ProgramVersion)
    superseded = exists().where(
        newer.program_id == ProgramVersion.program_id,
        newer.effective_from <= at,
        or_(
            newer.effective_from > ProgramVersion.effective_from,
            and_(
                newer.effective_from == ProgramVersion.effective_from,
                newer.number > ProgramVersion.number,
            ),
        ),
    )
    query = (
        select(Program, ProgramVersion)
        .join(ProgramVersion, ProgramVersion.program_id == Program.id)
        .where(
            Program.status == ProgramStatus.ACTIVE,
            ProgramVersion.effective_from <= at,
            ~superseded,
        )
        .order_by(Program.merchant_id, Program.key)
    )
    if merchant_id is not None:
        query = query.where(Program.merchant_id == merchant_id)
    if not with_settings:
        query = query.options(defer(ProgramVersion.settings))
    return [(p, v) for p, v in session.execute(query).all()]


@dataclass
class RateBook:
    """Converts invoice money into program money for one merchant at one date.

    ``event_rate`` is the host's rate from the invoice currency to the merchant's; the
    merchant's rates table fills in any other rate needed. Each currency is looked up once.
    """

    session: Session
    merchant: Merchant
    at: datetime
    _table: dict[str, Decimal | None] = field(default_factory=dict)

    def conversion(
        self, *, invoice_currency: str, program_currency: str, event_rate: Decimal | None
    ) -> Conversion:
        """The rate and where it came from; refuses when no rate is known."""
        if invoice_currency == program_currency:
            return Conversion.identity(program_currency)
        to_merchant, source = self._to_merchant(invoice_currency, event_rate)
        from_program, program_source = self._to_merchant(program_currency, None)
        sources = [source] + (
            [program_source] if program_currency != self.merchant.currency else []
        )
        return Conversion(
            rate=to_merchant / from_program,
            source=", ".join(sources),
            from_currency=invoice_currency,
            to_currency=program_currency,
        )

    def _to_merchant(self, currency: str, event_rate: Decimal | None) -> tuple[Decimal, str]:
        if currency == self.merchant.currency:
            return ONE, "same currency"
        if event_rate is not None:
            return event_rate, "invoice exchange_rate"
        rate = self._lookup(currency)
        if rate is None:
            raise ValidationError(
                f"no exchange rate from {currency} to {self.merchant.currency}: send the "
                "invoice's exchange_rate or add one with `loyalty rates set`",
                field="invoice.exchange_rate",
            )
        return rate, "rates table"

    def _lookup(self, currency: str) -> Decimal | None:
        if currency not in self._table:
            self._table[currency] = self.session.scalar(
                select(ExchangeRate.rate)
                .where(
                    ExchangeRate.merchant_id == self.merchant.id,
                    ExchangeRate.currency == currency,
                    ExchangeRate.valid_from <= self.at,
                )
                .order_by(ExchangeRate.valid_from.desc())
                .limit(1)
            )
        return self._table[currency]


def customer_level(
    session: Session, customer: Customer, *, now: datetime | None = None
) -> str | None:
    """The level rules and audiences see: held in the merchant's oldest program with levels.

    A given or bought level past its end at ``now`` (the caller's clock; default: the
    wall clock) counts as the earned one until the review job catches up.
    """
    row = session.execute(_membership(customer)).first()
    return None if row is None else _held_level(*row, now=now)


def _membership(customer: Customer) -> Select[tuple[str, str, datetime | None]]:
    """The customer's membership in the oldest program with levels (one row at most)."""
    return (
        select(Membership.level, Membership.earned_level, Membership.expires_at)
        .join(Account, Account.id == Membership.account_id)
        .where(Account.merchant_id == customer.merchant_id, Account.customer_id == customer.id)
        .order_by(Membership.program_id)
        .limit(1)
    )


def _held_level(
    level: str | None, earned: str | None, expires_at: datetime | None, *, now: datetime | None
) -> str | None:
    return earned if expires_at is not None and expires_at <= (now or utcnow()) else level


def customer_view(
    session: Session,
    customer: Customer,
    *,
    account_id: int | None = None,
    invoice_id: str | None = None,
    now: datetime | None = None,
) -> CustomerView:
    """What rules may know of the customer at ``now`` (default: the wall clock);
    ``first_purchase`` is about ``invoice_id``."""
    if invoice_id is None:
        first, level = False, customer_level(session, customer, now=now)
    else:
        first, level = _first_purchase_and_level(session, customer, account_id, invoice_id, now)
    return CustomerView(
        id=customer.host_customer_id,
        group=customer.customer_group,
        groups=frozenset(customer.customer_groups or ()),
        enrolled=customer.enrolled,
        level=level,
        first_purchase=first,
        tags=frozenset(customer.tags or ()),
        registered_at=customer.created_at,
    )


def needs_last_purchase(programs: Iterable[ProgramDefinition]) -> bool:
    """True when a rule of ``programs`` has a win-back condition (one more query then)."""
    return any(
        rule.conditions.who.inactive_days is not None
        for program in programs
        for rule in program.rules
    )


def last_purchase_at(
    session: Session, customer: Customer, *, invoice_id: str, before: datetime
) -> datetime | None:
    """When the customer last paid another invoice of the merchant, before ``before``.

    The paying event's ``occurred_at`` counts (the moment the plugin recorded the payment
    for invoices paid before it was kept).
    """
    moment = func.coalesce(Invoice.paid_occurred_at, Invoice.paid_at)
    return session.scalar(
        select(func.max(moment)).where(
            Invoice.merchant_id == customer.merchant_id,
            Invoice.customer_id == customer.id,
            Invoice.status == InvoiceStatus.PAID,
            Invoice.host_invoice_id != invoice_id,
            moment < before,
        )
    )


def merchant_facts(
    session: Session, merchant: Merchant, programs: Iterable[ProgramDefinition]
) -> MerchantFacts:
    """The merchant's time zone and store groups, as the rules of ``programs`` read them
    (store groups are read only when a rule names one)."""
    named = any(rule.conditions.store_groups for program in programs for rule in program.rules)
    groups = named and session.scalar(
        select(MerchantSettings.store_groups).where(MerchantSettings.merchant_id == merchant.id)
    )
    return MerchantFacts(
        timezone=merchant.timezone,
        store_groups={name: frozenset(stores) for name, stores in (groups or {}).items()},
    )


def _first_purchase_and_level(
    session: Session,
    customer: Customer,
    account_id: int | None,
    invoice_id: str,
    now: datetime | None,
) -> tuple[bool, str | None]:
    """Whether ``invoice_id`` is the customer's first purchase, and their level: one
    statement for both (issue 20)."""
    membership = _membership(customer)
    other, *held = session.execute(
        select(
            _other_purchase(customer, account_id, invoice_id),
            *(
                membership.with_only_columns(c).scalar_subquery()
                for c in membership.selected_columns
            ),
        )
    ).one()
    return not other, None if held[0] is None else _held_level(*held, now=now)


def _other_purchase(
    customer: Customer, account_id: int | None, invoice_id: str
) -> ColumnElement[bool]:
    """Whether the customer paid or earned on an invoice other than ``invoice_id``."""
    paid = exists().where(
        Invoice.merchant_id == customer.merchant_id,
        Invoice.customer_id == customer.id,
        Invoice.status == InvoiceStatus.PAID,
        Invoice.host_invoice_id != invoice_id,
    )
    earned = exists().where(
        InvoiceEarning.merchant_id == customer.merchant_id,
        InvoiceEarning.account_id == account_id,
        InvoiceEarning.invoice_id != invoice_id,
    )
    return or_(paid, earned)


def invoice_view(facts: InvoiceFacts, *, paid_with_points: Decimal = ZERO) -> InvoiceView:
    """The host's invoice (as the webhook schema reads it) for the rules."""
    return InvoiceView(
        id=facts.id,
        currency=facts.currency,
        total=facts.total,
        subtotal=facts.subtotal,
        discount_total=facts.discount_total or ZERO,
        tax_total=facts.tax_total or ZERO,
        shipping_total=facts.shipping_total or ZERO,
        transaction_fee=facts.transaction_fee or ZERO,
        paid_with_points=paid_with_points,
        exchange_rate=facts.exchange_rate,
        date=facts.date,
        occurred_at=facts.occurred_at,
        channel=facts.channel,
        store_id=facts.store_id,
        lines=tuple(
            LineView(
                id=item.id,
                qty=item.qty,
                amount=item.total,
                discount=item.discount or ZERO,
                product_id=item.product_id,
                sku=item.sku,
                category_id=item.category_id,
                tags=frozenset(item.tags),
            )
            for item in facts.items
        ),
    )


def evaluate_programs(
    programs: Sequence[ProgramDefinition],
    *,
    invoice: InvoiceView,
    customer: CustomerView,
    rates: RateBook,
    merchant: MerchantFacts | None = None,
) -> list[ProgramEarning]:
    """Every program's earning on the invoice, combined (only those that count remain)."""
    earnings = []
    lookup = LineLookup()
    for program in programs:
        conversion = rates.conversion(
            invoice_currency=invoice.currency,
            program_currency=program.currency,
            event_rate=invoice.exchange_rate,
        )
        earning = evaluate_invoice(
            program, invoice=invoice, customer=customer, conversion=conversion,
            merchant=merchant, lookup=lookup,
        )  # fmt: skip
        if earning is not None:
            earnings.append(earning)
    return combine(earnings)
