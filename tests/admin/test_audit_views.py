"""The Audit page and its CSV: the filters in the URL, keyset pages, the same query exported."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import UTC, datetime, timedelta

from flask import Flask

from loyalty_plugin.extensions import get_session
from loyalty_plugin.services.audit import Actor, record_change

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def changes(app: Flask, count: int, *, merchant: str = "shop", actor: Actor | None = None) -> None:
    """``count`` settings changes, a day apart from T0, each from ``max_invoice_share`` n to n+1."""
    with app.app_context():
        session = get_session()
        for n in range(count):
            record_change(
                session,
                merchant_id=merchant,
                actor=actor or Actor.staff(7, "Ana Lima"),
                action="settings.updated",
                target_type="settings",
                target_id=merchant,
                before={"max_invoice_share": str(n)},
                after={"max_invoice_share": str(n + 1)},
                now=T0 + timedelta(days=n),
            )
        session.commit()


def test_the_page_shows_who_when_what_and_the_diff(app, admin_client) -> None:
    """A manager sees each change with its actor, action, target and before → after."""
    manager = admin_client(role="manager")
    changes(app, 1)
    page = manager.get(manager.m("/audit"))
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "settings.updated" in text and "Ana Lima" in text
    assert "<del>0</del>" in text and "<ins>1</ins>" in text
    assert 'href="/loyalty/admin/m/shop/audit?actor=staff:7"' in text


def test_filters_stay_in_the_url_and_pages_go_back_in_time(app, admin_client) -> None:
    """Filters narrow the list; 'Older' keeps them; a bad day is a 422 naming the field."""
    manager = admin_client(role="manager")
    changes(app, 60)
    changes(app, 1, actor=Actor.api_key("lk_zz99zz99"))
    first = manager.get(manager.m("/audit?actor=ana")).get_data(as_text=True)
    assert first.count('data-action="settings.updated"') == 50
    assert "lk_zz99zz99" not in first
    link = re.search(r'href="([^"]+)" data-testid="audit-older"', first)
    assert link and "actor=ana" in link.group(1) and "before=" in link.group(1)
    older = manager.get(html.unescape(link.group(1))).get_data(as_text=True)
    assert older.count('data-action="settings.updated"') == 10
    assert 'data-testid="audit-older"' not in older
    window = manager.get(manager.m("/audit?from=2026-03-03&to=2026-03-04")).get_data(as_text=True)
    assert window.count('data-action="settings.updated"') == 2
    bad = manager.get(manager.m("/audit?from=2026-13-01"))
    assert bad.status_code == 422 and "YYYY-MM-DD" in bad.get_data(as_text=True)
    reversed_days = manager.get(manager.m("/audit?from=2026-03-04&to=2026-03-03"))
    assert reversed_days.status_code == 422


def test_the_csv_streams_the_same_search(app, admin_client) -> None:
    """The export has the page's filters: header, then every matching row, newest first."""
    owner = admin_client(role="owner")
    changes(app, 3)
    changes(app, 2, actor=Actor.api_key("lk_zz99zz99"))
    answer = owner.get(owner.m("/audit.csv?actor=api_key:lk_zz99zz99"))
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert answer.is_streamed
    assert 'filename="audit-shop.csv"' in answer.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    assert [(r["actor_id"], r["after"]) for r in rows] == [
        ("lk_zz99zz99", '{"max_invoice_share": "2"}'),
        ("lk_zz99zz99", '{"max_invoice_share": "1"}'),
    ]


def test_another_merchants_rows_never_show(app, admin_client, staff_member) -> None:
    """Each merchant sees its own trail only."""
    manager = admin_client(role="manager")
    staff_member(role="owner", merchant="other")
    changes(app, 1, merchant="other", actor=Actor.staff(9, "Zed Other"))
    text = manager.get(manager.m("/audit")).get_data(as_text=True)
    assert "Zed Other" not in text
