"""The authorization walk: every admin URL of the app is classified in ``ROUTES`` and refuses
an anonymous visitor, another merchant's staff and a role that is too low.

It reads the app's URL map and the route table, so it covers routes that screens add
later without being edited: a new URL that is not in ``ROUTES`` fails it.
"""

from __future__ import annotations

import re

from flask import Flask

from loyalty_plugin.models import StaffRole
from loyalty_plugin.web.admin.access import route_of
from loyalty_plugin.web.admin.blueprint import ROUTES

_IGNORED_METHODS = {"HEAD", "OPTIONS"}
_PARAM = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


def admin_rules(app: Flask) -> list:
    return [
        rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("admin.") and rule.endpoint != "admin.static"
    ]


def fill(rule: str, merchant_id: str) -> str:
    """The rule with its parameters filled: the merchant, 1 for numbers, ``x`` otherwise."""

    def value(match: re.Match[str]) -> str:
        converter, name = match.group(1), match.group(2)
        if name == "merchant_id":
            return merchant_id
        return "1" if converter in ("int", "float") else "x"

    return _PARAM.sub(value, rule)


def test_every_admin_url_is_classified(app: Flask) -> None:
    """Each admin URL and method of the app has its line (and role) in ROUTES."""
    missing = []
    for rule in admin_rules(app):
        route = route_of(rule.endpoint)
        methods = set(rule.methods or ()) - _IGNORED_METHODS
        if route is None or not methods <= set(route.methods):
            missing.append(f"{sorted(methods)} {rule.rule} ({rule.endpoint})")
    assert missing == [], "admin URLs missing from ROUTES"
    assert len(admin_rules(app)) == len(ROUTES)


def test_anonymous_visitors_are_sent_to_sign_in(app: Flask, staff_member) -> None:
    """Every non-public admin URL redirects an anonymous visitor to the sign-in page."""
    staff_member(merchant="shop")
    client = app.test_client()
    for method, url, route in _requests(app, "shop"):
        if route.role is None:
            continue
        answer = client.open(url, method=method)
        assert answer.status_code == 303, (method, url)
        assert "/loyalty/admin/sign-in" in answer.headers["Location"], (method, url)


def test_another_merchants_staff_gets_not_found(app: Flask, admin_client, staff_member) -> None:
    """An owner of another merchant learns nothing about this one: 404 on every page."""
    staff_member(merchant="shop")
    stranger = admin_client(role="owner", merchant="other")
    for method, url, route in _requests(app, "shop"):
        if route.role is None or not route.merchant_scoped:
            continue
        answer = stranger.client.open(url, method=method, data={"csrf": stranger.csrf})
        assert answer.status_code == 404, (method, url)
        assert b"This page does not exist" in answer.data


def test_a_role_too_low_is_forbidden(app: Flask, admin_client) -> None:
    """Every merchant page that needs more than the staff role refuses the role below (403)."""
    clients = {role: admin_client(role=role, merchant="shop") for role in StaffRole}
    checked = 0
    for method, url, route in _requests(app, "shop"):
        if route.role is None or not route.merchant_scoped or route.role == StaffRole.STAFF:
            continue
        below = list(StaffRole)[route.role.rank - 1]
        client = clients[below]
        answer = client.client.open(url, method=method, data={"csrf": client.csrf})
        assert answer.status_code == 403, (method, url, below)
        checked += 1
    assert checked > 0


def _requests(app: Flask, merchant_id: str) -> list[tuple[str, str, object]]:
    result = []
    for rule in admin_rules(app):
        route = route_of(rule.endpoint)
        assert route is not None, rule.rule
        for method in sorted(set(rule.methods or ()) - _IGNORED_METHODS):
            result.append((method, fill(rule.rule, merchant_id), route))
    return result
