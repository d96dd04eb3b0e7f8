"""The reports' daily totals: rolled up or not, the dashboard gives the straightforward sums.

Random ledgers in Madrid's time zone around the change to summer time and around
midnights; the expected figures are summed here in Python from every entry and lot.
"""

from __future__ import annotations

import random
import threading
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty_plugin.database import engine_options
from loyalty_plugin.domain.errors import LoyaltyError
from loyalty_plugin.domain.reports import SERIES, series_of, shown_points
from loyalty_plugin.models import (
    Account,
    Customer,
    LedgerEntry,
    Lot,
    Merchant,
    ReportDay,
    ReportRollup,
)
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.reports import dashboard as dashboard_module
from loyalty_plugin.services.reports.dashboard import dashboard
from loyalty_plugin.services.reports.rollup import roll_up

MERCHANT = "roll"
NOW = datetime(2026, 4, 20, 12, 0, tzinfo=UTC)
#: Periods checked: two weeks across summer time, the default twelve weeks, a year.
PERIODS = [
    (date(2026, 3, 23), date(2026, 4, 5)),
    (None, None),
    (date(2025, 4, 21), date(2026, 4, 20)),
    (date(2026, 3, 29), date(2026, 3, 29)),
]


def make_shop(session: Session, zone: str = "Europe/Madrid") -> list[int]:
    session.add(Merchant(id=MERCHANT, name="Roll", currency="EUR", timezone=zone))
    session.add(Merchant(id="other", name="Other", currency="EUR"))
    session.flush()
    ids = []
    for n in range(14):
        merchant = "other" if n == 13 else MERCHANT
        customer = Customer(merchant_id=merchant, host_customer_id=f"c{n}", first_name="C")
        session.add(customer)
        session.flush()
        account = Account(merchant_id=merchant, customer_id=customer.id)
        session.add(account)
        session.flush()
        ids.append(account.id)
    session.commit()
    return ids


def moment(rng: random.Random, zone: str = "Europe/Madrid") -> datetime:
    """A time near a local midnight (or the summer-time change) between 2025 and NOW."""
    day = date(2026, 3, 29) - timedelta(days=rng.choice([0, 0, 1, 6, 7, 8, 30, 200, 380]))
    local = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone))
    return (local + timedelta(minutes=rng.choice([-61, -30, -1, 0, 1, 59, 120, 181]))).astimezone(
        UTC
    )


def write(session: Session, ids: list[int], rng: random.Random, count: int) -> None:
    """``count`` random ledger operations, committed one by one."""
    earned: list[int] = []
    for _ in range(count):
        account, at = rng.choice(ids), moment(rng)
        op = rng.random()
        try:
            if op < 0.45:
                days = rng.choice([1, 10, 40, 400])
                expiry = at + timedelta(days=days) if rng.random() < 0.7 else None
                entry = ledger.earn(session, account_id=account, points=rng.randint(1, 300),
                                    now=at, actor="t", expires_at=expiry)  # fmt: skip
                earned.append(entry.id)
            elif op < 0.7:
                ledger.spend(session, account_id=account, points=rng.randint(1, 120), now=at,
                             actor="t")  # fmt: skip
            elif op < 0.8:
                ledger.adjust(session, account_id=account, points=rng.choice([-40, 25, 90]),
                              now=at, actor="t", reason="r")  # fmt: skip
            elif op < 0.9 and earned:
                ledger.reverse(session, entry_id=rng.choice(earned), now=at, actor="t",
                               shortfall_as_debt=True)  # fmt: skip
            else:
                ledger.expire_due_lots(session, account_id=account, now=at)
            session.commit()
        except LoyaltyError:
            session.rollback()


def expected(session: Session, first: date | None, last: date | None, zone: str):
    """The weeks and open points, summed in Python from every entry and lot."""
    report = dashboard(session, merchant_id=MERCHANT, now=NOW, first=first, last=last)
    first, last = report.period.first, report.period.last
    mondays = [w.monday for w in report.weeks]
    sums = [dict.fromkeys(SERIES, 0) for _ in mondays]
    tz = ZoneInfo(zone)
    issued: dict[int, int] = {}
    for entry in session.scalars(select(LedgerEntry).where(LedgerEntry.merchant_id == MERCHANT)):
        day = entry.created_at.astimezone(tz).date()
        if first <= day <= last:
            series = series_of(entry.kind, entry.points > 0)
            sums[(day - mondays[0]).days // 7][series] += shown_points(series, entry.points)
            if series == "issued":
                issued[entry.account_id] = issued.get(entry.account_id, 0) + entry.points
    hosts = dict(
        session.execute(select(Account.id, Customer.host_customer_id).join(Customer)).all()
    )
    top = sorted(issued.items(), key=lambda item: (-item[1], item[0]))[:10]
    lots = session.scalars(select(Lot).where(Lot.merchant_id == MERCHANT, Lot.remaining > 0)).all()
    open_lots = [lot for lot in lots if lot.expires_at is None or lot.expires_at > NOW]
    soon = {
        days: sum(lot.remaining for lot in open_lots
                  if lot.expires_at is not None and lot.expires_at <= NOW + timedelta(days=days))
        for days in (30, 60, 90)
    }  # fmt: skip
    top = [(hosts[account], points) for account, points in top]
    return report, sums, sum(lot.remaining for lot in open_lots), soon, top


def check(session: Session, zone: str = "Europe/Madrid") -> None:
    session.expire_all()
    for first, last in PERIODS:
        report, sums, points, soon, top = expected(session, first, last, zone)
        found = [{s: getattr(week, s) for s in SERIES} for week in report.weeks]
        assert found == sums, (first, last)
        assert [(c.customer_id, c.issued) for c in report.top_customers] == top, (first, last)
        assert report.liability[0].points == points
        assert report.expiring == soon
    session.commit()


def rolled(session: Session) -> tuple[int, int]:
    """The merchant's watermark and the entries its daily totals hold."""
    state = session.get(ReportRollup, MERCHANT)
    held = session.scalar(
        select(func.coalesce(func.sum(ReportDay.entries), 0)).where(
            ReportDay.merchant_id == MERCHANT
        )
    )
    session.commit()
    return (state.entry_id if state else 0), int(held)


@pytest.mark.parametrize(("seed", "depth"), [(1, 100), (2, 100), (3, 2), (4, 1)])
def test_rolled_up_or_not_the_dashboard_is_the_sum_of_the_entries(
    session, monkeypatch, seed, depth
) -> None:
    """Before any roll-up (all tail), after one in small batches, with entries written
    afterwards (some dated in days already rolled up), after a second roll-up, and when the
    merchant moves to another time zone (its days are ignored, then rebuilt). The top
    customers read 100 accounts of each month's ranking (all of them here), or 1 or 2, so
    that the bound decides (and, when it cannot, every account is summed)."""
    monkeypatch.setattr(dashboard_module, "DEPTH", depth)
    rng = random.Random(seed)
    ids = make_shop(session)
    write(session, ids, rng, 200)
    check(session)

    run = roll_up(session, batch=7)
    assert run.entries > 0 and not run.waited_out
    mine = session.scalar(select(func.count()).where(LedgerEntry.merchant_id == MERCHANT))
    assert rolled(session) == (run.watermark, mine)
    check(session)

    write(session, ids, rng, 60)  # the live tail, over days already rolled up
    check(session)
    roll_up(session)
    check(session)
    again = roll_up(session)
    assert again.entries == 0
    check(session)

    session.get(Merchant, MERCHANT).timezone = "America/New_York"
    session.commit()
    check(session, "America/New_York")
    roll_up(session)
    assert session.get(ReportRollup, MERCHANT).zone == "America/New_York"
    check(session, "America/New_York")


def test_totals_hold_only_the_merchants_own_entries(session) -> None:
    """Another merchant's entries are neither rolled up here nor in the tail."""
    ids = make_shop(session)
    write(session, ids, random.Random(5), 80)
    roll_up(session)
    mine = session.scalar(select(func.count()).where(LedgerEntry.merchant_id == MERCHANT))
    theirs = session.scalar(select(func.count()).where(LedgerEntry.merchant_id == "other"))
    assert rolled(session)[1] == mine
    assert session.get(ReportRollup, "other") is not None
    held = session.scalar(
        select(func.sum(ReportDay.entries)).where(ReportDay.merchant_id == "other")
    )
    assert int(held or 0) == theirs
    check(session)


def test_a_merchant_after_a_long_run_of_others_entries_is_rolled_up_in_one_batch(
    session,
) -> None:
    """The ids between a merchant's entries that belong to other merchants are skipped in
    one step, not walked a batch at a time (one transaction each): in a database shared by
    many merchants, a small one's roll-up would otherwise cost a transaction per batch of
    everyone's ids."""
    ids = make_shop(session)
    at = NOW - timedelta(days=3)
    theirs = [
        {"merchant_id": "other", "account_id": ids[13], "kind": "earn", "points": 1,
         "balance_after": n + 1, "actor": "test", "created_at": at}
        for n in range(300)
    ]  # fmt: skip
    session.execute(sa.insert(LedgerEntry), theirs)
    for n in range(3):
        ledger.earn(session, account_id=ids[n], points=10 + n, now=at, actor="test")
    session.commit()
    batches = []

    def count(_conn, _cursor, statement: str, *_: object) -> None:
        if "min(ledger_entries.created_at)" in statement:  # the span of each batch
            batches.append(statement)

    engine = session.get_bind()
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        roll_up(session, batch=7, merchant_id=MERCHANT)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert rolled(session)[1] == 3
    assert len(batches) <= 2
    check(session)


def test_an_entry_still_in_flight_holds_the_watermark_back(session, backend, database_url) -> None:
    """An earning whose transaction is still open when a later one has committed (its id
    is smaller): the roll-up waits for it instead of moving past it, and gives up after
    ``settle_seconds`` without rolling anything up; once it commits, it is counted."""
    if backend == "sqlite":
        pytest.skip("SQLite has one writer at a time: no transaction is in flight")
    ids = make_shop(session)
    write(session, ids, random.Random(9), 20)
    roll_up(session)
    before = rolled(session)
    engine = sa.create_engine(database_url, **engine_options(database_url))
    slow = Session(engine, expire_on_commit=False)
    try:
        first = ledger.earn(slow, account_id=ids[0], points=7, now=NOW, actor="slow")
        slow.flush()  # its id is taken, the transaction stays open
        later = ledger.earn(session, account_id=ids[1], points=11, now=NOW, actor="fast")
        session.commit()
        assert later.id > first.id
        run = roll_up(session, settle_seconds=0.3)
        assert run.waited_out and rolled(session) == before

        # A roll-up started now waits for the slow one, then counts both.
        finished: list[object] = []

        def roll_up_in_its_own_session() -> None:
            with Session(engine) as own:  # closed here: a leaked connection warns later
                finished.append(roll_up(own, settle_seconds=30))

        waiting = threading.Thread(target=roll_up_in_its_own_session)
        waiting.start()
        threading.Event().wait(0.3)
        assert not finished
        slow.commit()
        waiting.join(30)
        assert finished and not finished[0].waited_out
        assert rolled(session)[0] >= later.id
        check(session)
    finally:
        slow.close()
        engine.dispose()


def test_top_customers_from_each_months_ranking_without_summing_everyone(
    session, monkeypatch
) -> None:
    """Eleven big earners and twenty small ones: the twelve first of each month's ranking
    bound everyone else, so the ten biggest are found without summing every account; the
    entries after the roll-up and those of the period's partial months are counted."""
    monkeypatch.setattr(dashboard_module, "DEPTH", 12)

    def everyone(*_args):
        raise AssertionError("summed every account")

    monkeypatch.setattr(dashboard_module, "_issued_per_account", everyone)
    session.add(Merchant(id=MERCHANT, name="Roll", currency="EUR", timezone="Europe/Madrid"))
    session.flush()
    accounts = []
    for n in range(31):
        customer = Customer(merchant_id=MERCHANT, host_customer_id=f"c{n}", first_name="C")
        session.add(customer)
        session.flush()
        accounts.append(Account(merchant_id=MERCHANT, customer_id=customer.id))
        session.add(accounts[-1])
    session.flush()
    rng = random.Random(7)
    days = [datetime(2026, 1, 3, 23, 30, tzinfo=UTC) + timedelta(days=9 * k) for k in range(12)]
    for n, account in enumerate(accounts):
        for at in days:
            points = rng.randint(500, 2000) if n < 11 else rng.randint(1, 3)
            ledger.earn(session, account_id=account.id, points=points, now=at, actor="t")
    session.commit()
    roll_up(session)
    # The live tail: after the roll-up, in a whole month and in a partial one.
    for at in (datetime(2026, 2, 10, 12, tzinfo=UTC), datetime(2026, 3, 20, 12, tzinfo=UTC)):
        ledger.earn(session, account_id=accounts[20].id, points=20000, now=at, actor="t")
    session.commit()
    for first, last in [(date(2026, 1, 15), date(2026, 3, 31)), (date(2026, 1, 1), NOW.date())]:
        report, _sums, _points, _soon, top = expected(session, first, last, "Europe/Madrid")
        assert [(c.customer_id, c.issued) for c in report.top_customers] == top
        assert "c20" in [customer for customer, _issued in top]
