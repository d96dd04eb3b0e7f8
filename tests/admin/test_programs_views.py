"""The Programs screen with the test client: list, create, rule editors, activate, simulate.

Each form's answer to a bad value is compared with the API's answer to the same value.
"""

from __future__ import annotations

import html
import io
import json
import time
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from loyalty_plugin.domain.signatures import signature_headers
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import Account, ApiScope, AuditEntry, Customer, ProgramVersion
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.merchants.api_keys import create_api_key
from loyalty_plugin.services.merchants.secrets import create_secret

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def _send_invoice(client: Any, number: int, items: list[dict[str, Any]], merchant="shop") -> None:
    body = json.dumps({
        "type": "invoice.paid", "merchant_id": merchant, "occurred_at": utcnow().isoformat(),
        "data": {"invoice": {"id": f"INV-{number}", "customer_id": f"c{number}",
                             "currency": "EUR", "total": str(sum(float(i["total"]) for i in items)),
                             "items": items}},
    }).encode()  # fmt: skip
    headers = signature_headers(
        [SECRET], msg_id=f"m{number}", timestamp=int(time.time()), body=body
    )
    answer = client.post("/loyalty/webhooks", data=body,
                         headers=headers | {"content-type": "application/json"})  # fmt: skip
    assert answer.status_code in (200, 201, 202), answer.data


def _secret(app: Flask, merchant: str = "shop") -> None:
    with app.app_context():
        session = get_session()
        create_secret(session, merchant_id=merchant, now=utcnow(), secret=SECRET)
        session.commit()


def _api_key(app: Flask) -> str:
    with app.app_context():
        session = get_session()
        _, token = create_api_key(session, merchant_id="shop", scope=ApiScope.ADMIN, name="t",
                                  now=utcnow())  # fmt: skip
        session.commit()
        return token


def _audit(app: Flask, action: str) -> int:
    with app.app_context():
        return get_session().scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)
        )


def _create(manager, key: str = "spring", name: str = "Spring") -> None:
    answer = manager.post(manager.m("/programs"), {"key": key, "name": name, "form_key": "k"})
    assert answer.status_code == 303, answer.data


def _rule(manager, key: str, form: dict[str, Any]):
    return manager.post(manager.m(f"/programs/{key}/rules"), form)


def test_a_manager_creates_a_program_with_rules_and_sees_them_in_words(app, admin_client) -> None:
    manager = admin_client(role="manager")
    _create(manager)
    assert (
        _rule(
            manager,
            "spring",
            {
                "kind": "per_amount",
                "id": "base",
                "points": "2",
                "per": "1",
                "exclude_tags": "gift_card",
            },
        ).status_code
        == 303
    )
    assert (
        _rule(
            manager,
            "spring",
            {
                "kind": "category",
                "id": "shoes",
                "categories": "shoes",
                "mode": "ratio",
                "points": "3",
                "per": "1",
                "exclude_products": "GIFT",
            },
        ).status_code
        == 303
    )
    page = manager.get(manager.m("/programs/spring")).get_data(as_text=True)
    assert "2 points per €1 spent, not on gift cards" in page
    assert "3 points per €1 on shoes and its sub-categories, not on GIFT" in page
    listing = manager.get(manager.m("/programs")).get_data(as_text=True)
    assert 'data-program="spring"' in listing and "draft" in listing
    assert _audit(app, "program.created") == 2  # the default program and this one
    assert _audit(app, "program.updated") == 2


def test_a_bad_rule_re_renders_at_its_field_as_the_api_answers(app, admin_client) -> None:
    manager = admin_client(role="manager")
    _create(manager)
    answer = _rule(manager, "spring", {"kind": "per_amount", "id": "base", "points": "2",
                                       "per": "0"})  # fmt: skip
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert 'id="f-per-error"' in page and 'value="0"' in page
    token = _api_key(app)
    api = manager.client.patch("/loyalty/api/v1/programs/spring",
                               json={"rules": [{"kind": "per_amount", "id": "base",
                                                "points": "2", "per": "0"}]},
                               headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert api.status_code == 422
    message = api.get_json()["error"]["fields"]["rules.0.per"][0]
    assert f"{message[0].upper()}{message[1:].rstrip('.')}." in page
    with app.app_context():
        rules = get_session().scalars(select(ProgramVersion.settings)).all()
    assert all(not any(r.get("per") == "0" for r in s.get("rules", [])) for s in rules)


def test_a_bad_key_answers_as_the_api(app, admin_client) -> None:
    manager = admin_client(role="manager")
    answer = manager.post(manager.m("/programs"), {"key": "Bad Key!", "name": "X"})
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert 'id="f-key-error"' in page and 'value="Bad Key!"' in page
    token = _api_key(app)
    api = manager.client.post("/loyalty/api/v1/programs", json={"key": "Bad Key!", "name": "X"},
                              headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert api.status_code == 422
    message = api.get_json()["error"]["fields"]["key"][0]
    assert message.rstrip(".")[1:] in page


def test_an_active_program_changes_by_new_versions(app, admin_client) -> None:
    manager = admin_client(role="manager")
    _create(manager)
    _rule(manager, "spring", {"kind": "per_order", "id": "order", "points": "5"})
    assert manager.post(manager.m("/programs/spring/activate"), {}).status_code == 303
    assert _audit(app, "program.activated") == 1
    answer = _rule(
        manager,
        "spring",
        {
            "kind": "per_order",
            "id": "order",
            "points": "7",
            "original": "order",
            "effective_from": "2099-01-01",
        },
    )
    assert answer.status_code == 303
    with app.app_context():
        versions = (
            get_session()
            .execute(
                select(ProgramVersion.number, ProgramVersion.settings).order_by(ProgramVersion.id)
            )
            .all()[-2:]
        )
    assert [(n, s["rules"][0]["points"]) for n, s in versions] == [(1, 5), (2, 7)]
    page = manager.get(manager.m("/programs/spring")).get_data(as_text=True)
    assert "version 1 in force" in page
    assert manager.post(manager.m("/programs/spring/archive"), {}).status_code == 303
    assert "archived" in manager.get(manager.m("/programs/spring")).get_data(as_text=True)


def test_staff_read_but_do_not_change(app, admin_client) -> None:
    staff = admin_client(role="staff")
    assert staff.get(staff.m("/programs")).status_code == 200
    assert staff.get(staff.m("/programs/default")).status_code == 200
    assert staff.post(staff.m("/programs"), {"key": "x", "name": "X"}).status_code == 403


def test_the_simulation_compares_the_draft_with_the_version_in_force(app, admin_client) -> None:
    manager = admin_client(role="manager")
    _secret(app)
    _send_invoice(manager.client, 1, [{"id": "L1", "qty": 1, "total": "100.00",
                                       "category_id": "shoes", "product_id": "P1",
                                       "name": "Trail shoe"}])  # fmt: skip
    _send_invoice(manager.client, 2, [{"id": "L1", "qty": 1, "total": "50.00",
                                       "category_id": "socks"}])  # fmt: skip
    _create(manager)
    _rule(manager, "spring", {"kind": "category", "id": "shoes", "categories": "shoes",
                              "mode": "ratio", "points": "2", "per": "1"})  # fmt: skip
    page = manager.get(manager.m("/programs/spring/simulate?last=10")).get_data(as_text=True)
    assert 'data-testid="draft-points">200 ' in page
    assert 'data-testid="difference-points">+200 ' in page
    editor = manager.get(manager.m("/programs/spring/rules/new?kind=category")).get_data(
        as_text=True
    )
    assert '<option value="shoes"' in editor and '<option value="socks"' in editor
    default = manager.get(manager.m("/programs/default/simulate?last=10")).get_data(as_text=True)
    assert 'data-testid="draft-points">15 ' in default  # 1 per 10 on 150.00, both versions
    assert 'data-testid="difference-points">0 ' in default
    bad = manager.get(manager.m("/programs/spring/simulate?last=0"))
    assert bad.status_code == 422 and 'id="f-last-error"' in bad.get_data(as_text=True)


def test_export_then_import_changes_nothing(app, admin_client) -> None:
    manager = admin_client(role="manager")
    exported = manager.get(manager.m("/programs.json"))
    assert exported.mimetype == "application/json"
    answer = manager.post(manager.m("/programs/import"),
                          {"file": (io.BytesIO(exported.data), "programs.json")},
                          content_type="multipart/form-data")  # fmt: skip
    assert answer.status_code == 303
    assert "unchanged default" in manager.get(answer.headers["Location"]).get_data(as_text=True)
    bad = manager.post(manager.m("/programs/import"),
                       {"file": (io.BytesIO(b'{"format": "x"}'), "p.json")},
                       content_type="multipart/form-data")  # fmt: skip
    assert bad.status_code == 422 and 'id="f-file-error"' in bad.get_data(as_text=True)


EDITORS = [
    ("per_amount", {"points": "1", "per": "10", "exclude_tags": "clearance",
                    "exclude_groups": "staff"},
     "1 point per €10 spent, not on clearances; not for customers in staff"),
    ("product", {"products": "SKU-1", "mode": "per_unit", "points_per_unit": "5"},
     "5 points per unit on SKU-1"),
    ("category", {"categories": "shoes", "mode": "ratio", "points": "2", "per": "1"},
     "2 points per €1 on shoes and its sub-categories"),
    ("transaction_fee", {"points": "1", "per": "1"}, "1 point per €1 of the transaction fee"),
    ("per_order", {"points": "20"}, "20 points on every order"),
    ("first_purchase", {"points": "100"}, "100 points on a customer's first order"),
    ("progressive", {"b0_up_to": "1000", "b0_points": "1", "b0_per": "10", "b1_points": "2",
                     "b1_per": "10"},
     "1 point per €10 up to €1,000, then 2 points per €10 of the order"),
    ("segmented", {"b0_from": "0", "b0_to": "500", "b0_points": "10", "b1_from": "500",
                   "b1_points": "80"},
     "10 points for an order from €0 to under €500; 80 points for an order from €500 up"),
    ("custom_event", {"name": "review", "when": "stars=5", "points": "30", "limit_count": "2",
                      "limit_per": "month"},
     "30 points for a “review” event with stars = 5 (at most 2 times a month)"),
    ("registration", {"points": "50"}, "50 points when a customer registers (once ever)"),
    ("birthday", {"points": "100", "limit_count": "1", "limit_per": "year"},
     "100 points on the customer's birthday (once a year)"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "form", "summary"), EDITORS, ids=[e[0] for e in EDITORS])
def test_every_rule_kind_has_an_editor_that_saves_it(admin_client, kind, form, summary) -> None:
    manager = admin_client(role="manager")
    _create(manager)
    assert manager.get(manager.m(f"/programs/spring/rules/new?kind={kind}")).status_code == 200
    answer = _rule(manager, "spring", {"kind": kind, "id": "r1", **form})
    assert answer.status_code == 303, answer.get_data(as_text=True)
    page = manager.get(manager.m("/programs/spring")).get_data(as_text=True)
    assert html.escape(summary, quote=False) in page.replace("&#39;", "'")
    editor = manager.get(manager.m("/programs/spring/rules/r1"))
    assert editor.status_code == 200  # the stored rule reads back into its form
    again = _rule(manager, "spring", {"kind": kind, "id": "r1", "original": "r1", **form})
    assert again.status_code == 303  # saving it unchanged is harmless


def test_pause_and_resume_keep_the_versions(app, admin_client) -> None:
    manager = admin_client(role="manager")
    _create(manager)
    _rule(manager, "spring", {"kind": "per_order", "id": "order", "points": "5"})
    manager.post(manager.m("/programs/spring/activate"), {})
    with app.app_context():
        before = (
            get_session()
            .execute(select(ProgramVersion.number, ProgramVersion.effective_from))
            .all()
        )
    assert manager.post(manager.m("/programs/spring/pause"), {}).status_code == 303
    assert 'data-testid="program-status">paused' in manager.get(
        manager.m("/programs/spring")
    ).get_data(as_text=True)
    assert manager.post(manager.m("/programs/spring/activate"), {}).status_code == 303
    with app.app_context():
        after = (
            get_session()
            .execute(select(ProgramVersion.number, ProgramVersion.effective_from))
            .all()
        )
    assert after == before
    assert _audit(app, "program.paused") == 1
    assert _audit(app, "program.activated") == 2


def test_a_draft_cannot_be_paused_through_the_page_or_the_api(app, admin_client) -> None:
    manager = admin_client(role="manager")
    _create(manager)
    page = manager.post(manager.m("/programs/spring/pause"), {})
    assert page.status_code == 422
    token = _api_key(app)
    api = manager.client.post("/loyalty/api/v1/programs/spring/pause",
                              headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert api.status_code == 409
    message = api.get_json()["error"]["message"]
    assert message.replace("'", "&#39;")[1:] in page.get_data(as_text=True)


def _balance(app: Flask, host_id: str) -> int:
    with app.app_context():
        found = get_session().scalar(
            select(Account.balance).join(Customer).where(Customer.host_customer_id == host_id)
        )
        return found or 0


def test_a_paused_program_earns_nothing_until_resumed(app, admin_client) -> None:
    manager = admin_client(role="manager")
    _secret(app)
    manager.post(manager.m("/programs/default/archive"), {})
    _create(manager)
    _rule(manager, "spring", {"kind": "per_order", "id": "order", "points": "5"})
    manager.post(manager.m("/programs/spring/activate"), {})
    manager.post(manager.m("/programs/spring/pause"), {})
    _send_invoice(manager.client, 7, [{"id": "L1", "qty": 1, "total": "10.00"}])
    assert _balance(app, "c7") == 0
    manager.post(manager.m("/programs/spring/activate"), {})
    _send_invoice(manager.client, 8, [{"id": "L1", "qty": 1, "total": "10.00"}])
    assert _balance(app, "c8") == 5


def test_the_editor_finds_a_product_among_those_the_shop_sent(app, admin_client) -> None:
    manager = admin_client(role="manager")
    _secret(app)
    _send_invoice(manager.client, 1, [
        {"id": "L1", "qty": 1, "total": "10.00", "product_id": "P1", "name": "Trail shoe"},
        {"id": "L2", "qty": 1, "total": "5.00", "product_id": "P2", "name": "Wool socks"},
    ])  # fmt: skip
    _create(manager)
    page = manager.get(manager.m("/programs/spring/rules/new?kind=product&q=trail"))
    text = page.get_data(as_text=True)
    assert '<option value="P1">Trail shoe (P1)</option>' in text
    assert '<option value="P2"' not in text


def test_bad_settings_re_render_at_the_field_as_the_api_answers(app, admin_client) -> None:
    manager = admin_client(role="manager")
    _create(manager)
    form = {"name": "Spring", "combination": "stack", "priority": "5000", "pending_days": "0",
            "rounding": "down"}  # fmt: skip
    answer = manager.post(manager.m("/programs/spring"), form)
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert 'id="f-priority-error"' in page and 'value="5000"' in page
    token = _api_key(app)
    api = manager.client.patch("/loyalty/api/v1/programs/spring", json={"priority": 5000},
                               headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert api.status_code == 422
    message = api.get_json()["error"]["fields"]["priority"][0]
    assert message.rstrip(".")[1:] in page
    with app.app_context():
        settings = get_session().scalars(select(ProgramVersion.settings)).all()
    assert all(s["priority"] == 0 for s in settings)


def test_new_program_submitted_twice_creates_it_once(app, admin_client) -> None:
    """A double click on "Create draft" (the same form key) opens the program both times;
    another form naming a key in use is still told it exists."""
    manager = admin_client(role="manager")
    before = _audit(app, "program.created")  # the merchant's default program
    form = {"key": "spring", "name": "Spring", "form_key": "one-click"}
    first = manager.post(manager.m("/programs"), form)
    second = manager.post(manager.m("/programs"), form)
    assert (first.status_code, second.status_code) == (303, 303), second.data
    assert first.headers["Location"] == second.headers["Location"]
    assert _audit(app, "program.created") == before + 1
    other = manager.post(manager.m("/programs"), form | {"form_key": "another"})
    assert other.status_code == 422
    assert "already exists" in other.get_data(as_text=True)
    mistake = {"key": "Bad Key!", "name": "Summer", "form_key": "kept"}
    assert manager.post(manager.m("/programs"), mistake).status_code == 422
    fixed = manager.post(manager.m("/programs"), mistake | {"key": "summer"})
    assert fixed.status_code == 303 and _audit(app, "program.created") == before + 2
    token = _api_key(app)
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "create-autumn"}
    body = {"key": "autumn", "name": "Autumn"}
    made = manager.client.post("/loyalty/api/v1/programs", json=body, headers=headers)
    again = manager.client.post("/loyalty/api/v1/programs", json=body, headers=headers)
    assert (made.status_code, again.status_code) == (201, 201)
    assert made.get_json() == again.get_json()
    assert _audit(app, "program.created") == before + 3
