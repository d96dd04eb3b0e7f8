"""The report pages with the test client: figures of the known shop, filters, CSV, errors."""

from __future__ import annotations

import csv
import io
import re

import pytest

from loyalty_plugin.schemas.api import encode_cursor
from tests.reports.data import build_on

PERIOD = {"from": "2026-03-23", "to": "2026-04-05"}


@pytest.fixture
def clerk(app, database_url, admin_client):
    """A staff member (the lowest role) of the known shop, signed in."""
    build_on(database_url)
    return admin_client(role="staff", merchant="shop")


def text(answer) -> str:
    return answer.get_data(as_text=True)


def test_the_merchant_home_is_the_dashboard(clerk) -> None:
    """Weekly figures in the table the chart is drawn from, the key figures and the nav."""
    answer = clerk.get(clerk.m("/"), query_string=PERIOD)
    page = text(answer)
    assert answer.status_code == 200
    assert '<canvas data-chart="bar" data-table="weeks-table"' in page
    assert 'data-value="1500"' in page and 'data-value="-20"' in page
    assert 'data-testid="kpi-issued">1,550<' in page
    assert "19.4%" in page and "32.3%" in page  # redemption rate and breakage
    for label in ("Dashboard", "Journal", "Aging", "Exports"):
        assert f">{label}</a>" in page
    assert "Staff</a>" not in page  # owners only
    assert "script-src 'self'" in answer.headers["Content-Security-Policy"]
    assert "<script>" not in page and " style=" not in page


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"from": "2026-04-05", "to": "2026-03-23"}, "The first day is after the last."),
        ({"from": "2019-01-01", "to": "2026-03-23"}, "A period is at most 732 days."),
        ({"from": "soon"}, "Not a valid date."),
    ],
)
def test_a_bad_period_is_shown_at_its_field(clerk, query, message) -> None:
    """422, the days as typed, and the message."""
    answer = clerk.get(clerk.m("/"), query_string=query)
    assert answer.status_code == 422
    assert message in text(answer) and f'value="{query["from"]}"' in text(answer)


def test_journal_filters_and_pages_by_key(clerk) -> None:
    """Filters in the URL select the entries; a cursor shows the older ones."""
    page = text(clerk.get(clerk.m("/journal"), query_string={"kind": "earn", "customer_id": "ana"}))
    assert page.count("<tr data-entry=") == 2 and "Ana Ruiz" in page
    assert 'href="/loyalty/admin/m/shop/journal.csv?kind=earn&amp;customer_id=ana"' in page
    ids = [
        int(n) for n in re.findall(r'<tr data-entry="(\d+)"', text(clerk.get(clerk.m("/journal"))))
    ]
    older = text(clerk.get(clerk.m("/journal"), query_string={"cursor": encode_cursor(ids[-3])}))
    assert older.count("<tr data-entry=") == 2 and "Older entries" in older
    bad = clerk.get(clerk.m("/journal"), query_string={"kind": "gift"})
    assert bad.status_code == 422 and "Must be one of" in text(bad)


def test_journal_csv_has_the_filtered_rows(clerk) -> None:
    """The download is the page's query as CSV."""
    answer = clerk.get(clerk.m("/journal.csv"), query_string={"customer_id": "ben"})
    rows = list(csv.DictReader(io.StringIO(text(answer))))
    assert answer.mimetype == "text/csv" and [r["points"] for r in rows] == ["-500", "500"]


def test_aging_per_customer_by_expiry_month(clerk) -> None:
    """Rows per customer, the expiry columns, and totals beside the charts."""
    answer = clerk.get(clerk.m("/aging"), query_string={"by": "customer", "show": "expiry"})
    page = text(answer)
    assert answer.status_code == 200
    assert '<tr data-key="ana">' in page and "Ana Ruiz" in page and ">Never</th>" in page
    assert 'data-table="bands-table"' in page and 'data-table="months-table"' in page
    assert clerk.get(clerk.m("/aging"), query_string={"by": "city"}).status_code == 422


def test_exports_page_and_downloads(clerk) -> None:
    """Three forms; the liability download rolls each customer over the period."""
    page = text(clerk.get(clerk.m("/exports")))
    assert "customers.csv" in page and "liability.csv" in page and "journal.csv" in page
    answer = clerk.get(clerk.m("/exports/liability.csv"), query_string=PERIOD)
    rows = list(csv.DictReader(io.StringIO(text(answer))))
    assert [(r["customer_id"], r["closing_points"]) for r in rows] == [
        ("ana", "930"), ("ben", "0"), ("cat", "400"), ("dan", "70"),
    ]  # fmt: skip
    people = clerk.get(clerk.m("/exports/customers.csv"))
    assert text(people).count("\r\n") == 5
    bad = clerk.get(
        clerk.m("/exports/liability.csv"), query_string={"from": "2026-04-05", "to": "2026-01-01"}
    )
    assert bad.status_code == 422 and "The first day is after the last." in text(bad)


def test_another_merchants_staff_sees_nothing(app, database_url, admin_client) -> None:
    """The shop's reports are 404 to the staff of another merchant."""
    build_on(database_url)
    stranger = admin_client(role="owner", merchant="elsewhere")
    for path in ("/", "/journal", "/aging", "/exports", "/journal.csv"):
        assert stranger.get(stranger.m(path, merchant_id="shop")).status_code == 404
