"""The report routes of the JSON API: figures, paging, CSV streams, scopes and bad input."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from loyalty_plugin.extensions import get_session
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.reports.dashboard import open_points

PREFIX = "/loyalty/api/v1"
PERIOD = {"from": "2026-03-23", "to": "2026-04-05"}


def get(client: Any, key: str, path: str, **query: Any) -> Any:
    return client.get(PREFIX + path, query_string=query, headers={"Authorization": f"Bearer {key}"})


def test_dashboard_figures_for_a_period(client, served_shop) -> None:
    """The weeks, totals, rates, repeat orders and top customers of the known shop."""
    answer = get(client, served_shop["read"], "/reports/dashboard", **PERIOD)
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["period"] == {"from": "2026-03-23", "to": "2026-04-05", "timezone": "Europe/Madrid"}
    assert body["weeks"] == [
        {"week": "2026-03-23", "from": "2026-03-23", "issued": 1500, "redeemed": 0, "expired": 0,
         "corrections": 0},
        {"week": "2026-03-30", "from": "2026-03-30", "issued": 50, "redeemed": 300,
         "expired": 500, "corrections": -20},
    ]  # fmt: skip
    assert body["totals"] == {"issued": 1550, "redeemed": 300, "expired": 500, "corrections": -20}
    assert (body["redemption_rate"], body["breakage"]) == ("0.1935", "0.3226")
    assert body["repeat_orders"] == [
        {"customers": "members", "with_orders": 2, "with_repeat_orders": 1, "rate": "0.5000"},
        {"customers": "non_members", "with_orders": 1, "with_repeat_orders": 1, "rate": "1.0000"},
    ]
    assert [t["customer_id"] for t in body["top_customers"]] == ["ana", "ben"]
    assert [e["within_days"] for e in body["expiring"]] == [30, 60, 90]
    [liability] = body["liability"]
    assert liability["currency"] == "EUR" and liability["points"] >= 0
    assert body["credit"] == []  # a points-only merchant (#19)


def test_journal_pages_with_a_cursor_and_filters(client, served_shop) -> None:
    """Pages of 4 chain through next_cursor; a kind filter selects only that kind."""
    key, seen, cursor = served_shop["read"], [], None
    while True:
        query = {"limit": 4} | ({"cursor": cursor} if cursor else {})
        page = get(client, key, "/reports/journal", **query).get_json()
        seen += [row["id"] for row in page["data"]]
        if not (cursor := page["next_cursor"]):
            break
    assert len(seen) == len(set(seen)) == 10 and seen == sorted(seen, reverse=True)
    earned = get(client, key, "/reports/journal", kind="earn", customer_id="ana").get_json()
    assert [(r["points"], r["program"]) for r in earned["data"]] == [(1000, "main"), (200, None)]
    assert earned["data"][0]["customer_name"] == "Ana Ruiz"


def test_aging_by_customer(client, served_shop) -> None:
    """Open points per customer with their bands and expiry columns."""
    body = get(client, served_shop["read"], "/reports/aging", by="customer").get_json()
    assert body["bands"] == ["0-30", "31-90", "91-180", "181-365", "older"]
    assert body["expiry_columns"][-2:] == ["later", "never"] and len(body["expiry_columns"]) == 14
    assert body["totals"]["total"] == sum(row["total"] for row in body["rows"])
    assert body["row_count"] == len(body["rows"]) and body["page"] == body["pages"] == 1


def test_journal_export_streams_csv(client, served_shop) -> None:
    """The CSV download: a header, then the filtered entries, as an attachment."""
    answer = get(client, served_shop["read"], "/exports/journal.csv", customer_id="ben")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert answer.is_streamed
    assert 'filename="journal.csv"' in answer.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    assert [(r["kind"], r["points"]) for r in rows] == [("expire", "-500"), ("earn", "500")]


@pytest.mark.parametrize("path", ["/exports/customers.csv", "/exports/liability.csv"])
def test_other_exports_answer_csv(client, served_shop, path) -> None:
    """Customers and liability, four customers each."""
    answer = get(client, served_shop["read"], path, **PERIOD)
    lines = answer.get_data(as_text=True).splitlines()
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert len(lines) == (1 + 4 if "liability" in path else 1)  # nobody was created in March


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        ("/reports/dashboard", {"from": "2026-04-05", "to": "2026-03-23"}, "from"),
        ("/reports/dashboard", {"from": "2020-01-01", "to": "2026-03-23"}, "to"),
        ("/reports/dashboard", {"from": "yesterday"}, "from"),
        ("/reports/journal", {"kind": "gift"}, "kind"),
        ("/reports/journal", {"limit": 0}, "limit"),
        ("/reports/aging", {"by": "city"}, "by"),
        ("/exports/journal.csv", {"from": "2026-04-05", "to": "2026-03-23"}, "from"),
    ],
)
def test_bad_arguments_are_422_with_the_field(client, served_shop, path, query, field) -> None:
    """Bad input names the argument at fault, before any CSV line is sent."""
    answer = get(client, served_shop["read"], path, **query)
    assert answer.status_code == 422, answer.get_data(as_text=True)
    assert field in answer.get_json()["error"]["fields"]


def test_reports_need_a_key_and_stay_within_its_merchant(client, served_shop) -> None:
    """No key: 401. The other merchant's key sees its own empty journal, not the shop's."""
    assert client.get(PREFIX + "/reports/dashboard").status_code == 401
    theirs = get(client, served_shop["other"], "/reports/journal").get_json()
    assert theirs["data"] == [] and theirs["next_cursor"] is None
    refused = get(client, served_shop["other"], "/exports/journal.csv", merchant_id="shop")
    assert refused.status_code == 404


def test_dashboard_liability_is_the_open_points_now(client, served_shop, app) -> None:
    """The API's liability is the service's at the moment of the request."""
    body = get(client, served_shop["read"], "/reports/dashboard", **PERIOD).get_json()
    with app.app_context():
        points, _soon = open_points(get_session(), merchant_id="shop", now=utcnow())
    assert body["liability"][0]["points"] == points
