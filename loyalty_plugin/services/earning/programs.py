"""Managing programs: create, change (as new versions), activate, archive, export, import.

A draft's single version is edited in place. Once a program is active, a change that
alters its settings makes a new immutable version in force from a chosen date; a change
that alters nothing makes nothing, so importing the same file twice is harmless.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from loyalty_plugin.domain.errors import InvalidOperation, NotFound, ValidationError
from loyalty_plugin.domain.money import check_currency
from loyalty_plugin.domain.programs import ProgramStatus
from loyalty_plugin.domain.rules import Rule
from loyalty_plugin.models import ExchangeRate, InvoiceEarning, Program, ProgramVersion
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.schemas.programs import (
    FILE_FORMAT,
    IDENTITY_FIELDS,
    InvalidProgram,
    load_file,
    load_program,
    load_programs,
    load_settings_update,
    settings_hash,
)
from loyalty_plugin.services.audit import SYSTEM, Actor, as_actor, jsonable, record_change
from loyalty_plugin.services.earning import bonus_campaigns
from loyalty_plugin.services.idempotency import claim_fact
from loyalty_plugin.services.ledger.accounts import get_merchant

#: How a move of status is named in the audit trail.
_MOVES = {
    ProgramStatus.ACTIVE: "program.activated",
    ProgramStatus.PAUSED: "program.paused",
    ProgramStatus.ARCHIVED: "program.archived",
}
#: Settings objects an update merges into (other settings are replaced whole).
MERGED_SETTINGS = ("audience", "earning")

#: When the default program takes effect: before any event a host may send, so that an
#: invoice dated before the merchant was created earns as it always did.
DEFAULT_PROGRAM_SINCE = datetime(2000, 1, 1, tzinfo=UTC)
#: The program every new merchant starts with: 1 point per 10.00 of the invoice total (tax
#: and shipping included), 50 points for enrolling, 100 on a birthday, for enrolled
#: customers. A program like any other: the merchant edits, archives or exports it.
DEFAULT_PROGRAM: dict[str, Any] = {
    "key": "default",
    "name": "Points on every purchase",
    "status": "active",
    "effective_from": DEFAULT_PROGRAM_SINCE.isoformat(),
    "audience": {"customers": "enrolled"},
    "earning": {"include_tax": True, "include_shipping": True},
    "rules": [
        {"id": "base", "kind": "per_amount", "points": "1", "per": "10.00"},
        {"id": "welcome", "kind": "registration", "points": 50},
        {"id": "birthday", "kind": "birthday", "points": 100},
    ],
}


def get_program(session: Session, merchant_id: str, key: str) -> Program:
    """The merchant's program ``key``, or :class:`NotFound`."""
    program = session.scalars(
        select(Program).where(Program.merchant_id == merchant_id, Program.key == key)
    ).one_or_none()
    if program is None:
        raise NotFound(f"program {key!r} does not exist", field="key")
    return program


def list_programs(
    session: Session, merchant_id: str, *, status: ProgramStatus | None = None
) -> list[Program]:
    """The merchant's programs by key, with their versions loaded."""
    query = (
        select(Program)
        .where(Program.merchant_id == merchant_id)
        .options(selectinload(Program.versions))
        .order_by(Program.key)
    )
    if status is not None:
        query = query.where(Program.status == status)
    return list(session.scalars(query))


def latest_version(program: Program) -> ProgramVersion:
    """The program's newest version (the one its next change starts from)."""
    return max(program.versions, key=lambda v: v.number)


def create_program(
    session: Session,
    *,
    merchant_id: str,
    definition: Mapping[str, Any],
    now: datetime,
    actor: Actor | str,
    extra_kinds: Iterable[type[Rule]] = (),
    request_key: str | None = None,
) -> Program:
    """Create a program (a draft unless ``status`` says otherwise) and its version 1.

    ``request_key`` (an admin form's one-time key) makes a repeat of the same request (a
    double submit) return the program the first one created instead of "already exists".
    """
    actor = as_actor(actor)
    merchant = get_merchant(session, merchant_id)
    identity, settings = load_program(
        definition, default_currency=merchant.currency, extra_kinds=extra_kinds
    )
    if request_key is not None:
        made = _created_by_key(session, merchant_id, request_key, identity["key"])
        if made is not None:
            return made
    if _find(session, merchant_id, identity["key"]) is not None:
        raise InvalidOperation(f"program {identity['key']!r} already exists", field="key")
    program = Program(
        merchant_id=merchant_id,
        key=identity["key"],
        name=identity["name"],
        status=ProgramStatus.DRAFT,
        created_at=now,
        updated_at=now,
    )
    session.add(program)
    session.flush()
    _add_version(
        session,
        program,
        settings,
        effective_from=identity["effective_from"] or now,
        actor=actor,
        now=now,
    )
    _move_to(
        session,
        program,
        ProgramStatus(identity["status"]),
        now=now,
        effective_from=identity["effective_from"],
        actor=None,
    )
    _record(session, program, actor, "program.created", None, now=now)
    return program


def _created_by_key(
    session: Session, merchant_id: str, request_key: str, program_key: str
) -> Program | None:
    """The program an earlier request with this form key created (``None``: the key is new).

    The fact counted names the program's key too: a form re-rendered after a mistake keeps
    its form key, and the corrected key it then sends is a new request.
    """
    fact = f"program-form:{program_key}:{request_key}"[:255]
    if claim_fact(session, merchant_id=merchant_id, key=fact, event_id=None) is None:
        return None
    return _find(session, merchant_id, program_key)


def create_default_program(
    session: Session, *, merchant_id: str, now: datetime, actor: Actor | str = SYSTEM
) -> Program:
    """Give the merchant :data:`DEFAULT_PROGRAM` (done for every new merchant)."""
    return create_program(
        session, merchant_id=merchant_id, definition=DEFAULT_PROGRAM, now=now, actor=actor
    )


def update_program(
    session: Session,
    *,
    merchant_id: str,
    key: str,
    changes: Mapping[str, Any],
    now: datetime,
    actor: Actor | str,
    extra_kinds: Iterable[type[Rule]] = (),
) -> ProgramVersion:
    """Apply ``changes`` (any program fields but ``key``); returns the version now newest.

    A draft is changed in place. An active program gets a new version from
    ``changes["effective_from"]`` (default ``now``) if its settings change at all; a new
    ``name`` alone is not versioned. ``audience`` and ``earning`` merge into the current
    objects; other settings are replaced whole. A change is audited as ``program.updated``.
    """
    actor = as_actor(actor)
    program = get_program(session, merchant_id, key)
    before = jsonable(program_document(program))
    version = _update(session, program, changes, now=now, actor=actor, extra_kinds=extra_kinds)
    _record(session, program, actor, "program.updated", before, now=now)
    return version


def _update(
    session: Session,
    program: Program,
    changes: Mapping[str, Any],
    *,
    now: datetime,
    actor: Actor,
    extra_kinds: Iterable[type[Rule]],
) -> ProgramVersion:
    key = program.key
    if program.status == ProgramStatus.ARCHIVED:
        raise InvalidOperation(f"program {key!r} is archived and cannot change", field="key")
    changes = load_settings_update(changes)
    if "status" in changes:
        raise ValidationError("use activate or archive to change the status", field="status")
    current = latest_version(program)
    merged = _merge(current.settings, changes)
    identity, settings = load_program(
        {"key": program.key, "name": changes.get("name", program.name), **merged},
        extra_kinds=extra_kinds,
    )
    program.name = identity["name"]
    program.updated_at = now
    if settings_hash(settings) == current.settings_hash:
        return current
    if program.status == ProgramStatus.DRAFT:
        current.settings = settings
        current.settings_hash = settings_hash(settings)
        current.effective_from = identity["effective_from"] or current.effective_from
        return current
    effective_from = identity["effective_from"] or now
    if effective_from < current.effective_from:
        raise ValidationError(
            f"version {current.number} takes effect {current.effective_from.isoformat()}; "
            "a new version cannot take effect before it",
            field="effective_from",
        )
    return _add_version(
        session, program, settings, effective_from=effective_from, actor=actor, now=now
    )


def activate_program(
    session: Session,
    *,
    merchant_id: str,
    key: str,
    now: datetime,
    effective_from: datetime | None = None,
    actor: Actor | str = SYSTEM,
) -> Program:
    """Make a draft earn from ``effective_from`` (default ``now``), or a paused program earn
    again (its versions as they were); active stays active."""
    program = get_program(session, merchant_id, key)
    _move_to(
        session,
        program,
        ProgramStatus.ACTIVE,
        now=now,
        effective_from=effective_from,
        actor=as_actor(actor),
    )
    return program


def pause_program(
    session: Session, *, merchant_id: str, key: str, now: datetime, actor: Actor | str = SYSTEM
) -> Program:
    """Stop an active program from earning until it is activated again (its versions stay)."""
    program = get_program(session, merchant_id, key)
    _move_to(
        session, program, ProgramStatus.PAUSED, now=now, effective_from=None, actor=as_actor(actor)
    )
    return program


def archive_program(
    session: Session, *, merchant_id: str, key: str, now: datetime, actor: Actor | str = SYSTEM
) -> Program:
    """Stop a program from earning, for good; its history stays."""
    program = get_program(session, merchant_id, key)
    _move_to(
        session,
        program,
        ProgramStatus.ARCHIVED,
        now=now,
        effective_from=None,
        actor=as_actor(actor),
    )
    return program


def program_document(program: Program, version: ProgramVersion | None = None) -> dict[str, Any]:
    """A program as the declarative file and the API show it (its newest version by default)."""
    version = version or latest_version(program)
    return {
        "key": program.key,
        "name": program.name,
        "status": program.status.value,
        "version": version.number,
        "effective_from": version.effective_from.isoformat(),
        **version.settings,
    }


def version_document(version: ProgramVersion) -> dict[str, Any]:
    """One version: its number, date, author and settings."""
    return {
        "version": version.number,
        "effective_from": version.effective_from.isoformat(),
        "created_at": version.created_at.isoformat(),
        "created_by": version.created_by,
        "settings": version.settings,
    }


def export_programs(session: Session, *, merchant_id: str) -> dict[str, Any]:
    """Every program of the merchant as a declarative file (newest versions)."""
    get_merchant(session, merchant_id)
    programs = [program_document(p) for p in list_programs(session, merchant_id)]
    for document in programs:
        document.pop("version")
    campaigns = [
        bonus_campaigns.definition_document(c)
        for c in bonus_campaigns.list_bonus_campaigns(session, merchant_id)
    ]
    return {"format": FILE_FORMAT, "merchant": merchant_id, "programs": programs} | (
        {"bonus_campaigns": campaigns} if campaigns else {}
    )


@dataclass
class ImportReport:
    """What an import did, program key by program key."""

    created: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    activated: list[str] = field(default_factory=list)
    archived: list[str] = field(default_factory=list)
    paused: list[str] = field(default_factory=list)
    #: What the file's ``bonus_campaigns`` did: created, changed, unchanged (by key).
    bonus_campaigns: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        shown: dict[str, Any] = {
            k: list(v) for k, v in self.__dict__.items() if k != "bonus_campaigns"
        }
        return shown | ({"bonus_campaigns": self.bonus_campaigns} if self.bonus_campaigns else {})


def import_programs(
    session: Session,
    *,
    merchant_id: str,
    document: Any,
    now: datetime,
    actor: Actor | str,
    extra_kinds: Iterable[type[Rule]] = (),
) -> ImportReport:
    """Make the merchant's programs match a declarative file; all or nothing.

    Every program in the file is validated first (errors name ``programs.N.field``).
    Programs absent from the file are left alone. Importing the same file again changes
    nothing.
    """
    merchant = get_merchant(session, merchant_id)
    envelope = load_file(document)
    if envelope["merchant"] not in (None, merchant_id):
        raise InvalidProgram(
            {
                "merchant": [
                    f"the file is for merchant {envelope['merchant']!r}, not {merchant_id!r}"
                ]
            }
        )
    checked = load_programs(envelope["programs"], merchant.currency, extra_kinds)
    report = ImportReport()
    for item, (identity, _settings) in zip(envelope["programs"], checked, strict=True):
        _import_one(
            session,
            merchant_id,
            item,
            identity,
            report,
            now=now,
            actor=as_actor(actor),
            extra_kinds=extra_kinds,
        )
    if envelope.get("bonus_campaigns") is not None:
        report.bonus_campaigns = bonus_campaigns.import_bonus_campaigns(
            session, merchant_id=merchant_id, items=envelope["bonus_campaigns"], now=now,
            actor=actor,
        )  # fmt: skip
    return report


def set_exchange_rate(
    session: Session,
    *,
    merchant_id: str,
    currency: str,
    rate: Decimal,
    valid_from: datetime,
    now: datetime | None = None,
    actor: Actor | str = SYSTEM,
) -> ExchangeRate:
    """Record that one ``currency`` is worth ``rate`` of the merchant's currency from a date
    (audited as ``exchange_rate.set``)."""
    merchant = get_merchant(session, merchant_id)
    currency = check_currency(currency)
    if currency == merchant.currency:
        raise ValidationError("the merchant's own currency needs no rate", field="currency")
    if not isinstance(rate, Decimal) or not rate.is_finite() or rate <= 0:
        raise ValidationError("a rate must be a Decimal above 0", field="rate")
    row = session.scalars(
        select(ExchangeRate).where(
            ExchangeRate.merchant_id == merchant_id,
            ExchangeRate.currency == currency,
            ExchangeRate.valid_from == valid_from,
        )
    ).one_or_none()
    before = None if row is None else {"rate": row.rate, "valid_from": valid_from}
    if row is None:
        row = ExchangeRate(merchant_id=merchant_id, currency=currency, valid_from=valid_from)
        session.add(row)
    row.rate = rate
    session.flush()
    if before is None or before["rate"] != rate:
        record_change(
            session,
            merchant_id=merchant_id,
            actor=actor,
            action="exchange_rate.set",
            target_type="exchange_rate",
            target_id=currency,
            before=before,
            after={"rate": rate, "valid_from": valid_from},
            now=now or utcnow(),
        )
    return row


def list_exchange_rates(session: Session, merchant_id: str) -> list[ExchangeRate]:
    """The merchant's rates, by currency then date."""
    return list(
        session.scalars(
            select(ExchangeRate)
            .where(ExchangeRate.merchant_id == merchant_id)
            .order_by(ExchangeRate.currency, ExchangeRate.valid_from)
        )
    )


# -- internals ------------------------------------------------------------------------------


def _find(session: Session, merchant_id: str, key: str) -> Program | None:
    return session.scalars(
        select(Program).where(Program.merchant_id == merchant_id, Program.key == key)
    ).one_or_none()


def _add_version(
    session: Session,
    program: Program,
    settings: dict[str, Any],
    *,
    effective_from: datetime,
    actor: Actor,
    now: datetime,
) -> ProgramVersion:
    number = max((v.number for v in program.versions), default=0) + 1
    version = ProgramVersion(
        merchant_id=program.merchant_id,
        program_id=program.id,
        number=number,
        effective_from=effective_from,
        settings=settings,
        settings_hash=settings_hash(settings),
        created_by=actor.label,
        created_at=now,
    )
    program.versions.append(version)
    session.flush()
    return version


def _move_to(
    session: Session,
    program: Program,
    status: ProgramStatus,
    *,
    now: datetime,
    effective_from: datetime | None,
    actor: Actor | None,
) -> None:
    """Change the status along draft -> active (<-> paused) -> archived (a repeat is a no-op).

    The move is audited (``program.activated`` / ``.paused`` / ``.archived``) unless ``actor``
    is ``None``: a program created active is audited as created.
    """
    if status == program.status:
        return
    before = jsonable(program_document(program))
    if program.status == ProgramStatus.ARCHIVED:
        raise InvalidOperation(f"program {program.key!r} is archived", field="status")
    if status == ProgramStatus.DRAFT:
        raise InvalidOperation(
            f"program {program.key!r} is active and cannot become a draft again", field="status"
        )
    if status == ProgramStatus.PAUSED and program.status == ProgramStatus.DRAFT:
        raise InvalidOperation(
            f"program {program.key!r} is a draft: it earns nothing yet", field="status"
        )
    if status == ProgramStatus.ACTIVE and program.status == ProgramStatus.DRAFT:
        # A draft has exactly one version: it takes effect on activation.
        latest_version(program).effective_from = effective_from or now
        program.activated_at = now
    elif status in (ProgramStatus.ACTIVE, ProgramStatus.PAUSED):
        pass  # pausing or resuming: the versions and their dates stay as they are
    else:
        program.archived_at = now
    program.status = status
    program.updated_at = now
    session.flush()
    if actor is not None:
        _record(session, program, actor, _MOVES[status], before, now=now)


def _record(
    session: Session,
    program: Program,
    actor: Actor,
    action: str,
    before: dict[str, Any] | None,
    *,
    now: datetime,
) -> None:
    """Audit a change of ``program`` (nothing when the change changed nothing)."""
    after = jsonable(program_document(program))
    if before == after:
        return
    record_change(
        session,
        merchant_id=program.merchant_id,
        actor=actor,
        action=action,
        target_type="program",
        target_id=program.key,
        before=before,
        after=after,
        now=now,
    )


def _merge(current: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(current)
    for name, value in changes.items():
        if name in MERGED_SETTINGS and isinstance(value, dict):
            merged[name] = {**(current.get(name) or {}), **value}
        elif name not in ("name", "status"):
            merged[name] = value
    return merged


def _import_one(
    session: Session,
    merchant_id: str,
    item: dict[str, Any],
    identity: dict[str, Any],
    report: ImportReport,
    *,
    now: datetime,
    actor: Actor,
    extra_kinds: Iterable[type[Rule]],
) -> None:
    key, status = identity["key"], ProgramStatus(identity["status"])
    program = _find(session, merchant_id, key)
    if program is None:
        create_program(
            session,
            merchant_id=merchant_id,
            definition=item,
            now=now,
            actor=actor,
            extra_kinds=extra_kinds,
        )
        report.created.append(key)
        return
    if program.status == ProgramStatus.ARCHIVED:
        report.unchanged.append(key)
        return
    changes = {k: v for k, v in item.items() if k not in ("key", "status", "version")}
    latest = latest_version(program)
    before = (latest.id, latest.settings_hash, program.name)
    if identity["effective_from"] == latest.effective_from:
        # The date an export wrote: a change made to that file takes effect now.
        changes.pop("effective_from", None)
    version = update_program(
        session,
        merchant_id=merchant_id,
        key=key,
        changes=changes,
        now=now,
        actor=actor,
        extra_kinds=extra_kinds,
    )
    changed = (version.id, version.settings_hash, program.name) != before
    (report.changed if changed else report.unchanged).append(key)
    if status != program.status:
        _move_to(
            session,
            program,
            status,
            now=now,
            effective_from=identity["effective_from"],
            actor=actor,
        )
        moved = {ProgramStatus.ACTIVE: report.activated, ProgramStatus.PAUSED: report.paused}
        moved.get(status, report.archived).append(key)


__all__ = [
    "IDENTITY_FIELDS",
    "ImportReport",
    "activate_program",
    "archive_program",
    "create_program",
    "export_programs",
    "get_program",
    "import_programs",
    "latest_version",
    "list_exchange_rates",
    "list_programs",
    "pause_program",
    "program_document",
    "program_totals",
    "set_exchange_rate",
    "update_program",
    "version_document",
    "version_in_force",
]


def program_totals(session: Session, merchant_id: str) -> dict[int, tuple[int, int]]:
    """Per program id: (customers who earned on an invoice, points it issued net of reversals)."""
    rows = session.execute(
        select(
            InvoiceEarning.program_id,
            func.count(func.distinct(InvoiceEarning.account_id)),
            func.coalesce(func.sum(InvoiceEarning.earned - InvoiceEarning.reversed), 0),
        )
        .where(InvoiceEarning.merchant_id == merchant_id)
        .group_by(InvoiceEarning.program_id)
    )
    return {program_id: (int(customers), int(points)) for program_id, customers, points in rows}


def version_in_force(program: Program, now: datetime) -> ProgramVersion | None:
    """The version earning at ``now``: none unless the program is active."""
    if program.status != ProgramStatus.ACTIVE:
        return None
    started = [v for v in program.versions if v.effective_from <= now]
    return max(started, key=lambda v: v.number) if started else None
