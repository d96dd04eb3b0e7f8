"""The issue's level scenarios end to end: a program with levels set up through the API,
invoices and refunds sent as signed webhooks, levels and quotes read back from the API."""

from __future__ import annotations

import getpass
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty_plugin.cli import main
from loyalty_plugin.domain.events import LevelChanged
from loyalty_plugin.hookspecs import hookimpl
from loyalty_plugin.jobs import JobContext
from loyalty_plugin.jobs.levels import review_levels
from loyalty_plugin.models import EmailMessage
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.accounts import account_for_host_customer
from loyalty_plugin.services.ledger.integrity import verify_ledger
from tests.levels.conftest import TIERS, Host


def review(app: Flask, db: Session, at: datetime) -> int:
    """Run the ``review-levels`` job as of ``at``; the moves it made."""
    return review_levels(JobContext(app=app, session=db, now=at))


def test_money_spent_lands_each_customer_on_the_level_reached(host: Host) -> None:
    """0, 9,999.99, 10,000, 15,000, 19,999.99, 20,000 and 50,000 give B, B, S, S, S, G, G."""
    host.program()
    amounts = ["0", "9999.99", "10000.00", "15000.00", "19999.99", "20000.00", "50000.00"]
    expected = ["bronze", "bronze", "silver", "silver", "silver", "gold", "gold"]
    for number, amount in enumerate(amounts):
        customer = f"c{number}"
        if amount == "0":
            host.send("customer.created", {"customer": {"id": customer, "first_name": "Ana"}})
        else:
            host.pay(customer, f"INV-{number}", amount)
    assert [host.level(f"c{n}")["level"] for n in range(len(amounts))] == expected
    silver = host.level("c3")
    assert (silver["next_level"], silver["needed"], silver["qualifying_amount"]) == (
        "gold",
        "5000.00",
        "15000.00",
    )


def test_refund_below_gold_moves_down_now_or_at_the_review(
    app: Flask, host: Host, db: Session
) -> None:
    """20,000 refunded to 15,000: Silver at once when below; Gold until the review date."""
    host.program()
    host.pay("fall", "INV-1", "20000.00")
    result = host.refund("INV-1", "R1", "5000.00")
    assert result["level_changes"] == [
        {"from": "gold", "to": "silver", "reason": "below threshold"}
    ]
    assert host.level("fall")["level"] == "silver"

    host.api("PATCH", "/programs/main", {"levels": {"tiers": TIERS, "downgrade": "review",
              "review_every_days": 90}}, scope="admin")  # fmt: skip
    host.pay("kept", "INV-2", "20000.00")
    host.refund("INV-2", "R2", "5000.00")
    kept = host.level("kept")
    assert (kept["level"], kept["review_at"] is not None) == ("gold", True)
    assert review(app, db, utcnow() + timedelta(days=89)) == 0
    assert review(app, db, utcnow() + timedelta(days=91)) == 1
    assert review(app, db, utcnow() + timedelta(days=91)) == 0  # safe to run twice
    assert host.level("kept")["level"] == "silver"
    assert [h["reason"] for h in host.history("kept")] == ["review", "upgrade"]


def test_gold_and_silver_quote_the_same_invoice_at_their_own_value_and_cap(host: Host) -> None:
    """Gold 2.00 per 100 and 50%, Silver 1.00 and 20%: 10,000.00 and 5,000 points differ."""
    host.program()
    host.pay("gold", "INV-G", "20000.00")
    host.pay("silver", "INV-S", "10000.00")
    host.give_points("gold", 3000)
    host.give_points("silver", 4000)
    invoice = {"currency": "EUR", "total": "10000.00",
               "items": [{"total": "2000.00", "category_id": "shoes"},
                         {"total": "8000.00", "category_id": "food"}]}  # fmt: skip
    gold = host.api("POST", "/checkout/quote", {"customer_id": "gold", "invoice": invoice})
    silver = host.api("POST", "/checkout/quote", {"customer_id": "silver", "invoice": invoice})
    assert (gold["balance"], silver["balance"]) == (5000, 5000)
    assert (gold["points"], gold["amount"], gold["rate"]) == (5000, "100.00", "0.02")
    assert (silver["points"], silver["amount"], silver["rate"]) == (5000, "50.00", "0.01")
    assert (gold["limits"]["max_share"], silver["limits"]["max_share"]) == (250000, 200000)
    assert gold["level"]["key"] == "gold" and Decimal(gold["level"]["discount_amount"]) == 200
    assert silver["level"]["discounts"] == []
    # Always in the currency's places, with or without a discount (#13 item 10).
    assert (gold["level"]["discount_amount"], silver["level"]["discount_amount"]) == (
        "200.00",
        "0.00",
    )
    bare = {"currency": "EUR", "total": "33.35"}
    no_lines = host.api("POST", "/checkout/quote", {"customer_id": "gold", "invoice": bare})
    assert no_lines["level"]["discount_amount"] == "0.00"
    odd = bare | {"items": [{"total": "33.35", "category_id": "shoes"}]}
    odd_cents = host.api("POST", "/checkout/quote", {"customer_id": "gold", "invoice": odd})
    assert odd_cents["level"]["discount_amount"] == "3.33"  # 10 % of 33.35, rounded down


@pytest.mark.parametrize(("rounding", "points"), [("down", 172), ("nearest", 173)])
def test_gold_multiplier_on_115_points_rounds_as_the_program_says(
    host: Host, db: Session, rounding: str, points: int
) -> None:
    """1.5 x 115 = 172.5: 172 rounding down, 173 to the nearest."""
    host.program(rounding=rounding)
    host.pay("c1", "INV-1", "20000.00")
    assert host.pay("c1", "INV-2", "1150.00")["points_earned"] == points
    assert verify_ledger(db) == []


def test_bought_membership_ends_on_day_31_and_buying_again_extends(
    app: Flask, host: Host, db: Session
) -> None:
    """30 days of Silver for 500 points; bought twice: 60 days, one level, 1,000 points."""
    host.program()
    host.send("customer.created", {"customer": {"id": "c1", "first_name": "Ana"}})
    host.give_points("c1", 1600)
    first = host.api("POST", "/customers/c1/levels/buy", {"level": "silver"}, scope="write")
    ends = datetime.fromisoformat(first["expires_at"])
    assert (first["level"], first["source"]) == ("silver", "bought")
    assert review(app, db, ends - timedelta(days=1)) == 0
    assert review(app, db, ends) == 1
    assert host.level("c1")["level"] == "bronze"

    host.api("POST", "/customers/c1/levels/buy", {"level": "silver"}, scope="write")
    again = host.api("POST", "/customers/c1/levels/buy", {"level": "silver"}, scope="write")
    start = utcnow()
    assert (
        timedelta(days=59)
        < datetime.fromisoformat(again["expires_at"]) - start
        <= timedelta(days=60)
    )
    assert host.api("GET", "/customers/c1")["accounts"][0]["balance"] == 1600 - 3 * 500
    poor = host.call("POST", "/customers/c1/levels/buy", {"level": "silver"}, scope="write")
    assert poor.status_code == 409
    reasons = [h["reason"] for h in host.history("c1")]
    assert reasons == ["bought (extended)", "bought", "bought level ended", "bought"]
    assert verify_ledger(db) == []


def test_staff_give_a_level_with_a_reason_and_an_end_date(
    app: Flask, host: Host, db: Session
) -> None:
    """Given Gold until a date, with the reason and the staff key in the history."""
    host.program()
    host.send("customer.created", {"customer": {"id": "c1", "first_name": "Ana"}})
    until = (utcnow() + timedelta(days=10)).isoformat()
    body = {"level": "gold", "until": until, "reason": "press"}
    refused = host.call("POST", "/customers/c1/levels/give", body, scope="write")
    assert refused.status_code == 403
    given = host.api("POST", "/customers/c1/levels/give", body, scope="admin")
    assert (given["level"], given["source"], given["expires_at"][:16]) == (
        "gold",
        "given",
        until[:16],
    )
    assert host.history("c1")[0]["reason"] == "given: press"
    assert review(app, db, utcnow() + timedelta(days=11)) == 1
    assert host.level("c1")["level"] == "bronze"


class LevelSpy:
    """Records the ``level_changed`` hook calls."""

    def __init__(self) -> None:
        self.events: list[LevelChanged] = []

    @hookimpl
    def level_changed(self, event: LevelChanged) -> None:
        self.events.append(event)


def test_hook_level_changed_fires_once_when_an_earning_crosses_two_thresholds(
    app: Flask, host: Host, db: Session
) -> None:
    """25,000 at once: Bronze to Gold, one history row, one ``level_changed`` hook and e-mail."""
    spy = LevelSpy()
    app.extensions["loyalty"].plugin_manager.register(spy)
    host.program()
    result = host.pay("c1", "INV-1", "25000.00", email="ana@example.com")
    assert result["level_changes"] == [{"from": "bronze", "to": "gold", "reason": "upgrade"}]
    history = host.history("c1")
    assert [(h["from_level"], h["to_level"]) for h in history] == [("bronze", "gold")]
    assert [(e.customer_id, e.from_level, e.to_level) for e in spy.events] == [
        ("c1", "bronze", "gold")
    ]
    mails = db.scalars(select(EmailMessage).where(EmailMessage.template == "level_changed"))
    # Named as the customer reads them, not by their keys.
    assert [
        (m.to_address, m.context.get("level"), m.context.get("previous_level")) for m in mails
    ] == [("ana@example.com", "Gold", "Bronze")]


def test_program_refuses_levels_without_a_0_threshold_or_with_equal_thresholds(
    host: Host,
) -> None:
    """The schema names the level settings at fault."""
    tiers = [{"key": "a", "threshold": "10"}, {"key": "b", "threshold": "20"}]
    body = {"key": "bad", "name": "Bad", "rules": [], "levels": {"tiers": tiers}}
    answer = host.call("POST", "/programs", body, scope="admin")
    assert answer.status_code == 422
    assert "levels" in str(answer.json)


def test_cli_levels_give_and_show(app: Flask, host: Host) -> None:
    """``loyalty levels give`` then ``loyalty levels show`` prints the level and its history."""
    host.program()
    host.pay("c1", "INV-1", "12500.00")
    runner = app.test_cli_runner()
    until = (utcnow() + timedelta(days=20)).strftime("%Y-%m-%d")
    given = runner.invoke(main, ["levels", "give", "c1", "--merchant", "shop", "--level",
                                 "gold", "--until", until, "--reason", "vip event"])  # fmt: skip
    assert given.exit_code == 0, given.output
    shown = runner.invoke(main, ["levels", "show", "c1", "--merchant", "shop"])
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[0].startswith("Gold (given) in program main: 12500.00 money")
    # Given by whoever runs the command: their operating-system user.
    assert f"silver -> gold  given: vip event (cli:{getpass.getuser()})" in lines[1]
    assert "bronze -> silver  upgrade" in lines[2]


def test_new_version_moves_customers_only_through_the_review_job(
    app: Flask, host: Host, db: Session
) -> None:
    """Gold raised to 30,000: a 25,000 customer stays Gold until the job, then one row."""
    host.program()
    host.pay("c1", "INV-1", "25000.00")
    tiers = [*TIERS[:2], TIERS[2] | {"threshold": "30000"}]
    host.api("PATCH", "/programs/main", {"levels": {"tiers": tiers}}, scope="admin")
    assert host.history("c1")[0]["to_level"] == "gold"
    assert review(app, db, utcnow() + timedelta(seconds=1)) == 1
    newest = host.history("c1")[0]
    assert (newest["from_level"], newest["to_level"], newest["version"]) == ("gold", "silver", 2)
    assert newest["actor"] == "job:review-levels"
    assert review(app, db, utcnow() + timedelta(seconds=2)) == 0


def test_points_in_a_rolling_window_count_earnings_less_refunds_never_spending(
    app: Flask, host: Host, db: Session
) -> None:
    """Spending keeps Silver, a refund takes it away, and earnings leave the window."""
    tiers = [{"key": "bronze", "threshold": "0"}, {"key": "silver", "threshold": "1000"}]
    host.program(measure="points", period="rolling", days=30, tiers=tiers)
    host.pay("c1", "INV-1", "10000.00")
    account = account_for_host_customer(db, "shop", "c1")
    ledger.spend(db, account_id=account.id, points=900, now=utcnow(), actor="test")
    db.commit()
    assert (host.level("c1")["level"], host.level("c1")["qualifying_amount"]) == ("silver", "1000")
    assert host.refund("INV-1", "R1", "5000.00")["level_changes"][0]["to"] == "bronze"
    host.pay("c1", "INV-2", "10000.00")
    assert host.level("c1")["level"] == "silver"
    assert review(app, db, utcnow() + timedelta(days=29)) == 0
    assert review(app, db, utcnow() + timedelta(days=31)) == 1
    assert host.history("c1")[0]["to_level"] == "bronze"
    assert verify_ledger(db) == []


def test_every_e_mail_names_the_level_the_customer_holds(host: Host, db: Session) -> None:
    """The common ``level`` variable of e-mails is the level's name (it was always empty)."""
    from loyalty_plugin.services.ledger.accounts import find_customer
    from loyalty_plugin.services.messaging.notifications import common_context

    host.program()
    host.pay("c1", "INV-1", "25000.00")
    customer = find_customer(db, "shop", "c1")
    context = common_context(db, customer, now=utcnow())
    assert context["level"] == next(tier["name"] for tier in TIERS if tier["key"] == "gold")


def test_store_credit_counts_for_no_level_and_gets_no_membership(
    app: Flask, host: Host, db: Session
) -> None:
    """A customer's credit earnings (#19) leave the points levels and the review alone."""
    from loyalty_plugin.models import Account, Membership
    from loyalty_plugin.services.ledger.accounts import open_account

    tiers = [{"key": "bronze", "threshold": "0"}, {"key": "silver", "threshold": "1000"}]
    host.program(measure="points", period="rolling", days=30, tiers=tiers)
    host.pay("c1", "INV-1", "5000.00")
    points = account_for_host_customer(db, "shop", "c1")
    credit = open_account(db, merchant_id="shop", customer_id=points.customer_id, unit="EUR")
    ledger.earn(db, account_id=credit.id, points=500_000, now=utcnow(), actor="test")
    db.commit()
    assert host.level("c1")["level"] == "bronze"
    assert review(app, db, utcnow() + timedelta(seconds=1)) == 0
    assert host.level("c1")["level"] == "bronze"
    units = db.scalars(
        select(Account.unit).join(Membership, Membership.account_id == Account.id)
    ).all()
    assert set(units) == {"points"}
