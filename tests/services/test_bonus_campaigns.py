# ruff: noqa: F811 - the fixtures imported below are taken as arguments
"""Bonus campaigns with budgets (#18) end to end: campaigns set up through the API and the
program file, invoices sent as signed webhooks inside and outside their window, points,
budgets and breakdowns read back."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty_plugin.models import BonusCampaign
from loyalty_plugin.services.ledger.integrity import verify_ledger
from tests.services.test_earning_rules_webhooks import (  # noqa: F401 - fixtures
    API,
    Host,
    db,
    host,
    paid,
)
from tests.services.test_segmented_earning import send_at

SINCE = "2026-01-01T00:00:00+00:00"
#: Saturday 2026-06-06 12:00 UTC, inside the weekend campaign below.
DURING = "2026-06-06T12:00:00+00:00"
#: 3x on Shoes (and their child categories) for the weekend of 6-7 June 2026.
SHOES_WEEKEND = {
    "key": "shoes-weekend",
    "name": "3x on Shoes",
    "starts_at": "2026-06-06T00:00:00+00:00",
    "ends_at": "2026-06-08T00:00:00+00:00",
    "multiplier": "3",
    "conditions": {"what": {"categories": ["shoes"]}},
}
CATEGORIES = {"boots": "shoes", "shoes": None, "socks": None}


def admin(host: Host, method: str, path: str, body: Any = None) -> Any:
    """An admin-key API call; the raw answer (status and JSON)."""
    headers = {"Authorization": f"Bearer {host.keys['shop:admin']}"}
    return host.client.open(API + path, method=method, json=body, headers=headers)


def campaign(host: Host, **changes: Any) -> dict[str, Any]:
    answer = admin(host, "POST", "/bonus-campaigns", SHOES_WEEKEND | changes)
    assert answer.status_code == 201, answer.json
    return answer.json


def shoes_invoice(invoice_id: str, customer: str = "c1") -> dict[str, Any]:
    """100.00 of boots (a child of Shoes) and 50.00 of socks: 15 points at 1 per 10."""
    data = paid(
        invoice_id,
        "150.00",
        {"id": "L1", "qty": 1, "total": "100.00", "category_id": "boots"},
        {"id": "L2", "qty": 1, "total": "50.00", "category_id": "socks"},
    )
    data["invoice"]["customer"] = {"id": customer, "first_name": customer}
    return data


@pytest.fixture
def shop(host: Host) -> Host:
    """``shop`` with one active program: 1 point per 10.00, categories known."""
    host.program(effective_from=SINCE, categories=CATEGORIES)
    return host


def test_campaigns_are_created_listed_changed_and_ended_through_the_api(shop: Host) -> None:
    """Create, list, get, change and end; an ended campaign cannot change."""
    later = {"starts_at": "2030-06-06T00:00:00+00:00", "ends_at": "2030-06-08T00:00:00+00:00"}
    created = campaign(shop, budget=100, **later)
    assert created == SHOES_WEEKEND | later | {
        "program": None,
        "points": None,
        "budget": 100,
        "budget_per_customer": None,
        "priority": 0,
        "given": 0,
        "remaining": 100,
        "status": "scheduled",
        "ended_at": None,
    }
    listed = admin(shop, "GET", "/bonus-campaigns").json["data"]
    assert [c["key"] for c in listed] == ["shoes-weekend"]
    changed = admin(shop, "PATCH", "/bonus-campaigns/shoes-weekend", {"points": 25})
    assert changed.status_code == 200, changed.json
    assert (changed.json["points"], changed.json["multiplier"]) == (25, None)
    ended = admin(shop, "POST", "/bonus-campaigns/shoes-weekend/end")
    assert ended.status_code == 200, ended.json
    assert ended.json["status"] == "ended"
    again = admin(shop, "PATCH", "/bonus-campaigns/shoes-weekend", {"priority": 2})
    assert (again.status_code, again.json["error"]["code"]) == (409, "invalid_operation")
    missing = admin(shop, "GET", "/bonus-campaigns/nope")
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"points": 10}, "multiplier"),  # both a multiplier and points
        ({"ends_at": "2026-06-05T00:00:00+00:00"}, "ends_at"),
        ({"multiplier": "1"}, "multiplier"),
        ({"budget": 0}, "budget"),
        ({"budget": 10, "budget_per_customer": 20}, "budget_per_customer"),
        ({"conditions": {"when": {"weekdays": ["someday"]}}}, "conditions.when.weekdays.0"),
        ({"key": "Not A Key"}, "key"),
        ({"spend": 1}, "spend"),
        # Before: a budget or points past a 64-bit column answered 500, and an unknown
        # program was taken (the campaign then rode on no program).
        ({"budget": 10**30}, "budget"),
        ({"points": 10**30, "multiplier": None}, "points"),
        ({"program": "nope"}, "program"),
    ],
)
def test_an_invalid_campaign_gets_422_naming_the_field(
    shop: Host, changes: dict[str, Any], field: str
) -> None:
    """Every refusal names the field at fault."""
    answer = admin(shop, "POST", "/bonus-campaigns", SHOES_WEEKEND | changes)
    assert answer.status_code == 422, answer.json
    assert answer.json["error"]["code"] == "invalid_bonus_campaign"
    assert field in answer.json["error"]["fields"]


def test_a_change_past_the_limits_or_to_an_unknown_program_gets_422(shop: Host) -> None:
    campaign(shop)
    path = f"/bonus-campaigns/{SHOES_WEEKEND['key']}"
    for changes, field in (({"budget": 10**30}, "budget"), ({"program": "nope"}, "program")):
        answer = admin(shop, "PATCH", path, changes)
        assert answer.status_code == 422, answer.json
        assert field in answer.json["error"]["fields"]


def test_a_second_campaign_with_the_same_key_is_a_conflict(shop: Host) -> None:
    campaign(shop)
    answer = admin(shop, "POST", "/bonus-campaigns", SHOES_WEEKEND)
    assert answer.status_code == 409
    assert answer.json["error"]["code"] == "invalid_operation"
    assert "already exists" in answer.json["error"]["message"]


def test_an_invoice_paid_during_the_campaign_earns_the_bonus_with_its_breakdown(
    shop: Host,
) -> None:
    """3x on Shoes: the boots' 10 points become 30 (20 more); the socks' 5 stay 5."""
    campaign(shop)
    result = send_at(shop, DURING, "invoice.paid", shoes_invoice("INV-1"))
    assert result["points_earned"] == 35
    details = shop.ledger("c1")[0]["details"]
    bonus = [item for item in details["breakdown"] if item["kind"] == "bonus_campaign"]
    assert [(b["rule"], b["points"]) for b in bonus] == [("shoes-weekend", 20)]
    assert details["bonus_campaigns"] == [
        {
            "campaign": "shoes-weekend",
            "name": "3x on Shoes",
            "wanted": 20,
            "points": 20,
            "conditions": ["what: line(s) L1"],
        }
    ]


@pytest.mark.parametrize("moment", ["2026-06-05T23:59:59+00:00", "2026-06-08T00:00:00+00:00"])
def test_an_invoice_paid_outside_the_window_earns_no_bonus(shop: Host, moment: str) -> None:
    """Before the start, and at the end (excluded): the program's points only."""
    campaign(shop)
    result = send_at(shop, moment, "invoice.paid", shoes_invoice("INV-1"))
    assert result["points_earned"] == 15
    assert "bonus_campaigns" not in shop.ledger("c1")[0]["details"]


def test_an_ended_campaign_gives_nothing(shop: Host) -> None:
    campaign(shop)
    assert admin(shop, "POST", "/bonus-campaigns/shoes-weekend/end").status_code == 200
    assert send_at(shop, DURING, "invoice.paid", shoes_invoice("INV-1"))["points_earned"] == 15


def test_the_per_customer_budget_grants_the_rest_then_says_it_is_exhausted(
    shop: Host,
) -> None:
    """30 per customer: 20, then the 10 left, then nothing; another customer starts afresh."""
    campaign(shop, budget_per_customer=30)
    earned = [
        send_at(shop, DURING, "invoice.paid", shoes_invoice(f"INV-{n}"))["points_earned"]
        for n in range(3)
    ]
    assert earned == [35, 25, 15]
    third, second, _first = shop.ledger("c1")
    assert second["details"]["bonus_campaigns"][0] | {"conditions": []} == {
        "campaign": "shoes-weekend",
        "name": "3x on Shoes",
        "wanted": 20,
        "points": 10,
        "budget": "budget partly exhausted",
        "conditions": [],
    }
    assert third["details"]["bonus_campaigns"][0]["budget"] == "budget exhausted"
    assert third["details"]["bonus_campaigns"][0]["points"] == 0
    other = send_at(shop, DURING, "invoice.paid", shoes_invoice("INV-9", customer="c2"))
    assert other["points_earned"] == 35


def test_the_total_budget_is_never_passed(shop: Host, db: Session) -> None:
    """A budget of 45: 20, 20, the 5 left, then nothing, whoever the customer."""
    campaign(shop, budget=45)
    earned = [
        send_at(shop, DURING, "invoice.paid", shoes_invoice(f"INV-{n}", customer=f"c{n}"))[
            "points_earned"
        ]
        for n in range(4)
    ]
    assert earned == [35, 35, 20, 15]
    shown = admin(shop, "GET", "/bonus-campaigns/shoes-weekend").json
    assert (shown["given"], shown["remaining"]) == (45, 0)
    assert verify_ledger(db) == []


def test_a_refund_reverses_the_bonus_and_gives_no_budget_back(shop: Host, db: Session) -> None:
    """The whole invoice refunded: all 35 points go back; the budget stays spent."""
    campaign(shop, budget=45)
    send_at(shop, DURING, "invoice.paid", shoes_invoice("INV-1"))
    refund = {"invoice_id": "INV-1", "refund": {"id": "R1", "amount": "150.00"}}
    assert send_at(shop, DURING, "invoice.refunded", refund)["points_reversed"] == 35
    assert shop.balance("c1") == 0
    assert admin(shop, "GET", "/bonus-campaigns/shoes-weekend").json["given"] == 20
    assert verify_ledger(db) == []


def test_fixed_points_ride_on_the_named_program_and_stack_by_priority(shop: Host) -> None:
    """+50 for the VIP group on the main program, with the 3x campaign: both count."""
    campaign(shop, priority=1)
    campaign(
        shop,
        key="vip-bonus",
        name="VIP +50",
        multiplier=None,
        points=50,
        program="main",
        conditions={"who": {"groups": ["vip"]}},
    )
    data = shoes_invoice("INV-1")
    data["invoice"]["customer"]["groups"] = ["vip"]
    assert send_at(shop, DURING, "invoice.paid", data)["points_earned"] == 85
    shown = shop.ledger("c1")[0]["details"]["bonus_campaigns"]
    assert [(c["campaign"], c["points"]) for c in shown] == [
        ("shoes-weekend", 20),
        ("vip-bonus", 50),
    ]


def test_campaigns_travel_in_the_program_file(shop: Host, db: Session) -> None:
    """Exported with the programs, imported back unchanged; an edited one changes."""
    campaign(shop, budget=100)
    from loyalty_plugin.services.earning import programs as svc

    exported = svc.export_programs(db, merchant_id="shop")
    assert [c["key"] for c in exported["bonus_campaigns"]] == ["shoes-weekend"]
    assert "given" not in exported["bonus_campaigns"][0]
    report = svc.import_programs(db, merchant_id="shop", document=exported, now=_now(), actor="cli")
    assert report.to_dict()["bonus_campaigns"]["unchanged"] == ["shoes-weekend"]
    exported["bonus_campaigns"][0]["budget"] = 200
    exported["bonus_campaigns"].append(SHOES_WEEKEND | {"key": "second", "priority": 3})
    report = svc.import_programs(db, merchant_id="shop", document=exported, now=_now(), actor="cli")
    db.commit()
    assert report.to_dict()["bonus_campaigns"] == {
        "created": ["second"],
        "changed": ["shoes-weekend"],
        "unchanged": [],
    }
    assert (
        db.scalar(select(BonusCampaign.budget).where(BonusCampaign.key == "shoes-weekend")) == 200
    )


def test_a_bad_campaign_in_the_program_file_names_its_path(shop: Host, db: Session) -> None:
    from loyalty_plugin.schemas.bonus_campaigns import InvalidBonusCampaign
    from loyalty_plugin.services.earning import programs as svc

    document = svc.export_programs(db, merchant_id="shop")
    document["bonus_campaigns"] = [SHOES_WEEKEND | {"multiplier": "0.5"}]
    with pytest.raises(InvalidBonusCampaign) as refused:
        svc.import_programs(db, merchant_id="shop", document=document, now=_now(), actor="cli")
    assert "bonus_campaigns.0.multiplier" in refused.value.fields
    db.rollback()


def _now() -> Any:
    from loyalty_plugin.models.base import utcnow

    return utcnow()


def test_the_cli_imports_and_exports_campaigns_with_the_programs(
    app: Any, shop: Host, tmp_path: Any
) -> None:
    """`loyalty programs export` writes them; `import` says what it did with them."""
    import json

    from loyalty_plugin.cli import main

    campaign(shop)
    runner = app.test_cli_runner()
    exported = runner.invoke(main, ["programs", "export", "--merchant", "shop"])
    assert exported.exit_code == 0, exported.output
    document = json.loads(exported.output)
    document["bonus_campaigns"].append(SHOES_WEEKEND | {"key": "second"})
    path = tmp_path / "programs.json"
    path.write_text(json.dumps(document))
    imported = runner.invoke(main, ["programs", "import", str(path), "--merchant", "shop"])
    assert imported.exit_code == 0, imported.output
    assert "bonus campaigns created: second" in imported.output
    assert "bonus campaigns unchanged: shoes-weekend" in imported.output


def test_a_win_back_campaign_reads_the_last_purchase_itself(shop: Host) -> None:
    """No rule needs the last purchase; the campaign's ``inactive_days`` still reads it."""
    campaign(
        shop, key="win-back", multiplier=None, points=40,
        conditions={"who": {"inactive_days": 90}},
    )  # fmt: skip
    first = send_at(shop, "2026-01-10T12:00:00+00:00", "invoice.paid", shoes_invoice("INV-0"))
    assert first["points_earned"] == 15
    assert send_at(shop, DURING, "invoice.paid", shoes_invoice("INV-1"))["points_earned"] == 55
    shown = shop.ledger("c1")[0]["details"]["bonus_campaigns"][0]
    assert shown["conditions"][0].startswith("who.inactive_days: last purchase 147 day(s)")


def test_a_simulation_applies_campaigns_without_charging_their_budgets(
    app: Any, shop: Host, db: Session, tmp_path: Any
) -> None:
    """`loyalty programs simulate` adds a campaign's bonus as earning would, charges no
    budget, and says when the budget left would have limited it (#18)."""
    import json

    from loyalty_plugin.cli import main

    campaign(shop, budget=25, budget_per_customer=20)
    campaign(shop, key="later", starts_at="2030-01-01T00:00:00+00:00",
             ends_at="2030-01-02T00:00:00+00:00")  # fmt: skip
    rows = [
        {"type": "invoice.paid", "occurred_at": DURING, "data": shoes_invoice(str(n), f"c{n}")}
        for n in (1, 2)
    ]
    invoices = tmp_path / "invoices.jsonl"
    invoices.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    runner = app.test_cli_runner()
    result = runner.invoke(
        main, ["programs", "simulate", "main", "--merchant", "shop", "--invoices", str(invoices),
               "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    # 15 points each, and 3x on the 10 of boots: 20 more each (2 x 20 = 40 > 25 left).
    assert report["total"]["points"] == 2 * (15 + 20)
    assert report["bonus_campaigns"] == {
        "shoes-weekend": {
            "name": "3x on Shoes", "invoices": 2, "points": 40, "budget_left": 25,
            "budget_per_customer": 20, "budget_would_limit": True, "limited_by": ["budget"],
        }
    }  # fmt: skip
    assert db.scalar(select(BonusCampaign.given).where(BonusCampaign.key == "shoes-weekend")) == 0
    text = runner.invoke(
        main, ["programs", "simulate", "main", "--merchant", "shop", "--invoices", str(invoices)]
    )
    assert (
        "bonus campaign shoes-weekend: 40 points on 2 invoice(s), budgets not charged "
        "(a budget would limit it: 25 left in its budget)" in text.output
    )


def test_the_admin_simulation_shows_a_campaign_s_points_beside_the_rules(
    shop: Host, db: Session
) -> None:
    """``compare_versions`` (Programs → Simulate) adds the campaign's bonus under its key
    and leaves its budget as the real earning left it (#18)."""
    from loyalty_plugin.services.earning.simulation import compare_versions

    campaign(shop, budget=1000)
    send_at(shop, DURING, "invoice.paid", shoes_invoice("S1"))
    given = db.scalar(select(BonusCampaign.given).where(BonusCampaign.key == "shoes-weekend"))
    result = compare_versions(db, merchant_id="shop", key="main", now=_now())
    assert result.draft.rules.get("shoes-weekend") == 20
    assert result.draft.points == 35
    assert given == 20
    assert db.scalar(select(BonusCampaign.given).where(BonusCampaign.key == "shoes-weekend")) == 20
