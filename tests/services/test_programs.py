"""Managing programs: versions, statuses, the declarative file, and loading what is in force."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import InvalidOperation, NotFound, ValidationError
from loyalty_plugin.domain.programs import ProgramStatus
from loyalty_plugin.models import Merchant, ProgramVersion
from loyalty_plugin.schemas.programs import FILE_FORMAT, InvalidProgram
from loyalty_plugin.services.earning import programs as svc
from loyalty_plugin.services.earning.rule_engine import RateBook, programs_in_force

TEN = {"kind": "per_amount", "points": "1", "per": "10"}


@pytest.fixture
def shop(session: Session) -> str:
    session.add(Merchant(id="shop", name="Shop", currency="EUR"))
    session.commit()
    return "shop"


def create(session: Session, now: datetime, **definition: Any):
    base = {"key": "main", "name": "Main", "rules": [TEN]}
    return svc.create_program(
        session, merchant_id="shop", definition=base | definition, now=now, actor="test"
    )


def test_a_new_program_is_a_draft_with_every_default_spelled_out(
    session: Session, shop: str, now: datetime
) -> None:
    """Version 1 stores the merchant's currency and each documented default."""
    program = create(session, now)
    version = svc.latest_version(program)
    assert program.status == ProgramStatus.DRAFT
    assert version.number == 1
    assert version.settings["currency"] == "EUR"
    assert version.settings["earning"] == {
        "include_tax": False,
        "include_shipping": False,
        "deduct_discounts": True,
        "points_payments_earn": False,
        "minimum_amount": "0",
        "rounding": "down",
        "rounding_scope": "invoice",
        "excluded_tags": ["gift_card", "promotional"],
    }
    nothing = {"products": [], "categories": [], "tags": [], "groups": []}
    assert version.settings["rules"] == [{**TEN, "id": "per_amount", "exclude": nothing}]


def test_a_draft_is_edited_in_place(session: Session, shop: str, now: datetime) -> None:
    """Editing a draft never makes version 2: it never earned anything."""
    create(session, now)
    svc.update_program(
        session, merchant_id="shop", key="main", changes={"pending_days": 14}, now=now, actor="t"
    )
    program = svc.get_program(session, "shop", "main")
    assert [v.number for v in program.versions] == [1]
    assert program.versions[0].settings["pending_days"] == 14


def test_changing_an_active_program_makes_a_new_version_from_a_date(
    session: Session, shop: str, now: datetime
) -> None:
    """Version 1 stays as it was; version 2 is in force from its date onwards."""
    create(session, now, status="active")
    later = now + timedelta(days=10)
    changed = svc.update_program(
        session,
        merchant_id="shop",
        key="main",
        changes={"rules": [{**TEN, "points": "2"}], "effective_from": later.isoformat()},
        now=now,
        actor="staff:ana",
    )
    session.commit()
    assert (changed.number, changed.effective_from, changed.created_by) == (2, later, "staff:ana")
    first = programs_in_force(session, merchant_id="shop", at=now + timedelta(days=1))
    second = programs_in_force(session, merchant_id="shop", at=later)
    assert [(d.version, d.rules[0].ratio.points) for d in first] == [(1, Decimal(1))]
    assert [(d.version, d.rules[0].ratio.points) for d in second] == [(2, Decimal(2))]


def test_an_unchanged_update_makes_no_version_and_names_are_not_versioned(
    session: Session, shop: str, now: datetime
) -> None:
    """Same settings: same version. A new name alone changes the program, not its rules."""
    create(session, now, status="active")
    same = svc.update_program(
        session, merchant_id="shop", key="main", changes={"rules": [TEN]}, now=now, actor="t"
    )
    renamed = svc.update_program(
        session, merchant_id="shop", key="main", changes={"name": "Points"}, now=now, actor="t"
    )
    assert same.number == renamed.number == 1
    assert svc.get_program(session, "shop", "main").name == "Points"


def test_updates_merge_earning_settings_and_refuse_going_back_in_time(
    session: Session, shop: str, now: datetime
) -> None:
    """Changing one earning setting keeps the others; a version cannot predate the last."""
    create(session, now, status="active", earning={"include_tax": True})
    version = svc.update_program(
        session,
        merchant_id="shop",
        key="main",
        changes={"earning": {"rounding": "up"}},
        now=now,
        actor="t",
    )
    assert version.settings["earning"]["include_tax"] is True
    assert version.settings["earning"]["rounding"] == "up"
    with pytest.raises(ValidationError, match="cannot take effect before"):
        svc.update_program(
            session,
            merchant_id="shop",
            key="main",
            changes={"pending_days": 3, "effective_from": (now - timedelta(days=1)).isoformat()},
            now=now,
            actor="t",
        )


def test_status_moves_forward_only(session: Session, shop: str, now: datetime) -> None:
    """Draft to active to archived; an archived program neither earns nor changes."""
    create(session, now)
    svc.activate_program(session, merchant_id="shop", key="main", now=now)
    svc.activate_program(session, merchant_id="shop", key="main", now=now)
    assert len(programs_in_force(session, merchant_id="shop", at=now)) == 1
    svc.archive_program(session, merchant_id="shop", key="main", now=now)
    assert programs_in_force(session, merchant_id="shop", at=now) == []
    with pytest.raises(InvalidOperation, match="archived"):
        svc.activate_program(session, merchant_id="shop", key="main", now=now)
    with pytest.raises(InvalidOperation, match="archived"):
        svc.update_program(
            session, merchant_id="shop", key="main", changes={"pending_days": 1}, now=now, actor="t"
        )


def test_drafts_and_programs_outside_their_dates_are_not_in_force(
    session: Session, shop: str, now: datetime
) -> None:
    """Only active programs whose start and end dates include the moment count."""
    create(session, now, key="draft")
    create(
        session,
        now,
        key="spring",
        status="active",
        starts_at=(now + timedelta(days=5)).isoformat(),
        ends_at=(now + timedelta(days=9)).isoformat(),
    )
    assert programs_in_force(session, merchant_id="shop", at=now) == []
    inside = programs_in_force(session, merchant_id="shop", at=now + timedelta(days=6))
    assert [d.key for d in inside] == ["spring"]
    assert programs_in_force(session, merchant_id="shop", at=now + timedelta(days=9)) == []


def test_loading_programs_in_force_is_one_query(session: Session, shop: str, now: datetime) -> None:
    """Five programs with several versions each load in a single SELECT; versions not
    parsed yet have their settings read in one more, the first time only."""
    for index in range(5):
        create(session, now, key=f"p{index}", status="active")
        for step in range(3):
            svc.update_program(
                session,
                merchant_id="shop",
                key=f"p{index}",
                changes={"pending_days": step + 1},
                now=now + timedelta(hours=step + 1),
                actor="t",
            )
    session.commit()
    statements: list[str] = []
    engine = session.get_bind()
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    selects = lambda: len([s for s in statements if s.lstrip().upper().startswith("SELECT")])  # noqa: E731
    try:
        loaded = programs_in_force(session, merchant_id="shop", at=now + timedelta(days=1))
        assert selects() <= 2
        session.expire_all()
        statements.clear()
        again = programs_in_force(session, merchant_id="shop", at=now + timedelta(days=1))
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert [d.version for d in loaded] == [4] * 5
    assert again == loaded
    assert selects() == 1


def test_validation_errors_name_every_field_at_fault(
    session: Session, shop: str, now: datetime
) -> None:
    """Bad settings are refused with their paths; nothing is created."""
    with pytest.raises(InvalidProgram) as caught:
        create(
            session,
            now,
            key="Bad Key",
            rules=[{"kind": "per_amount", "points": 1.5, "per": "0"}, {"kind": "teleport"}],
            earning={"rounding": "sideways"},
        )
    assert set(caught.value.fields) == {
        "key",
        "rules.0.points",
        "rules.0.per",
        "rules.1.kind",
        "earning.rounding",
    }
    assert "not a float" in caught.value.fields["rules.0.points"][0]
    session.rollback()
    assert svc.list_programs(session, "shop") == []


def test_expiry_and_redemption_fields_a_program_never_uses_are_refused(
    session: Session, shop: str, now: datetime
) -> None:
    """A program's expiry.reminder_days (and other fields it would ignore) is refused with
    its path and where the setting belongs; the fields it uses are kept."""
    with pytest.raises(InvalidProgram) as caught:
        create(
            session,
            now,
            expiry={"kind": "days_after_earning", "days": 30, "reminder_days": [7], "dayz": 3},
            redemption={"point_value": "0.01", "max_share": "50"},
        )
    fields = caught.value.fields
    assert set(fields) == {"expiry.reminder_days", "expiry.dayz", "redemption.max_share"}
    assert "reminders.points_expiring_days" in fields["expiry.reminder_days"][0]
    assert "loyalty expiry set --reminders" in fields["expiry.reminder_days"][0]
    assert fields["expiry.dayz"] == ["unknown field"]
    assert "PATCH /settings" in fields["redemption.max_share"][0]
    session.rollback()
    with pytest.raises(InvalidProgram) as caught:
        create(session, now, expiry={"inactivity_months": 6}, redemption={"point_value": "0"})
    assert set(caught.value.fields) == {"expiry.inactivity_months", "redemption.point_value"}
    session.rollback()
    program = create(
        session,
        now,
        expiry={"kind": "days_after_earning", "days": 30},
        redemption={"point_value": "0.01"},
    )
    settings = svc.latest_version(program).settings
    assert settings["expiry"] == {"kind": "days_after_earning", "days": 30}
    assert settings["redemption"] == {"point_value": "0.01"}


def test_level_fields_no_rule_reads_are_refused(session: Session, shop: str, now: datetime) -> None:
    """A level field no rule reads (``colour``, a misspelling) is refused with its path."""
    levels = {
        "measure": "points",
        "tiers": [
            {"key": "bronze", "threshold": "0"},
            {
                "key": "gold",
                "threshold": "500",
                "colour": "#d4af37",
                "discounts": [{"percent": "5", "on": "x"}],
            },
        ],
    }
    with pytest.raises(InvalidProgram) as caught:
        create(session, now, levels=levels)
    assert caught.value.fields == {
        "levels.tiers.1.colour": ["unknown field"],
        "levels.tiers.1.discounts.0.on": ["unknown field"],
    }


def test_duplicate_rule_ids_and_keys_are_refused(
    session: Session, shop: str, now: datetime
) -> None:
    """Two rules of one kind need their own ids; a key is taken once."""
    with pytest.raises(InvalidProgram, match="already the id"):
        create(session, now, rules=[TEN, TEN])
    create(session, now)
    with pytest.raises(InvalidOperation, match="already exists"):
        create(session, now)


def document(*programs: dict[str, Any]) -> dict[str, Any]:
    return {"format": FILE_FORMAT, "programs": list(programs)}


def test_import_creates_then_export_round_trips_and_a_second_import_changes_nothing(
    session: Session, shop: str, now: datetime
) -> None:
    """The declarative file is idempotent: importing an export back is a no-op."""
    file = document(
        {"key": "main", "name": "Main", "status": "active", "rules": [TEN]},
        {"key": "vip", "name": "VIP", "rules": [{"kind": "per_order", "points": 5}]},
    )
    first = svc.import_programs(session, merchant_id="shop", document=file, now=now, actor="cli")
    assert first.created == ["main", "vip"]
    exported = json.loads(json.dumps(svc.export_programs(session, merchant_id="shop")))
    assert [(p["key"], p["status"]) for p in exported["programs"]] == [
        ("main", "active"),
        ("vip", "draft"),
    ]
    later = now + timedelta(days=1)
    again = svc.import_programs(
        session, merchant_id="shop", document=exported, now=later, actor="cli"
    )
    assert again.to_dict() == {
        "created": [],
        "changed": [],
        "unchanged": ["main", "vip"],
        "activated": [],
        "archived": [],
        "paused": [],
    }
    versions = session.scalars(select(ProgramVersion)).all()
    assert len(versions) == 2


def test_an_edited_export_makes_a_version_from_now_and_moves_statuses(
    session: Session, shop: str, now: datetime
) -> None:
    """Changing a rule in the exported file versions it from the import; statuses follow."""
    svc.import_programs(
        session,
        merchant_id="shop",
        document=document(
            {"key": "main", "name": "Main", "status": "active", "rules": [TEN]},
            {"key": "vip", "name": "VIP", "rules": [TEN]},
        ),
        now=now,
        actor="cli",
    )
    exported = svc.export_programs(session, merchant_id="shop")
    exported["programs"][0]["rules"][0]["points"] = "3"
    exported["programs"][1]["status"] = "active"
    later = now + timedelta(days=2)
    report = svc.import_programs(
        session, merchant_id="shop", document=exported, now=later, actor="cli"
    )
    assert (report.changed, report.activated) == (["main"], ["vip"])
    main = svc.latest_version(svc.get_program(session, "shop", "main"))
    assert (main.number, main.effective_from) == (2, later)


def test_an_invalid_file_changes_nothing_and_lists_every_error(
    session: Session, shop: str, now: datetime
) -> None:
    """All or nothing: a file with one bad program imports none of them."""
    file = document(
        {"key": "good", "name": "Good", "rules": [TEN]},
        {"key": "bad", "name": "Bad", "pending_days": -1},
        {"key": "good", "name": "Twice"},
    )
    with pytest.raises(InvalidProgram) as caught:
        svc.import_programs(session, merchant_id="shop", document=file, now=now, actor="cli")
    assert set(caught.value.fields) == {"programs.1.pending_days", "programs.2.key"}
    with pytest.raises(InvalidProgram, match="format"):
        svc.import_programs(
            session, merchant_id="shop", document={"programs": []}, now=now, actor="cli"
        )
    assert svc.list_programs(session, "shop") == []


def test_unknown_programs_are_not_found(session: Session, shop: str) -> None:
    """A missing key is a NotFound naming it."""
    with pytest.raises(NotFound, match="'nope'"):
        svc.get_program(session, "shop", "nope")


def test_exchange_rates_apply_from_their_date(session: Session, shop: str, now: datetime) -> None:
    """The rate in force at the invoice date converts; a missing rate is a clear error."""
    svc.set_exchange_rate(
        session, merchant_id="shop", currency="usd", rate=Decimal("0.9"), valid_from=now
    )
    svc.set_exchange_rate(
        session,
        merchant_id="shop",
        currency="USD",
        rate=Decimal("0.8"),
        valid_from=now + timedelta(days=30),
    )
    merchant = session.get(Merchant, "shop")
    book = RateBook(session, merchant, now + timedelta(days=1))
    conversion = book.conversion(invoice_currency="USD", program_currency="EUR", event_rate=None)
    assert (conversion.rate, conversion.source) == (Decimal("0.9"), "rates table")
    sent = book.conversion(
        invoice_currency="USD", program_currency="EUR", event_rate=Decimal("0.95")
    )
    assert (sent.rate, sent.source) == (Decimal("0.95"), "invoice exchange_rate")
    with pytest.raises(ValidationError, match="no exchange rate from GBP"):
        book.conversion(invoice_currency="GBP", program_currency="EUR", event_rate=None)


def test_a_parsed_version_is_not_reused_for_another_program_with_the_same_version_id(
    session: Session, shop: str, now: datetime
) -> None:
    """The parsed-version cache tells programs apart even when a version id comes back.

    MariaDB's TRUNCATE (and an InnoDB counter reset) hands out ids again: a cached version
    of another program with the same id, settings and name must not lend it its program id.
    """
    from loyalty_plugin.models import Program
    from loyalty_plugin.services.earning.rule_engine import definition_of

    program = create(session, now)
    version = session.scalars(
        select(ProgramVersion).where(ProgramVersion.program_id == program.id)
    ).one()
    assert definition_of(program, version).program_id == program.id
    other = Program(id=program.id + 1000, key=program.key, name=program.name)
    same_id = ProgramVersion(
        id=version.id,
        number=version.number,
        settings=version.settings,
        settings_hash=version.settings_hash,
    )
    assert definition_of(other, same_id).program_id == program.id + 1000
