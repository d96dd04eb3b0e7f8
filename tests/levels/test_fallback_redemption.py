"""Fallback redemption: points redeem at the value of the level they were earned at.

Bronze has the merchant's value (1.00 per 100 points), Gold 2.00 per 100 with a 50 % cap.
The customer earns 2,000 points at Bronze (the invoice that crosses into Gold is earned
at Bronze, before the upgrade) and 150 at Gold.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from loyalty_plugin import migrations
from loyalty_plugin.models import LedgerEntry, Lot
from loyalty_plugin.services.ledger.accounts import account_for_host_customer
from loyalty_plugin.services.ledger.integrity import verify_ledger
from tests.levels.conftest import TEN, Host

SMALL = {"currency": "EUR", "total": "44.00", "items": [{"total": "44.00"}]}
LARGE = {"currency": "EUR", "total": "100.00", "items": [{"total": "100.00"}]}


def earn_at_bronze_then_gold(host: Host, redeem_at: str) -> None:
    host.program(redeem_at=redeem_at)
    host.pay("c1", "INV-1", "5000.00")  # 500 points at Bronze
    host.pay("c1", "INV-2", "15000.00")  # 1,500 at Bronze; now Gold
    host.pay("c1", "INV-3", "1000.00")  # 100 x 1.5 = 150 at Gold
    assert host.level("c1")["level"] == "gold"


def quote(host: Host, invoice: dict[str, Any]) -> dict[str, Any]:
    return host.api("POST", "/checkout/quote", {"customer_id": "c1", "invoice": invoice})


def test_each_lot_keeps_the_level_it_was_earned_at(host: Host, db: Session) -> None:
    earn_at_bronze_then_gold(host, "earning_level")
    host.api(
        "POST",
        "/adjustments",
        {"customer_id": "c1", "points": 10, "reason": "goodwill", "staff": "eva"},
        scope="write",
    )
    account = account_for_host_customer(db, "shop", "c1")
    lots = db.execute(
        select(Lot.points, Lot.level).where(Lot.account_id == account.id).order_by(Lot.id)
    ).all()
    assert [tuple(lot) for lot in lots] == [
        (500, "bronze"),
        (1500, "bronze"),
        (150, "gold"),
        (10, "gold"),
    ]


def test_points_are_valued_at_their_earning_level_in_spending_order(host: Host) -> None:
    """22.00 buys 2,000 Bronze points (20.00) and then 100 Gold points (2.00)."""
    earn_at_bronze_then_gold(host, "earning_level")
    offer = quote(host, SMALL)
    assert (offer["points"], offer["amount"], offer["bound_by"]) == (2100, "22.00", "max_share")
    assert offer["values"] == [
        {"points": 2000, "level": "bronze", "rate": "0.01"},
        {"points": 100, "level": "gold", "rate": "0.02"},
    ]
    assert offer["rate"] == "0.02"  # the current level's value, for information


def test_at_the_current_level_every_point_is_worth_gold(host: Host) -> None:
    """The same history without fallback: 22.00 is 1,100 points at 0.02."""
    earn_at_bronze_then_gold(host, "current_level")
    offer = quote(host, SMALL)
    assert (offer["points"], offer["amount"]) == (1100, "22.00")
    assert offer["values"] == [{"points": 1100, "level": "gold", "rate": "0.02"}]


@pytest.mark.parametrize(
    ("redeem_at", "amount", "values"),
    [
        (
            "earning_level",
            "8.00",
            [
                {"points": 500, "level": "bronze", "rate": "0.01"},
                {"points": 150, "level": "gold", "rate": "0.02"},
            ],
        ),
        ("current_level", "6.50", [{"points": 650, "level": "bronze", "rate": "0.01"}]),
    ],
)
def test_gold_points_keep_their_value_after_a_downgrade(
    host: Host, db: Session, redeem_at: str, amount: str, values: list[dict[str, Any]]
) -> None:
    """A refund takes the customer back to Bronze and 1,500 points away; 650 remain."""
    earn_at_bronze_then_gold(host, redeem_at)
    host.refund("INV-2", "R-1", "15000.00")
    assert host.level("c1")["level"] == "bronze"
    offer = quote(host, LARGE)
    assert (offer["points"], offer["amount"], offer["values"]) == (650, amount, values)

    held = host.api(
        "POST", "/redemptions", {"customer_id": "c1", "invoice": LARGE | {"id": "INV-9"}},
        scope="write",
    )  # fmt: skip
    assert (held["points"], held["amount"], held["values"]) == (650, amount, values)
    host.api("POST", f"/redemptions/{held['id']}/release", {}, scope="write")
    assert quote(host, LARGE)["values"] == values  # the points went back to their lots
    assert verify_ledger(db) == []


def test_a_hold_takes_exactly_the_points_the_quote_valued(host: Host, db: Session) -> None:
    earn_at_bronze_then_gold(host, "earning_level")
    body = {"customer_id": "c1", "invoice": SMALL | {"id": "INV-9"}}
    held = host.api("POST", "/redemptions", body, scope="write")
    assert (held["points"], held["amount"]) == (2100, "22.00")
    account = account_for_host_customer(db, "shop", "c1")
    left = db.execute(
        select(Lot.level, Lot.remaining).where(Lot.account_id == account.id).order_by(Lot.id)
    ).all()
    assert [tuple(lot) for lot in left] == [("bronze", 0), ("bronze", 0), ("gold", 50)]
    hold = db.get(LedgerEntry, held["hold_entry_id"])
    assert hold is not None and hold.points == -2100
    assert (
        held["values"]
        == hold.details["redemption"]["values"]
        == [
            {"points": 2000, "level": "bronze", "rate": "0.01"},
            {"points": 100, "level": "gold", "rate": "0.02"},
        ]
    )
    assert verify_ledger(db) == []


def test_an_unknown_setting_is_refused_with_its_field(host: Host) -> None:
    levels = {"tiers": [{"key": "bronze", "threshold": "0"}], "redeem_at": "best"}
    body = {"key": "main", "name": "Main", "status": "active", "rules": [TEN], "levels": levels}
    answer = host.call("POST", "/programs", body, scope="admin")
    assert answer.status_code == 422
    assert "levels.redeem_at" in str(answer.json)


def test_the_migration_gives_older_lots_the_level_their_history_says(
    host: Host, db: Session
) -> None:
    """Lots written before ``lots.level`` existed get it back from the level history."""
    earn_at_bronze_then_gold(host, "earning_level")
    host.pay("c1", "INV-4", "100.00")
    account = account_for_host_customer(db, "shop", "c1")
    recorded = levels_of_lots(db, account.id)
    db.execute(update(Lot).values(level=None))
    db.execute(migration("7c4d2e9a1b5f").BACKFILL_LEVELS)
    db.commit()
    # The first two were earned at Bronze before any history row: NULL counts as the
    # lowest level, so both value them alike.
    assert levels_of_lots(db, account.id) == [None, None, "gold", "gold"]
    assert recorded == ["bronze", "bronze", "gold", "gold"]
    assert quote(host, SMALL)["values"] == [
        {"points": 2000, "level": "bronze", "rate": "0.01"},
        {"points": 100, "level": "gold", "rate": "0.02"},
    ]


def levels_of_lots(db: Session, account_id: int) -> list[str | None]:
    return list(db.scalars(select(Lot.level).where(Lot.account_id == account_id).order_by(Lot.id)))


def migration(revision: str) -> Any:
    """The migration module of ``revision`` (its file name starts with a date)."""
    (path,) = (Path(migrations.__file__).parent / "versions").glob(f"*_{revision}_*.py")
    spec = importlib.util.spec_from_file_location(f"migration_{revision}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
