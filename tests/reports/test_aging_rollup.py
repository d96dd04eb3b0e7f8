"""The aging report's kept points per account and group: rolled up or not, it gives the
lots' sums.

Random ledgers (earnings, spends, adjustments, reversals, expiries, transfers and merges,
some after the roll-up and touching lots already rolled up; customers changing group
before and after the job filed their points), checked against every open
lot summed here in Python: the totals, each page of each grouping, and how many rows.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty_plugin.database import engine_options
from loyalty_plugin.domain.errors import LoyaltyError
from loyalty_plugin.domain.reports import AGE_BANDS, EXPIRY_MONTHS, age_cutoffs, month_starts
from loyalty_plugin.models import (
    Account,
    Customer,
    Lot,
    Merchant,
    ReportAccountPoints,
    ReportGroupLotDay,
)
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.transfers import lock_pair, move_lots, transfer
from loyalty_plugin.services.reports import aging as aging_module
from loyalty_plugin.services.reports import rollup as rollup_module
from loyalty_plugin.services.reports.aging import aging
from loyalty_plugin.services.reports.rollup import lot_days, moved_customers, roll_up
from tests.reports.test_rollup import MERCHANT, NOW, make_shop, moment, write

GROUPS = ("retail", "retail", "vip", None)


def profile(session: Session, ids: list[int]) -> None:
    """Give the shop's customers groups and (most of them) cards."""
    for n, account_id in enumerate(ids):
        customer = session.get(Account, account_id).customer
        customer.customer_group = GROUPS[n % len(GROUPS)]
        customer.card_number = f"K{n:03d}" if n % 3 else None
    session.commit()


def regroup(session: Session, ids: list[int], rng: random.Random, count: int) -> None:
    """Move ``count`` random customers to another group (or none, or the empty one)."""
    for account_id in rng.sample(ids, count):
        customer = session.get(Account, account_id).customer
        customer.customer_group = rng.choice(("retail", "vip", "outlet", "", None))
    session.commit()


def around_cutoffs(session: Session, ids: list[int], rng: random.Random) -> None:
    """Lots earned right around the instants the age bands start at (NOW less so many
    days), some expiring just before or after NOW, at a month's turn, or never."""
    for cut in age_cutoffs(NOW):
        for offset in (-180, -1, 0, 1, 240):
            at = cut + timedelta(minutes=offset)
            month_turn = datetime(2026, 4, 30, 22, 0, tzinfo=UTC)  # midnight in Madrid
            expiry = rng.choice([None, NOW - timedelta(hours=1), NOW + timedelta(hours=1),
                                 month_turn, at + timedelta(days=400)])  # fmt: skip
            ledger.earn(session, account_id=rng.choice(ids[:13]), points=rng.randint(1, 90),
                        now=at, actor="t", expires_at=expiry)  # fmt: skip
    session.commit()


def move(session: Session, ids: list[int], rng: random.Random, count: int) -> None:
    """``count`` random transfers and merges (a merged account's changes go to its survivor)."""
    for _ in range(count):
        first, second = rng.sample(ids[:13], 2)
        at = moment(rng)
        try:
            if rng.random() < 0.75:
                transfer(session, from_account_id=first, to_account_id=second,
                         points=rng.randint(1, 150), now=at, actor="t", reason="gift")  # fmt: skip
            else:
                merged, survivor = lock_pair(session, first, second)
                move_lots(session, merged=merged, survivor=survivor, now=at, actor="t",
                          reason="same person")  # fmt: skip
            session.commit()
        except LoyaltyError:
            session.rollback()


def expected(session: Session, by: str, zone: str) -> tuple[list[int], list[tuple]]:
    """The totals and every row (key, bands, expiry), biggest first, summed from the lots."""
    tz = ZoneInfo(zone)
    cutoffs = age_cutoffs(NOW)
    starts = month_starts(NOW, zone)
    lots = session.scalars(
        select(Lot).where(Lot.merchant_id == MERCHANT, Lot.remaining > 0).order_by(Lot.id)
    ).all()
    column = {"customer": Customer.host_customer_id, "group": Customer.customer_group,
              "card": Customer.card_number}[by]  # fmt: skip
    keys = dict(session.execute(select(Account.id, column).join(Customer)).all())
    width = len(AGE_BANDS) + EXPIRY_MONTHS + 2
    totals = [0] * width
    rows: dict[object, list[int]] = {}
    for lot in lots:
        if lot.expires_at is not None and lot.expires_at <= NOW:
            continue
        band = next((n for n, cut in enumerate(cutoffs) if lot.earned_at > cut), len(cutoffs))
        if lot.expires_at is None:
            month = EXPIRY_MONTHS + 1
        else:
            local = lot.expires_at.astimezone(tz).date().replace(day=1)
            month = starts.index(local) if local in starts else EXPIRY_MONTHS
        key = keys[lot.account_id]
        figures = rows.setdefault(key, [0] * width)
        for target in (figures, totals):
            target[band] += lot.remaining
            target[len(AGE_BANDS) + month] += lot.remaining
    account_of = {
        host: account
        for account, host in session.execute(
            select(Account.id, Customer.host_customer_id).join(Customer)
        )
    }

    def order(item: tuple) -> tuple:
        key, figures = item
        total = sum(figures[: len(AGE_BANDS)])
        if by == "customer":
            return (-total, account_of[key])
        return (-total, key is None, key or "")

    ranked = sorted(rows.items(), key=order)
    return totals, [(key, f[: len(AGE_BANDS)], f[len(AGE_BANDS) :]) for key, f in ranked]


def kept_per_group(session: Session) -> dict[tuple, int]:
    rows = session.scalars(
        select(ReportGroupLotDay).where(ReportGroupLotDay.merchant_id == MERCHANT)
    )
    return {
        (row.customer_group if row.grouped else None, row.earned_on, row.expires_on): row.points
        for row in rows
        if row.points
    }


def lots_per_group(session: Session, zone: str) -> dict[tuple, int]:
    """Every lot's points left (overdue ones too) per group of its customer and pair of days."""
    sums: dict[tuple, int] = {}
    for lot in session.scalars(select(Lot).where(Lot.merchant_id == MERCHANT, Lot.remaining > 0)):
        group = session.get(Account, lot.account_id).customer.customer_group
        key = (group, *lot_days(lot.earned_at, lot.expires_at, zone))
        sums[key] = sums.get(key, 0) + lot.remaining
    return {key: points for key, points in sums.items() if points}


def check(session: Session, zone: str = "Europe/Madrid") -> None:
    session.expire_all()
    for by in ("customer", "group", "card"):
        totals, rows = expected(session, by, zone)
        pages = max(1, -(-len(rows) // aging_module.PAGE_SIZE))
        found = []
        for page in range(1, pages + 2):  # and one past the last
            report = aging(session, merchant_id=MERCHANT, now=NOW, by=by, page=page)
            assert report.row_count == len(rows), (by, page)
            assert report.totals.bands + report.totals.expiry == totals, by
            found += [(row.key, row.bands, row.expiry) for row in report.rows]
        assert found == rows, by
    session.commit()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rolled_up_or_not_aging_is_the_sum_of_the_open_lots(session, monkeypatch, seed) -> None:
    """Before any roll-up, after one in small batches, with entries written afterwards
    (spending, expiring, reversing, transferring and merging lots already rolled up), after
    a second roll-up, and when the merchant moves to another time zone."""
    monkeypatch.setattr(aging_module, "PAGE_SIZE", 3)
    monkeypatch.setattr(rollup_module, "FILE_CHUNK", 2)  # customers filed a few at a time
    rng = random.Random(seed)
    ids = make_shop(session)
    profile(session, ids)
    around_cutoffs(session, ids, rng)
    write(session, ids, rng, 150)
    move(session, ids, rng, 15)
    check(session)

    run = roll_up(session, batch=7)
    assert run.entries > 0
    check(session)
    regroup(session, ids, rng, 5)  # customers in another group than the one filed
    check(session)

    around_cutoffs(session, ids, rng)
    for _ in range(3):  # the live tail, over lots already rolled up
        write(session, ids, rng, 25)
        move(session, ids, rng, 6)
        regroup(session, ids, rng, 3)
    check(session)
    roll_up(session)
    check(session)
    regroup(session, ids, rng, 4)
    write(session, ids, rng, 10)
    check(session)
    roll_up(session)
    check(session)
    assert not session.scalar(select(sa.func.count()).where(moved_customers()))
    kept = session.scalars(
        select(ReportAccountPoints).where(ReportAccountPoints.merchant_id == MERCHANT)
    ).all()
    left = {}
    for lot in session.scalars(select(Lot).where(Lot.merchant_id == MERCHANT)):
        left[lot.account_id] = left.get(lot.account_id, 0) + lot.remaining
    assert {row.account_id: row.points for row in kept if row.points} == {
        account: points for account, points in left.items() if points
    }
    assert kept_per_group(session) == lots_per_group(session, "Europe/Madrid")
    session.commit()

    session.get(Merchant, MERCHANT).timezone = "America/New_York"
    session.commit()
    regroup(session, ids, rng, 3)
    check(session, "America/New_York")
    roll_up(session)
    check(session, "America/New_York")


def test_overdue_lots_are_not_open(session) -> None:
    """Lots past their expiry that the expiry job has not expired yet (after the roll-up
    counted them) are left out of the ranking and the count."""
    ids = make_shop(session)
    profile(session, ids)
    for n, account in enumerate(ids[:5]):
        ledger.earn(session, account_id=account, points=100 + n, now=NOW - timedelta(days=20),
                    actor="t", expires_at=NOW - timedelta(days=1) if n % 2 else None)  # fmt: skip
    session.commit()
    roll_up(session)
    check(session)
    report = aging(session, merchant_id=MERCHANT, now=NOW, by="customer")
    assert [row.total for row in report.rows] == [104, 102, 100]


def test_a_lot_still_in_flight_is_counted_once_it_commits(session, backend, database_url) -> None:
    """A spend whose transaction is still open when a later earning has committed: the
    roll-up does not move past it, and once it commits the kept points count it."""
    if backend == "sqlite":
        pytest.skip("SQLite has one writer at a time: no transaction is in flight")
    ids = make_shop(session)
    profile(session, ids)
    write(session, ids, random.Random(4), 60)
    roll_up(session)
    rich = max(ids[:13], key=lambda a: session.get(Account, a).balance)
    session.commit()
    engine = sa.create_engine(database_url, **engine_options(database_url))
    slow = Session(engine, expire_on_commit=False)
    try:
        ledger.spend(slow, account_id=rich, points=1, now=NOW, actor="slow")
        slow.flush()  # its id is taken, its allocations written, the transaction stays open
        ledger.earn(session, account_id=ids[1], points=11, now=NOW, actor="fast")
        session.commit()
        assert roll_up(session, settle_seconds=0.3).waited_out
        check(session)
        slow.commit()
        check(session)
        assert not roll_up(session).waited_out
        check(session)
    finally:
        slow.close()
        engine.dispose()


def test_cards_with_equal_points_are_listed_by_number(session, monkeypatch) -> None:
    """Six cards with the same points, numbered against the accounts' order, on pages of
    two: the kept ranking's order (by account) is not the report's (by card number). The
    two customers without a card come first (100 points together)."""
    monkeypatch.setattr(aging_module, "PAGE_SIZE", 2)
    ids = make_shop(session)
    for n, account_id in enumerate(ids[:8]):
        customer = session.get(Account, account_id).customer
        customer.card_number = f"Z{9 - n}" if n < 6 else None
        ledger.earn(session, account_id=account_id, points=50, now=NOW - timedelta(days=3),
                    actor="t")  # fmt: skip
    session.commit()
    roll_up(session)
    check(session)
    pages = [aging(session, merchant_id=MERCHANT, now=NOW, by="card", page=n) for n in (1, 2)]
    assert [[row.key for row in report.rows] for report in pages] == [[None, "Z4"], ["Z5", "Z6"]]
