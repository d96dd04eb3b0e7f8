"""The report services on a real database, with figures worked out by hand (data.py)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.cards import NumberScheme
from loyalty_plugin.domain.errors import ValidationError
from loyalty_plugin.domain.ledger import EntryKind
from loyalty_plugin.models import Card
from loyalty_plugin.services.audit import Actor
from loyalty_plugin.services.cards import batches, holders
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.reports.aging import aging
from loyalty_plugin.services.reports.dashboard import dashboard
from loyalty_plugin.services.reports.journal import JournalFilter, journal_page, journal_rows
from tests.reports.data import MERCHANT, NOW, at

FIRST, LAST = date(2026, 3, 23), date(2026, 4, 5)


def report(session: Session):
    return dashboard(session, merchant_id=MERCHANT, now=NOW, first=FIRST, last=LAST)


def test_weeks_follow_the_merchants_calendar_across_summer_time(session, shop) -> None:
    """Points per Madrid week: 00:30 on Monday counts in the week it starts, both sides of
    the change to summer time; 23:30 on the Sunday before the period is outside."""
    weeks = report(session).weeks
    assert [(w.monday, w.issued, w.redeemed, w.expired, w.corrections) for w in weeks] == [
        (date(2026, 3, 23), 1500, 0, 0, 0),
        (date(2026, 3, 30), 50, 300, 500, -20),
    ]


def test_rates_liability_and_expiring_points(session, shop) -> None:
    """Redemption rate and breakage over the period; open points valued at 1.00 per 100."""
    found = report(session)
    assert (found.redemption_rate, found.breakage) == (Decimal("0.1935"), Decimal("0.3226"))
    assert [(x.currency, x.points, x.value) for x in found.liability] == [
        ("EUR", 1500, Decimal("15.00"))
    ]
    assert found.expiring == {30: 680, 60: 680, 90: 680}


def test_repeat_orders_of_members_and_non_members(session, shop) -> None:
    """Paid invoices in the period: members Ana (2) and Ben (1), non-member Cat (2)."""
    rates = {r.members: (r.customers, r.repeat, r.rate) for r in report(session).repeat_orders}
    assert rates == {True: (2, 1, Decimal("0.5000")), False: (1, 1, Decimal("1.0000"))}


def test_top_customers_by_points_issued_in_the_period(session, shop) -> None:
    """Ana was issued 1,050 points (1,000 earned, 50 given), Ben 500."""
    top = [(t.customer_id, t.name, t.issued, t.balance) for t in report(session).top_customers]
    assert top == [("ana", "Ana Ruiz", 1050, 930), ("ben", "Ben Ortiz", 500, 0)]


def test_the_dashboard_runs_the_same_queries_whatever_the_data(
    session, shop, make_account, count_queries
) -> None:
    """Adding customers and entries adds no query (the figures are aggregated in SQL)."""
    with count_queries() as before:
        report(session)
    for _ in range(30):
        account = make_account(MERCHANT)
        ledger.earn(session, account_id=account.id, points=5, now=at("2026-03-25 10:00"),
                    actor="t")  # fmt: skip
    session.commit()
    session.expunge_all()
    with count_queries() as after:
        found = report(session)
    assert found.weeks[0].issued == 1650
    assert after[0] == before[0] == 9  # the 9th: the watermark the top customers start at


def test_a_period_is_checked(session, shop) -> None:
    """The first day after the last, or more than two years, is refused with its field."""
    with pytest.raises(ValidationError) as backwards:
        dashboard(session, merchant_id=MERCHANT, now=NOW, first=LAST, last=FIRST)
    with pytest.raises(ValidationError) as too_long:
        dashboard(session, merchant_id=MERCHANT, now=NOW, first=date(2020, 1, 1), last=LAST)
    assert (backwards.value.field, too_long.value.field) == ("from", "to")


def test_the_default_period_is_twelve_weeks_to_today(session, shop) -> None:
    """Without days: this week and the eleven before it, ending today in Madrid."""
    found = dashboard(session, merchant_id=MERCHANT, now=NOW)
    assert (found.period.first, found.period.last) == (date(2026, 1, 19), date(2026, 4, 10))
    assert len(found.weeks) == 12 and found.total("issued") == 1850


def ids(page) -> list[int]:
    return [row.id for row in page.rows]


@pytest.mark.parametrize(
    ("where", "kinds_and_points"),
    [
        (JournalFilter(kind=EntryKind.EARN), [100, 500, 1000, 200, 400, 70]),
        (JournalFilter(first=FIRST, last=LAST), [-20, 50, -500, -300, 500, 1000]),
        (JournalFilter(customer_id="ana"), [-20, 50, -300, 1000, 200]),
        (JournalFilter(card="C-4"), [70]),
        (JournalFilter(group="vip", last=date(2026, 3, 31)), [-300, 1000, 200, 400]),
        (JournalFilter(program="main"), [1000]),
    ],
)
def test_journal_filters(session, shop, where, kinds_and_points) -> None:
    """Each filter selects exactly its entries, newest first."""
    page = journal_page(session, merchant_id=MERCHANT, where=where)
    assert [row.points for row in page.rows] == kinds_and_points


def test_journal_pages_by_key(session, shop) -> None:
    """Pages of 4 follow each other with no gap or repeat, and the last says so."""
    first = journal_page(session, merchant_id=MERCHANT, where=JournalFilter(), limit=4)
    second = journal_page(
        session, merchant_id=MERCHANT, where=JournalFilter(), limit=4, before=first.next_before
    )
    third = journal_page(
        session, merchant_id=MERCHANT, where=JournalFilter(), limit=4, before=second.next_before
    )
    everything = ids(first) + ids(second) + ids(third)
    assert everything == sorted(everything, reverse=True) and len(set(everything)) == 10
    assert third.next_before is None and len(third.rows) == 2


def test_journal_rows_are_read_a_batch_at_a_time(session, shop, count_queries) -> None:
    """The export's rows come from keyset pages read only as the rows are consumed."""
    rows = journal_rows(session, merchant_id=MERCHANT, where=JournalFilter(), batch=3)
    with count_queries() as counted:
        first = [next(rows) for _ in range(3)]
        assert counted[0] == 1  # one page, and no more
    with count_queries() as rest:
        others = list(rows)
    assert len(first) + len(others) == 10 and rest[0] == 3  # three more pages of 3, 3, 1


def test_journal_refuses_an_unknown_kind(session, shop) -> None:
    """A kind that is not an entry kind names the field."""
    with pytest.raises(ValidationError) as refused:
        JournalFilter.parse({"kind": "gift"})
    assert refused.value.field == "kind"


def test_journal_days_backwards_are_refused_before_any_row_is_read(session, shop) -> None:
    """An export checks its filter when it is made, not halfway through the stream."""
    where = JournalFilter(first=LAST, last=FIRST)
    with pytest.raises(ValidationError) as refused:
        journal_rows(session, merchant_id=MERCHANT, where=where)
    assert refused.value.field == "from"


def test_aging_by_band_and_expiry_month(session, shop) -> None:
    """Open points by age (days since earned) and expiry month, for the whole shop."""
    found = aging(session, merchant_id=MERCHANT, now=NOW, by="group")
    assert found.totals.bands == [1030, 0, 0, 400, 70]
    assert found.months[:2] == ["2026-04", "2026-05"] and len(found.months) == 12
    assert found.totals.expiry == [0, 680] + [0] * 10 + [70, 750]
    assert [(r.key, r.total) for r in found.rows] == [("vip", 1430), ("staff", 70)]


@pytest.mark.parametrize(
    ("by", "rows"),
    [
        ("customer", [("ana", "Ana Ruiz", 930), ("cat", "Cat Vidal", 500), ("dan", "Dan", 70)]),
        ("card", [("C-1", "ana", 930), (None, "cat", 500), ("C-4", "dan", 70)]),
    ],
)
def test_aging_per_customer_and_card(session, shop, by, rows) -> None:
    """One row per customer or card (customers without a card share one), biggest first."""
    found = aging(session, merchant_id=MERCHANT, now=NOW, by=by)
    assert [(r.key, r.name, r.total) for r in found.rows] == rows
    assert found.row_count == 3


def test_aging_counts_a_lot_a_day_older_at_the_band_edge(session, shop) -> None:
    """Cat's 100 points of 5 April 22:30 are 0-30 days old until 31 full days have passed."""
    earned = at("2026-04-05 22:30")
    just_before = aging(session, merchant_id=MERCHANT, now=earned + timedelta(days=31, seconds=-1),
                        by="customer")  # fmt: skip
    on_the_day = aging(session, merchant_id=MERCHANT, now=earned + timedelta(days=31),
                       by="customer")  # fmt: skip
    cat = (
        {r.key: r.bands for r in just_before.rows}["cat"],
        {r.key: r.bands for r in on_the_day.rows}["cat"],
    )
    assert cat == ([100, 0, 0, 400, 0], [0, 100, 0, 400, 0])


def test_journal_card_filter_finds_the_holder_of_a_card_even_once_replaced(session, shop) -> None:
    """A card from the cards table finds its customer's entries, also after it was lost."""
    staff = Actor(kind="staff", id="1", name="Sam")
    batch = batches.generate_cards(session, merchant_id=MERCHANT, scheme=NumberScheme(),
                                   count=2, actor=staff, now=NOW)  # fmt: skip
    first, spare = session.scalars(select(Card.number).where(Card.batch_id == batch.id)).all()
    holders.assign_card(session, merchant_id=MERCHANT, number=first, customer_id="ben",
                        actor=staff, now=NOW)  # fmt: skip
    holders.replace_card(session, merchant_id=MERCHANT, number=first, new_number=spare,
                         actor=staff, now=NOW, reason="lost")  # fmt: skip
    session.commit()
    for number in (first, spare):
        page = journal_page(session, merchant_id=MERCHANT, where=JournalFilter(card=number))
        assert [row.points for row in page.rows] == [-500, 500]
        assert {row.card for row in page.rows} == {spare}
    nobody = journal_page(session, merchant_id=MERCHANT, where=JournalFilter(card="4000"))
    assert nobody.rows == []
