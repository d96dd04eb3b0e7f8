"""The Cards screen with the test client: list, generate, import, CSV, assign, block, replace."""

from __future__ import annotations

import csv
import io
import re

from flask import Flask
from sqlalchemy import func, select

from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import AuditEntry, Card, CardStatus, Customer


def _customer(app: Flask, host_id: str = "c1", merchant: str = "shop") -> None:
    with app.app_context():
        session = get_session()
        session.add(Customer(merchant_id=merchant, host_customer_id=host_id, first_name="Ana",
                             last_name="Silva"))  # fmt: skip
        session.commit()


def _numbers(app: Flask, status: CardStatus | None = None) -> list[str]:
    with app.app_context():
        query = select(Card.number).order_by(Card.number)
        if status is not None:
            query = query.where(Card.status == status)
        return list(get_session().scalars(query))


def _generate(client, count: int = 5, **fields: str):
    form = {"count": str(count), "prefix": "2977", "length": "13", "check_digit": "luhn"}
    return client.post(client.m("/cards/generate"), data=form | fields)


def test_a_manager_generates_a_batch_and_downloads_it(app, admin_client) -> None:
    manager = admin_client(role="manager")
    answer = _generate(manager, 100, form_key="k1")
    assert answer.status_code == 303
    assert re.search(r"/cards\?batch=\d+$", answer.headers["Location"])
    page = manager.get(answer.headers["Location"])
    assert page.status_code == 200
    assert b"100 cards made in batch" in page.data
    assert page.data.count(b'data-card="') == 25  # the first page
    batch_id = answer.headers["Location"].rsplit("=", 1)[1]
    download = manager.get(manager.m(f"/cards/batches/{batch_id}.csv"))
    assert download.status_code == 200
    assert download.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(download.get_data(as_text=True))))
    assert sorted(r["number"] for r in rows) == _numbers(app)


def test_a_double_submit_makes_one_batch(app, admin_client) -> None:
    """The form's one-time key: the same form posted twice generates once."""
    manager = admin_client(role="manager")
    _generate(manager, 3, form_key="same")
    _generate(manager, 3, form_key="same")
    assert len(_numbers(app)) == 3


def test_a_bad_scheme_re_renders_with_the_field_at_fault(app, admin_client) -> None:
    manager = admin_client(role="manager")
    answer = _generate(manager, 3, length="40")
    assert answer.status_code == 422
    assert b"Must be 8 to 19 digits." in answer.data
    assert b'value="40"' in answer.data
    answer = _generate(manager, 0)
    assert answer.status_code == 422
    assert b"Must be a whole number from 1 to 50000." in answer.data
    assert _numbers(app) == []


def test_staff_may_not_make_cards(app, admin_client) -> None:
    clerk = admin_client(role="staff")
    assert _generate(clerk, 3).status_code == 403
    page = clerk.get(clerk.m("/cards"))
    assert page.status_code == 200
    assert b"Generate a batch" not in page.data


def test_an_import_with_bad_lines_lists_them_and_imports_nothing(app, admin_client) -> None:
    manager = admin_client(role="manager")
    body = b"number\n2977 0000 0000 7\n2977000000001\n"
    form = {"length": "13", "prefix": "2977", "check_digit": "luhn",
            "file": (io.BytesIO(body), "cards.csv")}  # fmt: skip
    answer = manager.post(manager.m("/cards/import"), data=form,
                          content_type="multipart/form-data")  # fmt: skip
    assert answer.status_code == 422
    assert b"1 line refused; no card was imported" in answer.data
    assert b"line 3: number: the check digit does not match (luhn)" in answer.data
    assert _numbers(app) == []
    good = {"length": "13", "prefix": "2977", "check_digit": "luhn",
            "file": (io.BytesIO(body.replace(b"2977000000001\n", b"")), "cards.csv")}  # fmt: skip
    answer = manager.post(manager.m("/cards/import"), data=good,
                          content_type="multipart/form-data")  # fmt: skip
    assert answer.status_code == 303
    assert _numbers(app) == ["2977000000007"]


def test_an_import_without_a_file_names_the_field(app, admin_client) -> None:
    manager = admin_client(role="manager")
    answer = manager.post(manager.m("/cards/import"), data={},
                          content_type="multipart/form-data")  # fmt: skip
    assert answer.status_code == 422
    assert b"Choose the CSV file of card numbers." in answer.data


def test_staff_assign_replace_and_block(app, admin_client) -> None:
    """The desk gives a card, replaces it when lost; the customer keeps the new one."""
    _generate(admin_client(role="manager"), 3)
    _customer(app)
    first, second, third = _numbers(app)
    clerk = admin_client(role="staff")
    answer = clerk.post(clerk.m(f"/cards/{first}/assign"), data={"customer_id": "c1"})
    assert answer.status_code == 303
    page = clerk.get(answer.headers["Location"])
    assert b"is now customer c1" in page.data
    assert b"Ana Silva" in page.data
    answer = clerk.post(clerk.m(f"/cards/{first}/replace"),
                        data={"new_number": second, "reason": "lost"})  # fmt: skip
    assert answer.status_code == 303
    assert _numbers(app, CardStatus.ASSIGNED) == [second]
    assert _numbers(app, CardStatus.REPLACED) == [first]
    answer = clerk.post(clerk.m(f"/cards/{third}/block"), data={"reason": "stolen"})
    assert answer.status_code == 303
    assert _numbers(app, CardStatus.BLOCKED) == [third]
    found = clerk.get(clerk.m("/cards"), query_string={"number": second[:6]})
    assert f'data-card="{second}"'.encode() in found.data
    assert b"Ana Silva" in found.data
    with app.app_context():
        actions = get_session().scalars(select(AuditEntry.action).order_by(AuditEntry.id))
        assert [a for a in actions if a.startswith("card")] == [
            "card_batch.generated", "card.assigned", "card.replaced", "card.blocked"
        ]  # fmt: skip


def test_a_failed_assign_re_renders_with_the_message(app, admin_client) -> None:
    _generate(admin_client(role="manager"), 1)
    (number,) = _numbers(app)
    clerk = admin_client(role="staff")
    answer = clerk.post(clerk.m(f"/cards/{number}/assign"), data={"customer_id": "nobody"})
    assert answer.status_code == 422
    assert b"Customer &#39;nobody&#39; does not exist." in answer.data
    assert b'value="nobody"' in answer.data
    empty = clerk.post(clerk.m(f"/cards/{number}/assign"), data={"customer_id": " "})
    assert empty.status_code == 422
    assert b"Is required." in empty.data


def test_unknown_cards_and_other_merchants_batches_are_404(app, admin_client) -> None:
    manager = admin_client(role="manager")
    _generate(manager, 1)
    assert manager.get(manager.m("/cards/2977000000007")).status_code == 404
    answer = manager.post(manager.m("/cards/2977000000007/block"), data={"reason": "x"})
    assert answer.status_code == 404
    stranger = admin_client(role="owner", merchant="other")
    with app.app_context():
        batch_id = get_session().scalar(select(func.max(Card.batch_id)))
    assert stranger.get(stranger.m(f"/cards/batches/{batch_id}.csv")).status_code == 404
    assert stranger.get(stranger.m(f"/cards/batches/{batch_id}.csv", "shop")).status_code == 404


def test_filters_stay_in_the_url_and_bad_ones_are_422(app, admin_client) -> None:
    manager = admin_client(role="manager")
    _generate(manager, 60)
    page = manager.get(manager.m("/cards"), query_string={"status": "available", "page": "3"})
    assert page.status_code == 200
    assert page.data.count(b'data-card="') == 10
    assert b"status=available" in page.data  # the pager keeps the filter
    bad = manager.get(manager.m("/cards"), query_string={"status": "lost"})
    assert bad.status_code == 422
    assert b"One of available, assigned, blocked, replaced." in bad.data


def test_a_managers_card_page_links_to_its_audit_trail(app, admin_client) -> None:
    manager = admin_client(role="manager")
    _generate(manager, 1)
    (number,) = _numbers(app)
    page = manager.get(manager.m(f"/cards/{number}"))
    assert f"/audit?target_type=card&amp;target_id={number}".encode() in page.data
    history = manager.get(manager.m("/audit"), query_string={"target_type": "card_batch"})
    assert b"card_batch.generated" in history.data
    clerk = admin_client(role="staff")
    assert b'data-testid="card-history"' not in clerk.get(clerk.m(f"/cards/{number}")).data
