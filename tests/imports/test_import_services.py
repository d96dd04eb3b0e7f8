"""Importing customers and opening balances: idempotent, batched, and real points after."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.ledger import EntryKind
from loyalty_plugin.models import Account, Customer, LedgerEntry, Lot, Merchant
from loyalty_plugin.services.intake.imports import import_balances, import_customers
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.expiry import expire_due_batch
from loyalty_plugin.services.ledger.integrity import verify_ledger
from loyalty_plugin.services.messaging.reminders import expiry_reminder_batch
from tests.conftest import make_engine

NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)

CUSTOMERS = """\
customer_id,first_name,last_name,email,date_of_birth,card_number,enrolled,email_opt_in
1001,Ada,Lovelace,ada@example.com,1985-12-10,CARD-0001,true,true
1002,Alan,Turing,,1990-06-23,CARD-0002,false,
"""
BALANCES = """\
customer_id,points,earned_at,expires_at
1001,500,2025-03-01,2026-03-31
1001,120,2025-11-15,
1002,80,2025-06-30,2026-12-31
"""


@pytest.fixture
def shop(session: Session) -> str:
    session.add(Merchant(id="shop", name="Shop", currency="EUR", timezone="UTC"))
    session.commit()
    return "shop"


def lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def customers(session: Session, text: str, **options: object) -> dict:
    return import_customers(
        session, merchant_id="shop", lines=lines(text), now=NOW, **options
    ).as_dict()


def balances(session: Session, text: str, now: datetime = NOW, **options: object) -> dict:
    return import_balances(
        session, merchant_id="shop", lines=lines(text), now=now, actor="test", **options
    ).as_dict()


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_customers_import_creates_then_updates_and_never_duplicates(session, shop) -> None:
    """By the host's id: a second run changes nothing; a changed cell updates that field."""
    first = customers(session, CUSTOMERS)
    assert (first["rows"], first["created"], first["error_count"]) == (2, 2, 0)
    assert customers(session, CUSTOMERS)["unchanged"] == 2
    changed = CUSTOMERS.replace("Turing,,", "Turing,alan@example.com,")
    again = customers(session, changed)
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 1, 1)
    assert count(session, Customer) == 2
    alan = session.scalars(select(Customer).where(Customer.host_customer_id == "1002")).one()
    session.refresh(alan)
    assert (alan.email, alan.enrolled, alan.card_number, alan.email_opt_in) == (
        "alan@example.com",
        False,
        "CARD-0002",
        False,
    )


def test_an_empty_cell_leaves_the_field_as_it_is(session, shop) -> None:
    """A later file without e-mails does not wipe the e-mails already known."""
    customers(session, CUSTOMERS)
    customers(session, "customer_id,first_name,email\n1001,Ada,\n")
    ada = session.scalars(select(Customer).where(Customer.host_customer_id == "1001")).one()
    session.refresh(ada)
    assert ada.email == "ada@example.com"


def test_a_dry_run_reports_bad_rows_and_imports_nothing(session, shop) -> None:
    """Line and field of every bad cell, database conflicts included; no row is written."""
    customers(session, CUSTOMERS)
    text = (
        "customer_id,first_name,card_number,date_of_birth\n"
        "2001,Grace,CARD-0001,\n"
        "2002,,,\n"
        "2003,Edsger,,1930-05-11\n"
    )
    report = customers(session, text, dry_run=True)
    assert report["dry_run"] is True
    assert report["errors"] == [
        {"line": 2, "field": "card_number", "message": "is customer 1001's card"},
        {"line": 3, "field": "first_name", "message": "is required"},
    ]
    assert (report["rows"], report["bad_rows"], report["created"]) == (3, 2, 1)
    assert count(session, Customer) == 2


def test_a_real_run_imports_the_good_rows_and_lists_the_bad(session, shop) -> None:
    """Bad rows are skipped with their line; the good ones are in, across batches."""
    text = "customer_id,first_name,card_number\n" + "".join(
        f"{n},Name {n},{'DUP' if n in (3, 7) else ''}\n" for n in range(1, 11)
    )
    report = customers(session, text, batch_size=4)
    assert report["errors"] == [
        {"line": 8, "field": "card_number", "message": "is customer 3's card"}
    ]
    assert (report["created"], count(session, Customer)) == (9, 9)


def test_opening_balances_are_migration_lots_with_their_own_dates(session, shop) -> None:
    """Each row one ``migration`` entry and lot, earned and expiring on the file's dates."""
    customers(session, CUSTOMERS)
    report = balances(session, BALANCES)
    assert {k: report[k] for k in ("customers", "lots", "points", "error_count")} == {
        "customers": 2,
        "lots": 3,
        "points": 700,
        "error_count": 0,
    }
    lots = session.execute(
        select(Lot.points, Lot.earned_at, Lot.expires_at, LedgerEntry.kind)
        .join(LedgerEntry, LedgerEntry.id == Lot.entry_id)
        .order_by(Lot.id)
    ).all()
    assert lots == [
        (500, datetime(2025, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC), "migration"),
        (120, datetime(2025, 11, 15, tzinfo=UTC), None, "migration"),
        (80, datetime(2025, 6, 30, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC), "migration"),
    ]
    assert verify_ledger(session) == []


def test_the_same_file_twice_is_the_same_result_and_a_second_balance_is_refused(
    session, shop
) -> None:
    """Idempotent by customer; another opening balance for a customer is a row error."""
    customers(session, CUSTOMERS)
    balances(session, BALANCES)
    again = balances(session, BALANCES)
    assert (again["customers"], again["already_imported"], again["error_count"]) == (0, 2, 0)
    other = balances(session, BALANCES.replace("1002,80,", "1002,90,"))
    assert other["errors"] == [
        {
            "line": 4,
            "field": "customer_id",
            "message": "customer already has an opening balance of 80 points "
            f"(imported {NOW:%Y-%m-%d}); a second one is refused",
        }
    ]
    dry = balances(session, BALANCES.replace("1002,80,", "1002,90,"), dry_run=True)
    assert dry["errors"] == other["errors"]
    assert session.scalar(select(func.sum(Account.balance))) == 700
    assert count(session, Lot) == 3
    assert verify_ledger(session) == []


def test_a_bad_lot_refuses_the_whole_opening_balance_of_its_customer(session, shop) -> None:
    """Otherwise the corrected file would be refused as a second opening balance."""
    customers(session, CUSTOMERS)
    report = balances(session, BALANCES.replace("1001,120,", "1001,12x,"))
    assert report["errors"] == [
        {"line": 3, "field": "points", "message": "'12x' is not a whole number of points"}
    ]
    assert (report["customers"], report["customers_refused"]) == (1, 1)
    assert balances(session, BALANCES)["customers"] == 1
    assert session.scalar(select(func.sum(Account.balance))) == 700


def test_an_unknown_customer_is_refused_on_its_line(session, shop) -> None:
    """Customers come first; a balance never creates a nameless customer."""
    report = balances(session, "customer_id,points,earned_at\n77,10,2025-01-01\n", dry_run=True)
    assert report["errors"] == [
        {
            "line": 2,
            "field": "customer_id",
            "message": "no such customer: import the customers file first",
        }
    ]


def test_migrated_points_are_spent_first_expire_and_are_reminded_like_any(session, shop) -> None:
    """FIFO takes the soonest-expiring lot; the expiry job and reminders see the lots."""
    customers(session, CUSTOMERS)
    balances(session, BALANCES)
    account = session.scalars(
        select(Account).join(Customer).where(Customer.host_customer_id == "1001")
    ).one()
    ledger.earn(session, account_id=account.id, points=50, now=NOW, actor="t")
    spent = ledger.spend(session, account_id=account.id, points=100, now=NOW, actor="t")
    session.commit()
    taken = {a.lot_id: a.points for a in spent.allocations}
    march = session.scalars(select(Lot).where(Lot.points == 500)).one()
    assert taken == {march.id: -100}
    assert expiry_reminder_batch(session, now=datetime(2026, 3, 25, tzinfo=UTC)) >= 1
    expire_due_batch(session, now=datetime(2026, 4, 2, tzinfo=UTC), after_account=0, limit=100)
    session.commit()
    session.refresh(account)
    assert account.balance == 120 + 50
    assert verify_ledger(session) == []


@pytest.mark.backends("sqlite")  # memory is the same question on every backend; sqlite is quick
def test_a_million_rows_are_never_held_in_memory(session, shop) -> None:
    """Rows are read as they come: ten times the rows do not need ten times the memory."""
    import tracemalloc

    def rows(n: int) -> Iterator[str]:
        yield "customer_id,first_name,email\n"
        for i in range(n):
            yield f"m{n}-{i},Name,name{i}@example.com\n"

    def peak(n: int) -> int:
        tracemalloc.start()
        report = import_customers(session, merchant_id="shop", lines=rows(n), now=NOW)
        _size, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert report.counts["created"] == n
        return top

    small, large = peak(500), peak(5000)
    assert large < small * 1.5, (small, large)


@pytest.fixture
def wide_engine(clean_engine: sa.Engine, database_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(database_url, pool_size=10)
    yield engine
    engine.dispose()


@pytest.mark.backends("postgresql", "mariadb")
def test_two_imports_at_once_give_a_customer_one_opening_balance(
    session, shop, wide_engine
) -> None:
    """Two different files racing: the account lock lets exactly one opening balance in."""
    customers(session, CUSTOMERS)
    files = [BALANCES, BALANCES.replace("1001,500,", "1001,501,").replace("1002,80,", "1002,81,")]
    barrier = threading.Barrier(len(files) * 2)

    def run(text: str) -> dict:
        with Session(wide_engine, expire_on_commit=False) as own:
            barrier.wait()
            return balances(own, text)

    with ThreadPoolExecutor(len(files) * 2) as pool:
        reports = list(pool.map(run, files * 2))
    # Per customer: one thread writes, the one with the same file replays, two are refused.
    assert sum(r["customers"] for r in reports) == 2
    assert sum(r["already_imported"] for r in reports) == 2
    assert sum(r["error_count"] for r in reports) == 4
    assert count(session, Lot) == 3
    assert session.scalar(select(func.count()).where(LedgerEntry.kind == EntryKind.MIGRATION)) == 3
    assert verify_ledger(session) == []


def test_expiry_of_the_file_is_checked_against_the_clock(session, shop) -> None:
    """A lot whose date has passed at import time is refused, not imported expired."""
    customers(session, CUSTOMERS)
    later = NOW + timedelta(days=400)
    report = balances(session, BALANCES, now=later)
    assert report["errors"][0]["field"] == "expires_at"


def test_new_customers_follow_auto_enrol_and_count_as_registered(session, shop) -> None:
    """No ``enrolled`` cell: the merchant's ``auto_enrol``; no registration bonus later."""
    from loyalty_plugin.services.intake.first_sight import Caller, register
    from loyalty_plugin.services.spending.settings import update_settings

    update_settings(session, merchant_id="shop", changes={"auto_enrol": False}, now=NOW, actor="t")
    session.commit()
    customers(session, "customer_id,first_name,enrolled\n1,Ada,\n2,Alan,true\n")
    ada, alan = session.scalars(select(Customer).order_by(Customer.host_customer_id)).all()
    assert (ada.enrolled, alan.enrolled) == (False, True)
    caller = Caller(hooks=None, now=NOW, actor="webhook")
    assert register(session, alan, caller) == {}
    assert count(session, LedgerEntry) == 0


def test_an_import_fills_in_a_customer_first_seen_by_an_event(session, shop) -> None:
    """A customer created on first sight (profile pending) gets the file's profile."""
    from loyalty_plugin.services.intake.first_sight import Caller, sight_customer

    caller = Caller(hooks=None, now=NOW, actor="test")
    sight_customer(session, merchant_id="shop", host_customer_id="1001", caller=caller)
    session.commit()
    customers(session, CUSTOMERS)
    session.expire_all()
    ada = session.scalars(select(Customer).where(Customer.host_customer_id == "1001")).one()
    assert (ada.first_name, ada.profile_pending) == ("Ada", False)


def test_a_customer_met_again_later_in_the_file_is_refused_a_second_balance(session, shop) -> None:
    """Rows of one customer apart from each other are two opening balances: one refused."""
    customers(session, CUSTOMERS)
    text = BALANCES + "1001,7,2025-01-01,\n"
    report = balances(session, text)
    assert (report["customers"], report["customers_refused"]) == (2, 1)
    assert report["errors"][0]["line"] == 5
    assert "a second one is refused" in report["errors"][0]["message"]
    assert verify_ledger(session) == []


def test_an_opening_balance_repays_points_owed_first(session, shop) -> None:
    """An account in debt (a reversal met spent points) is repaid out of the first lot."""
    customers(session, CUSTOMERS)
    account = session.scalars(
        select(Account).join(Customer).where(Customer.host_customer_id == "1001")
    ).one_or_none()
    if account is None:
        ada = session.scalars(select(Customer).where(Customer.host_customer_id == "1001")).one()
        account = Account(merchant_id="shop", customer_id=ada.id)
        session.add(account)
        session.flush()
    earned = ledger.earn(session, account_id=account.id, points=30, now=NOW, actor="t")
    ledger.spend(session, account_id=account.id, points=30, now=NOW, actor="t")
    ledger.reverse(session, entry_id=earned.id, now=NOW, actor="t", shortfall_as_debt=True)
    session.commit()
    assert account.debt == 30
    report = balances(session, BALANCES)
    assert report["customers"] == 2
    session.refresh(account)
    assert (account.debt, account.balance) == (0, 620 - 30)
    assert verify_ledger(session) == []
