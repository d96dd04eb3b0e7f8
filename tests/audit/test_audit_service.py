"""The audit trail's service: rows written in the change's transaction, searched, exported."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from loyalty_plugin.domain.errors import ValidationError
from loyalty_plugin.models import AuditEntry, Merchant
from loyalty_plugin.services.audit import (
    Actor,
    AuditQuery,
    bind_request,
    changes,
    export_csv,
    record_change,
    search_audit,
)
from loyalty_plugin.services.transaction import run_in_transaction

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
ANA = Actor.staff(12, "Ana Lima")
KEY = Actor.api_key("lk_ab12cd34")


@pytest.fixture
def merchants(session):
    session.add_all(
        [
            Merchant(id="shop", name="Shop", currency="EUR"),
            Merchant(id="other", name="Other", currency="EUR"),
        ]
    )
    session.commit()
    return session


def _record(
    session,
    *,
    actor=ANA,
    action="program.updated",
    target=("program", "p1"),
    at=T0,
    merchant="shop",
):
    return record_change(
        session,
        merchant_id=merchant,
        actor=actor,
        action=action,
        target_type=target[0],
        target_id=target[1],
        before={"rate": Decimal("0.10")},
        after={"rate": Decimal("0.20")},
        now=at,
    )


def _count(session) -> int:
    return session.scalar(select(func.count()).select_from(AuditEntry))


def test_a_change_is_recorded_with_who_what_and_before_after(merchants) -> None:
    """The row keeps the actor, action, target and JSON before/after (decimals, dates as text)."""
    session = merchants
    bind_request(session, request_id="req-1", address="203.0.113.9")
    record_change(
        session,
        merchant_id="shop",
        actor=ANA,
        action="settings.updated",
        target_type="settings",
        target_id="shop",
        before={"point_value": Decimal("0.0100"), "until": None},
        after={"point_value": Decimal("0.0200"), "until": datetime(2026, 5, 1, tzinfo=UTC)},
        now=T0,
    )
    session.commit()
    session.expunge_all()
    row = session.scalars(select(AuditEntry)).one()
    assert (row.actor_kind, row.actor_id, row.actor_name) == ("staff", "12", "Ana Lima")
    assert (row.action, row.target_type, row.target_id) == ("settings.updated", "settings", "shop")
    assert row.before == {"point_value": "0.0100", "until": None}
    assert row.after == {"point_value": "0.0200", "until": "2026-05-01T00:00:00+00:00"}
    assert row.occurred_at == T0
    assert (row.request_id, row.address) == ("req-1", "203.0.113.9")
    assert changes(row) == [
        ("point_value", "0.0100", "0.0200"),
        ("until", None, "2026-05-01T00:00:00+00:00"),
    ]


def test_the_audit_row_rolls_back_with_its_change(merchants) -> None:
    """Recorded inside the change's transaction: when the change fails, neither is kept."""
    session = merchants

    def work(s):
        s.get(Merchant, "shop").name = "Renamed"
        _record(s, action="merchant.renamed", target=("merchant", "shop"))
        raise ValidationError("refused after the change", field="name")

    with pytest.raises(ValidationError):
        run_in_transaction(session, work)
    session.expire_all()
    assert session.get(Merchant, "shop").name == "Shop"
    assert _count(session) == 0

    def committed(s):
        s.get(Merchant, "shop").name = "Renamed"
        return _record(s, action="merchant.renamed", target=("merchant", "shop"))

    run_in_transaction(session, committed)
    assert _count(session) == 1


def test_actor_labels_match_what_ledger_rows_say() -> None:
    """Labels are the strings ledger rows carry; labels read back into the same actor."""
    assert ANA.label == "staff:12 Ana Lima"
    assert KEY.label == "api:lk_ab12cd34"
    assert Actor.cli("root").label == "cli:root"
    assert Actor.from_label("api:lk_ab12cd34") == KEY
    assert Actor.from_label("staff:12 Ana Lima") == ANA
    assert Actor.from_label("cli") == Actor.cli("cli")
    assert Actor.from_label("demo") == Actor("system", "demo", "demo")
    with pytest.raises(ValueError, match="unknown actor kind"):
        Actor("robot", "1", "R2")


def test_search_filters_and_pages_newest_first(merchants) -> None:
    """Actor, action (or its thing), target and dates combine; pages go from newest to oldest."""
    session = merchants
    for day in range(6):
        _record(session, at=T0 + timedelta(days=day), actor=ANA if day % 2 else KEY)
    _record(
        session, action="adjustment.approved", target=("adjustment", "7"), at=T0 + timedelta(days=9)
    )
    _record(session, merchant="other", at=T0)
    session.commit()

    def ids(query, **kwargs):
        page = search_audit(session, merchant_id="shop", query=query, **kwargs)
        return [e.occurred_at.day for e in page.entries], page.next_before

    everything, _ = ids(AuditQuery())
    assert everything == [10, 6, 5, 4, 3, 2, 1]
    assert ids(AuditQuery(actor="staff:12"))[0] == [10, 6, 4, 2]
    assert ids(AuditQuery(actor="ana"))[0] == [10, 6, 4, 2]
    assert ids(AuditQuery(actor="api_key:lk_ab12cd34"))[0] == [5, 3, 1]
    assert ids(AuditQuery(action="adjustment"))[0] == [10]
    assert ids(AuditQuery(action="program.updated"))[0] == [6, 5, 4, 3, 2, 1]
    assert ids(AuditQuery(action="program.upd"))[0] == []
    assert ids(AuditQuery(target_type="adjustment", target_id="7"))[0] == [10]
    window = AuditQuery(since=T0 + timedelta(days=1), until=T0 + timedelta(days=3))
    assert ids(window)[0] == [3, 2]
    first, cursor = ids(AuditQuery(), limit=3)
    assert first == [10, 6, 5]
    second, cursor = ids(AuditQuery(), limit=3, before_id=cursor)
    assert second == [4, 3, 2]
    assert ids(AuditQuery(), limit=3, before_id=cursor) == ([1], None)
    with pytest.raises(ValidationError):
        search_audit(session, merchant_id="shop", query=AuditQuery(), limit=0)


def test_csv_export_streams_the_same_query_in_batches(merchants) -> None:
    """Header, then one line per row, newest first, across keyset batches; formulas defused."""
    session = merchants
    for day in range(5):
        _record(session, at=T0 + timedelta(days=day))
    _record(session, actor=Actor.staff(3, "=HYPERLINK(1)"), at=T0 + timedelta(days=7))
    _record(session, merchant="other")
    session.commit()
    lines = export_csv(session, merchant_id="shop", query=AuditQuery(action="program"), batch=2)
    assert next(lines).startswith("id,occurred_at,actor_kind")
    rows = list(csv.reader(io.StringIO("".join(lines))))
    assert [r[1][:10] for r in rows] == [
        "2026-03-08",
        "2026-03-05",
        "2026-03-04",
        "2026-03-03",
        "2026-03-02",
        "2026-03-01",
    ]
    assert rows[0][4] == "'=HYPERLINK(1)"
    assert rows[1][8:10] == ['{"rate": "0.10"}', '{"rate": "0.20"}']


def test_newest_first_is_by_when_and_a_cursor_must_be_the_merchants(merchants) -> None:
    """A change recorded later with an earlier clock sorts by its time; another merchant's
    row is no cursor."""
    session = merchants
    late = _record(session, at=T0 + timedelta(days=2))
    early = _record(session, at=T0)
    middle = _record(session, at=T0 + timedelta(days=1))
    foreign = _record(session, merchant="other")
    session.commit()
    page = search_audit(session, merchant_id="shop", query=AuditQuery(), limit=2)
    assert [e.id for e in page.entries] == [late.id, middle.id]
    rest = search_audit(session, merchant_id="shop", query=AuditQuery(), before_id=page.next_before)
    assert [e.id for e in rest.entries] == [early.id]
    lines = list(export_csv(session, merchant_id="shop", query=AuditQuery(), batch=1))
    assert [line.split(",")[0] for line in lines[1:]] == [
        str(late.id),
        str(middle.id),
        str(early.id),
    ]
    with pytest.raises(ValidationError, match="not a page"):
        search_audit(session, merchant_id="shop", query=AuditQuery(), before_id=foreign.id)
