"""``loyalty staff``: local accounts made, listed and removed from the command line."""

from __future__ import annotations

import json
import re

from flask import Flask

from loyalty_plugin.cli import main
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import AuditEntry
from tests.admin.conftest import ADMIN, ensure_merchant
from tests.admin.test_sign_in import CSRF, sign_in


def test_create_asks_the_password_twice_and_the_account_signs_in(app: Flask) -> None:
    """`staff create` asks the password twice; the owner can then sign in with it."""
    with app.app_context():
        ensure_merchant("shop")
    runner = app.test_cli_runner()
    result = runner.invoke(
        main,
        ["staff", "create", "--merchant", "shop", "--email", "Owner@Shop.example",
         "--role", "owner", "--name", "Olga"],
        input="a good password\na good password\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "owner@shop.example added owner at shop" in result.output
    assert sign_in(app.test_client(), "owner@shop.example", "a good password").status_code == 303
    with app.app_context():
        entry = get_session().query(AuditEntry).filter_by(action="staff.added").one()
        assert entry.actor_kind == "cli" and entry.after["role"] == "owner"


def test_create_with_link_prints_a_working_set_password_link(app: Flask) -> None:
    """`--link` asks nothing and prints a one-time link that opens the set-password page."""
    with app.app_context():
        ensure_merchant("shop")
    app.config["LOYALTY_PUBLIC_URL"] = "https://loyalty.example"
    result = app.test_cli_runner().invoke(
        main, ["staff", "create", "--merchant", "shop", "--email", "m@x.example",
               "--role", "manager", "--link"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    url = re.search(r"https://loyalty\.example(/loyalty/admin/password/\S+)", result.output)
    client = app.test_client()
    page = client.get(url.group(1))
    assert page.status_code == 200 and "m@x.example" in page.get_data(as_text=True)
    csrf = CSRF.search(page.get_data(as_text=True)).group(1)
    form = {"password": "chosen password", "password_again": "chosen password", "csrf": csrf}
    assert client.post(url.group(1), data=form).status_code == 303
    assert client.get(url.group(1)).status_code == 404


def test_list_and_remove(app: Flask, staff_member) -> None:
    """`staff list` shows each role per merchant; `staff remove` keeps the last owner."""
    owner = staff_member(role="owner", email="ana@example.com", name="Ana")
    staff_member(role="staff", email="ana@example.com", merchant="cafe")
    staff_member(role="owner", merchant="cafe")
    runner = app.test_cli_runner()
    listed = json.loads(runner.invoke(main, ["staff", "list", "--json"]).output)
    assert [(r["email"], r["merchant_id"], r["role"]) for r in listed][:2] == [
        ("ana@example.com", "cafe", "staff"),
        ("ana@example.com", "shop", "owner"),
    ]
    last = runner.invoke(main, ["staff", "remove", "--merchant", "shop", "--email", owner.email])
    assert last.exit_code == 2 and "at least one owner" in last.output
    gone = runner.invoke(main, ["staff", "remove", "--merchant", "cafe", "--email", owner.email])
    assert gone.exit_code == 0, gone.output
    shown = runner.invoke(main, ["staff", "list", "--merchant", "cafe"]).output
    assert "ana@example.com" not in shown
    unknown = runner.invoke(main, ["staff", "remove", "--merchant", "cafe", "--email", "no@x.y"])
    assert unknown.exit_code == 2


def test_the_admin_prefix_is_served(app: Flask) -> None:
    """The admin pages are mounted under the plugin's prefix."""
    assert app.test_client().get(f"{ADMIN}/sign-in").status_code == 200
