"""A merge adds the merged customer's qualifying history to the survivor's level."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy.orm import Session

from loyalty_plugin.models.base import utcnow
from tests.levels.conftest import Host
from tests.levels.test_levels import review


def merge(host: Host, merged: str, survivor: str) -> None:
    host.api("POST", f"/customers/{merged}/merge", {"into_customer_id": survivor}, scope="admin")


def test_money_of_both_records_counts_for_the_survivor(app: Flask, host: Host, db: Session) -> None:
    """12,000 + 9,000 spent on two records: silver and bronze; merged, the survivor is gold,
    and stays gold at the review."""
    host.program()
    host.pay("c1", "INV-1", "12000.00")
    host.pay("c2", "INV-2", "9000.00")
    assert (host.level("c1")["level"], host.level("c2")["level"]) == ("silver", "bronze")
    merge(host, "c2", "c1")
    level = host.level("c1")
    assert (level["level"], level["qualifying_amount"]) == ("gold", "21000.00")
    assert review(app, db, utcnow() + timedelta(days=1)) == 0
    assert host.level("c1")["level"] == "gold"


def test_points_of_both_records_count_when_levels_measure_points(host: Host) -> None:
    """Levels measured in points: 1,200 + 900 earned on two records reach 2,000 together."""
    tiers = [
        {"key": "bronze", "name": "Bronze", "threshold": "0"},
        {"key": "silver", "name": "Silver", "threshold": "1000"},
        {"key": "gold", "name": "Gold", "threshold": "2000"},
    ]
    host.api(
        "POST", "/programs",
        {"key": "main", "name": "Main", "status": "active", "rules": [
            {"kind": "per_amount", "points": "1", "per": "10"}],
         "levels": {"tiers": tiers, "measure": "points"}},
        scope="admin",
    )  # fmt: skip
    host.pay("c1", "INV-1", "12000.00")
    host.pay("c2", "INV-2", "9000.00")
    assert (host.level("c1")["level"], host.level("c2")["level"]) == ("silver", "bronze")
    merge(host, "c2", "c1")
    assert host.level("c1")["level"] == "gold"
    # c2's invoice refunded after the merge: its points leave c1's qualifying amount too.
    host.refund("INV-2", "R1", "9000.00")
    assert host.level("c1")["level"] == "silver"


def test_a_given_level_of_the_merged_record_is_carried_over(host: Host) -> None:
    """c2 was given gold until a date; merged into bronze c1, c1 holds gold until then."""
    host.program()
    host.pay("c1", "INV-1", "50.00")
    host.send("customer.created", {"customer": {"id": "c2", "first_name": "Ana"}})
    until = (utcnow() + timedelta(days=10)).isoformat()
    body = {"level": "gold", "until": until, "reason": "press"}
    host.api("POST", "/customers/c2/levels/give", body, scope="admin")
    merge(host, "c2", "c1")
    level = host.level("c1")
    assert (level["level"], level["source"], level["expires_at"][:16]) == (
        "gold",
        "given",
        until[:16],
    )
    assert host.history("c1")[0]["reason"] == "given: carried over from a merged customer"
