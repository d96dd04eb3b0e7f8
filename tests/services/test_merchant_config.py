"""A merchant's whole configuration in one document: export, import, diff, errors by path."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from loyalty_plugin.cli import main
from loyalty_plugin.domain.coupons import CouponKind, CouponValue
from loyalty_plugin.domain.expiry import ExpiryKind, ExpiryPolicy
from loyalty_plugin.domain.notifications import Message, NotificationPrefs
from loyalty_plugin.schemas.config import CONFIG_FORMAT, InvalidConfig
from loyalty_plugin.services.earning import programs
from loyalty_plugin.services.ledger.expiry import expiry_policy, set_expiry_policy
from loyalty_plugin.services.merchants import registration as merchants
from loyalty_plugin.services.merchants.config import (
    diff_documents,
    export_config,
    import_config,
)
from loyalty_plugin.services.messaging import email_templates
from loyalty_plugin.services.messaging.notifications import (
    notification_prefs,
    set_notification_prefs,
)
from loyalty_plugin.services.spending import rewards, settings

PROGRAM = {
    "key": "main",
    "name": "Points on every purchase",
    "status": "active",
    "rules": [
        {"id": "base", "kind": "per_amount", "points": "1", "per": "10.00"},
        {"id": "welcome", "kind": "registration", "points": 50},
    ],
    "expiry": {"kind": "days_after_earning", "days": 400},
    "levels": {
        "measure": "points",
        "period": "rolling",
        "days": 365,
        "tiers": [
            {"key": "bronze", "name": "Bronze", "threshold": "0"},
            {"key": "gold", "name": "Gold", "threshold": "500", "multiplier": "1.5"},
        ],
    },
}


def merchant(session: Session, merchant_id: str) -> str:
    merchants.create_merchant(session, merchant_id=merchant_id, name=merchant_id, currency="EUR")
    session.flush()
    return merchant_id


def configure_staging(session: Session, now: datetime) -> str:
    """A merchant set up through each service, as an integrator would by hand."""
    shop = merchant(session, "staging")
    actor = "staff"
    settings.update_settings(
        session,
        merchant_id=shop,
        changes={
            "conversion_points": 50,
            "conversion_amount": Decimal("1.5"),
            "max_invoice_share": Decimal("40"),
            "max_points_per_invoice": 5000,
            "coupon_packages": [{"points": 500, "amount": "5.00"}],
            "coupon_valid_days": 30,
        },
        now=now,
        actor=actor,
    )
    set_expiry_policy(
        session,
        merchant_id=shop,
        policy=ExpiryPolicy(
            kind=ExpiryKind.END_OF_YEAR, extra_months=3, inactivity_months=18, reminder_days=(60,)
        ),
        now=now,
        actor=actor,
    )
    set_notification_prefs(
        session,
        merchant_id=shop,
        prefs=NotificationPrefs(
            disabled=frozenset({Message.BIRTHDAY}),
            coupon_reminder_days=3,
            locale="de_DE",
            reply_to="service@shop.example",
        ),
        now=now,
        actor=actor,
    )
    welcome, _ = email_templates.template_sources(session, merchant_id=shop, name="welcome")
    email_templates.save_template(
        session,
        merchant_id=shop,
        name="welcome",
        subject="Willkommen!",
        body_text=welcome.body_text,
        body_html=welcome.body_html,
        now=now,
        actor=actor,
    )
    programs.create_program(session, merchant_id=shop, definition=PROGRAM, now=now, actor=actor)
    rewards.create_reward(
        session,
        merchant_id=shop,
        name="Free coffee",
        points=300,
        value=CouponValue(kind=CouponKind.PRODUCT, product_ids=("coffee",)),
        now=now,
        stock=100,
    )
    old = rewards.create_reward(
        session,
        merchant_id=shop,
        name="Tote bag",
        points=900,
        value=CouponValue(kind=CouponKind.AMOUNT, amount=Decimal("12.00"), currency="EUR"),
        now=now,
    )
    rewards.update_reward(
        session, merchant_id=shop, reward_id=old.id, changes={"active": False}, now=now
    )
    session.flush()
    return shop


def test_staging_exported_into_production_reproduces_it_and_then_diff_is_empty(
    session: Session, now: datetime
) -> None:
    """Export from staging, import into a new production merchant: the two exports agree,
    every section came across, and a diff against the same file is empty."""
    staging = configure_staging(session, now)
    production = merchant(session, "production")
    document = export_config(session, merchant_id=staging)
    assert document["format"] == CONFIG_FORMAT
    changes = import_config(
        session, merchant_id=production, document=document, now=now, actor="deploy"
    )
    assert {c.path.split(".")[0].split("[")[0] for c in changes} == {
        "settings",
        "expiry",
        "reminders",
        "emails",
        "programs",
        "rewards",
    }
    session.commit()
    copied = export_config(session, merchant_id=production)
    assert copied == {**document, "merchant": production}
    dry = {"document": document, "now": now, "actor": "x", "dry_run": True}
    assert import_config(session, merchant_id=production, **dry) == []
    assert settings.merchant_settings(session, production).conversion_amount == Decimal("1.50")
    assert expiry_policy(session, production).reminder_days == (60,)
    prefs = notification_prefs(session, production)
    assert (prefs.enabled(Message.BIRTHDAY), prefs.locale, prefs.coupon_reminder_days) == (
        False,
        "de_DE",
        3,
    )
    edit, edited = email_templates.template_sources(session, merchant_id=production, name="welcome")
    assert (edited, edit.subject) == (True, "Willkommen!")
    program = programs.get_program(session, production, "main")
    assert programs.latest_version(program).settings["levels"]["tiers"][1]["key"] == "gold"
    again = import_config(session, merchant_id=production, document=document, now=now, actor="x")
    assert again == []


def test_every_setting_of_every_service_is_in_the_document(session: Session) -> None:
    """The settings section holds each editable setting, the e-mail switches each message,
    so a setting added later cannot be left out of the file by accident."""
    document = export_config(session, merchant_id=merchant(session, "shop"))
    assert set(document["settings"]) == settings.EDITABLE
    assert set(document["emails"]["switches"]) == {m.value for m in Message}
    assert set(document) == {
        "format",
        "merchant",
        "settings",
        "expiry",
        "reminders",
        "emails",
        "programs",
        "rewards",
    }


def test_errors_name_their_path_and_all_are_reported_at_once(
    session: Session, now: datetime
) -> None:
    """One refusal lists every problem by its path; a program's expiry.reminder_days is
    refused with a pointer to the merchant's reminders."""
    shop = merchant(session, "shop")
    bad_program = copy.deepcopy(PROGRAM)
    bad_program["rules"].append({"id": "x", "kind": "per_amount", "points": 1.5, "per": "10"})
    bad_program["expiry"]["reminder_days"] = [14]
    document = {
        "format": CONFIG_FORMAT,
        "settings": {"max_invoice_share": "-1", "colour": "red"},
        "reminders": {"points_expiring_days": [0]},
        "emails": {"locale": "xx_XX", "templates": {"welcome": {"subject": "Hi"}}},
        "programs": [bad_program],
        "rewards": [
            {"name": "Coffee", "points": 300, "kind": "product", "product_ids": ["c"]},
            {"name": "Coffee", "points": 0, "kind": "product", "product_ids": ["c"]},
        ],
    }
    with pytest.raises(InvalidConfig) as caught:
        import_config(session, merchant_id=shop, document=document, now=now, actor="x")
    fields = caught.value.fields
    assert set(fields) == {
        "settings.max_invoice_share",
        "settings.colour",
        "reminders.points_expiring_days[0]",
        "emails.locale",
        "emails.templates.welcome.body_text",
        "emails.templates.welcome.body_html",
        "programs[0].rules[2].points",
        "programs[0].expiry.reminder_days",
        "rewards[1].points",
        "rewards[1].name",
    }
    assert "reminders.points_expiring_days" in fields["programs[0].expiry.reminder_days"][0]


def test_a_refused_part_changes_nothing_anywhere(app: Flask, tmp_path: Path) -> None:
    """A template the sandbox refuses fails the whole import, in one transaction: the
    settings before it in the file are not changed either."""
    runner = app.test_cli_runner()
    assert runner.invoke(main, ["merchants", "create", "shop", "--name", "Shop"]).exit_code == 0
    exported = runner.invoke(main, ["config", "export", "--merchant", "shop"])
    assert exported.exit_code == 0, exported.output
    document = json.loads(exported.output)
    document["settings"]["conversion_amount"] = "9.00"
    document["emails"]["templates"] = {
        "welcome": {"subject": "Hi", "body_text": "{{ customer.__class__ }}", "body_html": "x"}
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(document))
    refused = runner.invoke(main, ["config", "import", str(path), "--merchant", "shop"])
    assert refused.exit_code == 1
    assert "nothing changed" in refused.output
    assert "emails.templates.welcome.body_text: body text, line 1" in refused.output
    after = json.loads(runner.invoke(main, ["config", "export", "--merchant", "shop"]).output)
    assert after["settings"]["conversion_amount"] == "1.00"
    assert after["emails"]["templates"] == {}


HOSTILE_FILES = {
    "not UTF-8": (b"\xff\xfe{}", "is not JSON: the body is not UTF-8"),
    "nested too deep": (b"[" * 5000 + b"]" * 5000, "more than 32 levels deep"),
    "a 5,000-digit number": (b'{"settings": {"conversion_points": ' + b"9" * 5000 + b"}}", ""),
    "NUL in a text": (
        b'{"format": "loyalty-config/1", "emails": {"templates": {"welcome": '
        b'{"subject": "Hi\\u0000", "body_text": "x", "body_html": "x"}}}}',
        "emails.templates.welcome.subject: must not contain NUL characters",
    ),
}


@pytest.mark.parametrize("name", HOSTILE_FILES)
@pytest.mark.parametrize(
    "command", [["config", "import"], ["config", "diff"], ["programs", "import"]]
)
def test_a_hostile_file_is_a_clear_error_not_a_traceback(
    app: Flask, tmp_path: Path, command: list[str], name: str
) -> None:
    """A file read as the API reads a body: not UTF-8, nested too deep, a huge number or a
    NUL (which PostgreSQL refuses and MariaDB stores) is a one-line error, nothing written."""
    runner = app.test_cli_runner()
    assert runner.invoke(main, ["merchants", "create", "shop", "--name", "Shop"]).exit_code == 0
    content, message = HOSTILE_FILES[name]
    path = tmp_path / "hostile.json"
    path.write_bytes(content)
    result = runner.invoke(main, [*command, str(path), "--merchant", "shop"])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Error:" in result.output
    assert message in result.output


@pytest.mark.parametrize("group", ["config", "programs"])
def test_export_of_an_unknown_merchant_names_the_option(app: Flask, group: str) -> None:
    """`config export` and `programs export` share one writer: an unknown merchant is exit 2
    naming merchant_id, and non-ASCII text is written as UTF-8, not \\u escapes."""
    runner = app.test_cli_runner()
    missing = runner.invoke(main, [group, "export", "--merchant", "nope"])
    assert missing.exit_code == 2
    assert "Invalid value for merchant_id: merchant 'nope' does not exist" in missing.output
    created = runner.invoke(main, ["merchants", "create", "shop", "--name", "Café Ölü"])
    assert created.exit_code == 0, created.output
    program = {
        "key": "main",
        "name": "Kävijä",
        "rules": [{"kind": "per_amount", "points": "1", "per": "10"}],
    }
    document = {"format": "loyalty-programs/1", "programs": [program]}
    imported = runner.invoke(
        main, ["programs", "import", "-", "--merchant", "shop"], input=json.dumps(document)
    )
    assert imported.exit_code == 0, imported.output
    exported = runner.invoke(main, [group, "export", "--merchant", "shop"])
    assert exported.exit_code == 0, exported.output
    assert '"Kävijä"' in exported.output


def test_diff_shows_what_import_would_change_and_writes_nothing(app: Flask, tmp_path: Path) -> None:
    """`config diff` lists each change by path (exit 1 with --exit-code); the merchant is
    unchanged until `config import`, after which the diff is empty."""
    runner = app.test_cli_runner()
    runner.invoke(main, ["merchants", "create", "shop", "--name", "Shop"])
    document = json.loads(runner.invoke(main, ["config", "export", "--merchant", "shop"]).output)
    document["settings"]["conversion_amount"] = "2.50"
    document["reminders"]["points_expiring_days"] = [14]
    document["programs"] = [PROGRAM]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(document))
    diff = runner.invoke(main, ["config", "diff", str(path), "--merchant", "shop", "--json"])
    assert diff.exit_code == 0, diff.output
    changes = {c["path"]: c for c in json.loads(diff.output)}
    assert changes["settings.conversion_amount"]["after"] == "2.50"
    assert changes["reminders.points_expiring_days"] == {
        "path": "reminders.points_expiring_days",
        "kind": "changed",
        "before": [30, 7],
        "after": [14],
    }
    assert changes["programs[main]"]["kind"] == "added"
    strict = runner.invoke(main, ["config", "diff", str(path), "--merchant", "shop", "--exit-code"])
    assert strict.exit_code == 1
    assert '~ settings.conversion_amount: "1.00" -> "2.50"' in strict.output
    unchanged = json.loads(runner.invoke(main, ["config", "export", "--merchant", "shop"]).output)
    assert unchanged["settings"]["conversion_amount"] == "1.00"
    assert [p["key"] for p in unchanged["programs"]] == ["default"]  # every merchant's
    imported = runner.invoke(main, ["config", "import", str(path), "--merchant", "shop"])
    assert imported.exit_code == 0, imported.output
    assert "+ programs[main]" in imported.output
    empty = runner.invoke(main, ["config", "diff", str(path), "--merchant", "shop", "--exit-code"])
    assert (empty.exit_code, empty.output.strip()) == (0, "no differences")


def test_sections_left_out_stay_and_listed_sections_are_the_whole_truth(
    session: Session, now: datetime
) -> None:
    """A section left out is left as it is; in a section given, programs and rewards the
    file leaves out are archived or withdrawn, and unlisted template edits are reset."""
    shop = configure_staging(session, now)
    before = export_config(session, merchant_id=shop)
    only = {"format": CONFIG_FORMAT, "settings": before["settings"]}
    assert import_config(session, merchant_id=shop, document=only, now=now, actor="x") == []
    emptied = {
        "format": CONFIG_FORMAT,
        "programs": [],
        "rewards": [],
        "emails": {**before["emails"], "templates": {}},
    }
    changes = {
        c.path: (c.before, c.after)
        for c in import_config(session, merchant_id=shop, document=emptied, now=now, actor="x")
    }
    assert changes["programs[main].status"] == ("active", "archived")
    assert changes["rewards[Free coffee].active"] == (True, False)
    assert "emails.templates.welcome" in changes
    after = export_config(session, merchant_id=shop)
    assert (after["settings"], after["expiry"]) == (before["settings"], before["expiry"])
    with pytest.raises(InvalidConfig) as caught:
        import_config(session, merchant_id=shop, document=before, now=now, actor="x")
    assert "is archived for this merchant" in caught.value.fields["programs[0].status"][0]


def test_a_rewards_value_cannot_change_under_the_same_name(session: Session, now: datetime) -> None:
    """Changing what a reward gives is refused at its path; its price and stock change."""
    shop = configure_staging(session, now)
    document = export_config(session, merchant_id=shop)
    document["rewards"][0] |= {"points": 250, "stock": 10}
    changes = import_config(session, merchant_id=shop, document=document, now=now, actor="x")
    assert {c.path for c in changes} == {
        "rewards[Free coffee].points",
        "rewards[Free coffee].stock",
    }
    document["rewards"][0]["product_ids"] = ["tea"]
    with pytest.raises(InvalidConfig) as caught:
        import_config(session, merchant_id=shop, document=document, now=now, actor="x")
    assert "cannot change" in caught.value.fields["rewards[0].kind"][0]


def test_diff_matches_list_items_by_key() -> None:
    """Programs, rules and tiers are compared by key or id, not by position."""
    before: dict[str, Any] = {"programs": [{"key": "a", "rules": [{"id": "x", "points": 1}]}]}
    after = {
        "programs": [
            {"key": "b"},
            {"key": "a", "rules": [{"id": "y", "points": 2}, {"id": "x", "points": 3}]},
        ]
    }
    assert [(c.path, c.kind) for c in diff_documents(before, after)] == [
        ("programs[a].rules[x].points", "changed"),
        ("programs[a].rules[y]", "added"),
        ("programs[b]", "added"),
    ]


def test_decimals_are_written_alike_on_every_database() -> None:
    """PostgreSQL's 2.5000 and SQLite's 2.5 are both written 2.50; finer values stay."""
    from loyalty_plugin.services.merchants.config import decimal_text

    assert [decimal_text(v) for v in ("2.5000", "2.5", "100", "0.0125", "1E+2")] == [
        "2.50",
        "2.50",
        "100.00",
        "0.0125",
        "100.00",
    ]
