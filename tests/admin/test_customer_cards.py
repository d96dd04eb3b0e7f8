"""A customer's loyalty cards on the customer page: listed, given, replaced and blocked
there (each one card service, audited), refusals re-rendered at the field."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import AuditEntry, Card, CardStatus, Customer
from tests.admin.test_cards_views import _generate, _numbers


def _ana(app: Flask, host_id: str = "c1") -> int:
    with app.app_context():
        session = get_session()
        customer = Customer(merchant_id="shop", host_customer_id=host_id, first_name="Ana",
                            last_name="Silva")  # fmt: skip
        session.add(customer)
        session.commit()
        return customer.id


def _cards(app: Flask) -> dict[str, tuple[CardStatus, int | None]]:
    with app.app_context():
        rows = get_session().execute(select(Card.number, Card.status, Card.customer_id)).all()
        return {number: (status, holder) for number, status, holder in rows}


def _audit(app: Flask) -> list[str]:
    with app.app_context():
        return list(get_session().scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def test_staff_give_replace_and_block_a_card_from_the_customer_page(app, admin_client) -> None:
    manager = admin_client(role="manager")
    _generate(manager, 3, form_key="k")
    first, second, third = _numbers(app)
    ana = _ana(app)
    staff = admin_client(role="staff")
    page = staff.get(staff.m(f"/customers/{ana}")).get_data(as_text=True)
    assert "No card yet." in page and 'data-testid="card-give-form"' in page

    given = staff.post(staff.m(f"/customers/{ana}/cards"), data={"number": first})
    assert given.status_code == 303
    assert given.headers["Location"].endswith(f"/customers/{ana}")
    assert _cards(app)[first] == (CardStatus.ASSIGNED, ana)
    page = staff.get(staff.m(f"/customers/{ana}")).get_data(as_text=True)
    assert f'data-card="{first}"' in page and "card-replace-form" in page
    assert "card-give-form" not in page

    replaced = staff.post(staff.m(f"/customers/{ana}/cards/{first}/replace"),
                          data={"new_number": second, "reason": "lost"})  # fmt: skip
    assert replaced.status_code == 303
    assert _cards(app)[second] == (CardStatus.ASSIGNED, ana)
    assert _cards(app)[first][0] == CardStatus.REPLACED

    blocked = staff.post(staff.m(f"/customers/{ana}/cards/{second}/block"),
                         data={"reason": "stolen"})  # fmt: skip
    assert blocked.status_code == 303
    assert _cards(app)[second][0] == CardStatus.BLOCKED
    assert _cards(app)[third] == (CardStatus.AVAILABLE, None)
    assert _audit(app)[-3:] == ["card.assigned", "card.replaced", "card.blocked"]


def test_refusals_show_the_page_again_at_the_field(app, admin_client) -> None:
    manager = admin_client(role="manager")
    _generate(manager, 2, form_key="k")
    first, second = _numbers(app)
    ana, bo = _ana(app), _ana(app, "c2")
    staff = admin_client(role="staff")
    assert staff.post(staff.m(f"/customers/{ana}/cards"), data={"number": first}).status_code == 303

    empty = staff.post(staff.m(f"/customers/{bo}/cards"), data={"number": " "})
    assert empty.status_code == 422
    assert "enter a card number" in empty.get_data(as_text=True).lower()
    unknown = staff.post(staff.m(f"/customers/{bo}/cards"), data={"number": "4000000000002"})
    assert unknown.status_code == 422
    taken = staff.post(staff.m(f"/customers/{bo}/cards"), data={"number": first})
    assert taken.status_code == 422
    assert f'value="{first}"' in taken.get_data(as_text=True)
    no_reason = staff.post(staff.m(f"/customers/{ana}/cards/{first}/block"), data={"reason": ""})
    assert no_reason.status_code == 422
    # Another customer's card cannot be blocked or replaced from Bo's page.
    assert staff.post(staff.m(f"/customers/{bo}/cards/{first}/block"),
                      data={"reason": "x"}).status_code == 404  # fmt: skip
    assert staff.post(staff.m(f"/customers/{bo}/cards/{first}/replace"),
                      data={"new_number": second}).status_code == 404  # fmt: skip
    assert _cards(app)[first] == (CardStatus.ASSIGNED, ana)
    assert _cards(app)[second] == (CardStatus.AVAILABLE, None)
