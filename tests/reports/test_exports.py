"""CSV exports: exact rows from the known shop, produced lazily page by page."""

from __future__ import annotations

import csv
import io
import itertools
from datetime import date

from loyalty_plugin.services.reports.exports import customers_csv, journal_csv, liability_csv
from loyalty_plugin.services.reports.journal import JournalFilter
from tests.reports.data import MERCHANT, NOW

FIRST, LAST = date(2026, 3, 23), date(2026, 4, 5)


def rows(lines) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO("".join(lines))))


def test_liability_rolls_each_customer_forward_over_the_period(session, shop) -> None:
    """Opening points, each series in the period, closing points and their value."""
    found = rows(liability_csv(session, merchant_id=MERCHANT, now=NOW, first=FIRST, last=LAST))
    assert [
        (r["customer_id"], r["opening_points"], r["issued"], r["redeemed"], r["expired"],
         r["corrections"], r["closing_points"], r["closing_value"], r["currency"])
        for r in found
    ] == [
        ("ana", "200", "1050", "300", "0", "-20", "930", "9.30", "EUR"),
        ("ben", "0", "500", "0", "500", "0", "0", "0.00", "EUR"),
        ("cat", "400", "0", "0", "0", "0", "400", "4.00", "EUR"),
        ("dan", "70", "0", "0", "0", "0", "70", "0.70", "EUR"),
    ]  # fmt: skip


def test_journal_csv_has_the_filtered_entries_and_defuses_formulas(session, shop) -> None:
    """Ana's entries, newest first; a reason starting with '=' is written as text."""
    found = rows(journal_csv(session, merchant_id=MERCHANT, where=JournalFilter(customer_id="ana")))
    assert [(r["kind"], r["points"], r["balance_after"]) for r in found] == [
        ("adjust", "-20", "930"), ("adjust", "50", "950"), ("redeem", "-300", "900"),
        ("earn", "1000", "1200"), ("earn", "200", "200"),
    ]  # fmt: skip
    assert found[0]["reason"] == "'=correction"
    assert (found[3]["program"], found[3]["created_at"]) == ("main", "2026-03-22T23:30:00Z")
    assert found[0]["customer_name"] == "Ana Ruiz" and found[0]["card"] == "C-1"


def test_customers_csv_lists_everyone_with_their_points(session, shop) -> None:
    """One row per customer, by id, with balance and lifetime counters."""
    found = rows(customers_csv(session, merchant_id=MERCHANT, now=NOW))
    assert [(r["customer_id"], r["balance"], r["enrolled"], r["group"]) for r in found] == [
        ("ana", "930", "true", "vip"),
        ("ben", "0", "true", ""),
        ("cat", "500", "false", "vip"),
        ("dan", "70", "true", "staff"),
    ]


def test_exports_read_one_page_per_batch_as_lines_are_taken(session, shop, count_queries) -> None:
    """Nothing is read before the first line is asked for, and then one page at a time."""
    with count_queries() as counted:
        lines = customers_csv(session, merchant_id=MERCHANT, now=NOW, batch=2)
        assert counted[0] == 0
        header_and_two = list(itertools.islice(lines, 3))
        assert counted[0] == 1
        rest = list(lines)
    assert header_and_two[0].startswith("customer_id,") and len(rest) == 2
    assert counted[0] == 3  # pages of 2, 2, then an empty one
