"""Signing in and out, choosing a merchant, my sessions, set-password links, CSRF."""

from __future__ import annotations

import re
from datetime import timedelta

from flask import Flask

from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import AdminSession, AuditEntry, LoginAttempt, StaffMember
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.staff.accounts import password_token
from loyalty_plugin.services.staff.sessions import token_hash
from loyalty_plugin.web.admin.access import COOKIE, AdminContext
from loyalty_plugin.web.admin.forms import FORM_COOKIE
from tests.admin.conftest import ADMIN, PASSWORD

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def sign_in(client, email: str, password: str, **extra: str):
    """Open the sign-in page (for its CSRF value), then post the form."""
    page = client.get(f"{ADMIN}/sign-in")
    csrf = CSRF.search(page.get_data(as_text=True)).group(1)
    return client.post(
        f"{ADMIN}/sign-in", data={"email": email, "password": password, "csrf": csrf, **extra}
    )


def test_sign_in_with_a_password_opens_a_session(app: Flask, staff_member) -> None:
    """The right password sets an HttpOnly, SameSite=Lax cookie naming a stored session."""
    staff = staff_member(password=True, name="Ana Owner")
    client = app.test_client()
    answer = sign_in(client, staff.email.upper(), PASSWORD)
    assert answer.status_code == 303
    assert answer.headers["Location"] == f"{ADMIN}/"
    cookie = next(c for c in answer.headers.getlist("Set-Cookie") if c.startswith(COOKIE + "="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and f"Path={ADMIN}/" in cookie
    token = client.get_cookie(COOKIE, path=ADMIN + "/").value
    with app.app_context():
        row = get_session().query(AdminSession).one()
        assert row.token_hash == token_hash(token) != token
    page = client.get(f"{ADMIN}/")
    assert page.status_code == 200
    assert "Ana Owner" in page.get_data(as_text=True) and "Shop" in page.get_data(as_text=True)


def test_a_wrong_password_re_renders_the_form(app: Flask, staff_member) -> None:
    """A wrong password answers 422 with the address kept, a message, and no session."""
    staff = staff_member(password=True)
    client = app.test_client()
    answer = sign_in(client, staff.email, "wrong password!")
    text = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert "The e-mail address or the password is not right." in text
    assert f'value="{staff.email}"' in text
    assert client.get_cookie(COOKIE, path=ADMIN + "/") is None
    with app.app_context():
        assert get_session().query(AdminSession).count() == 0
        assert get_session().query(LoginAttempt).filter_by(succeeded=False).count() == 1


def test_sign_in_form_without_its_csrf_value_is_refused(app: Flask, staff_member) -> None:
    """A sign-in post without the form cookie's value (another site's form) is refused."""
    staff = staff_member(password=True)
    client = app.test_client()
    answer = client.post(f"{ADMIN}/sign-in", data={"email": staff.email, "password": PASSWORD})
    assert answer.status_code == 400
    client.set_cookie(FORM_COOKIE, "chosen-by-attacker", path=ADMIN + "/")
    answer = client.post(
        f"{ADMIN}/sign-in",
        data={"email": staff.email, "password": PASSWORD, "csrf": "chosen-by-attacker"},
    )
    assert answer.status_code == 400
    with app.app_context():
        assert get_session().query(AdminSession).count() == 0


def test_each_sign_in_gets_a_new_session(app: Flask, staff_member) -> None:
    """Signing in again from a signed-in browser ends the old session and makes a new one."""
    staff = staff_member(password=True)
    client = app.test_client()
    sign_in(client, staff.email, PASSWORD)
    first = client.get_cookie(COOKIE, path=ADMIN + "/").value
    csrf = CSRF.search(client.get(f"{ADMIN}/").get_data(as_text=True)).group(1)
    form = {"email": staff.email, "password": PASSWORD, "csrf": csrf}
    assert client.post(f"{ADMIN}/sign-in", data=form).status_code == 303
    assert client.get_cookie(COOKIE, path=ADMIN + "/").value != first
    with app.app_context():
        rows = get_session().query(AdminSession).order_by(AdminSession.id).all()
        assert [r.revoked_at is None for r in rows] == [False, True]


def test_next_goes_back_to_the_page_asked_for_but_never_elsewhere(app, staff_member) -> None:
    """After sign-in the browser returns to the admin page it asked for, not another site."""
    staff = staff_member(password=True)
    client = app.test_client()
    answer = client.get(f"{ADMIN}/sessions")
    assert answer.headers["Location"] == f"{ADMIN}/sign-in?next=/loyalty/admin/sessions"
    assert (
        sign_in(client, staff.email, PASSWORD, next=f"{ADMIN}/sessions").headers["Location"]
        == f"{ADMIN}/sessions"
    )
    other = app.test_client()
    answer = sign_in(other, staff.email, PASSWORD, next="https://evil.example/")
    assert answer.headers["Location"] == f"{ADMIN}/"


def test_sign_out_revokes_the_session_on_the_server(app: Flask, admin_client) -> None:
    """After signing out, the old cookie opens nothing (the session is revoked, not forgotten)."""
    owner = admin_client()
    answer = owner.post(f"{ADMIN}/sign-out")
    assert answer.status_code == 303
    replay = app.test_client()
    replay.set_cookie(COOKIE, owner.token, path=ADMIN + "/")
    assert replay.get(f"{ADMIN}/").status_code == 303


def test_sign_out_everywhere_ends_every_session(app: Flask, admin_client) -> None:
    """ "Sign out everywhere" ends the sessions of the staff member's other browsers too."""
    laptop = admin_client()
    phone = admin_client(staff=laptop.staff)
    page = phone.get(f"{ADMIN}/sessions")
    assert page.get_data(as_text=True).count("pytest") == 2
    assert phone.post(f"{ADMIN}/sessions/sign-out-everywhere").status_code == 303
    assert laptop.get(f"{ADMIN}/").status_code == 303
    assert phone.get(f"{ADMIN}/").status_code == 303


def test_a_post_with_another_sessions_csrf_changes_nothing(app: Flask, admin_client) -> None:
    """A form posted without its token, or with another session's, is refused with 400."""
    owner = admin_client()
    other = admin_client()
    form = {"email": "new@example.com", "name": "New", "role": "staff"}
    assert owner.post(owner.m("/staff"), form, csrf="").status_code == 400
    assert owner.post(owner.m("/staff"), form, csrf=other.csrf).status_code == 400
    with app.app_context():
        assert get_session().query(StaffMember).filter_by(email="new@example.com").count() == 0
    assert owner.post(owner.m("/staff"), form).status_code == 200


def test_choose_merchant_lists_the_merchants_and_roles(app: Flask, admin_client, staff_member):
    """The home page lists every merchant of the staff member with the role there."""
    owner = admin_client(merchant="shop")
    staff_member(email=owner.staff.email, merchant="cafe", role="staff")
    text = owner.get(f"{ADMIN}/").get_data(as_text=True)
    assert "Shop" in text and "Cafe" in text
    assert 'role-owner">owner' in text and 'role-staff">staff' in text


def test_the_staff_page_adds_changes_and_removes(app: Flask, admin_client) -> None:
    """An owner adds someone (getting a one-time link), changes the role, and removes them."""
    owner = admin_client()
    answer = owner.post(
        owner.m("/staff"), {"email": "Bo@Example.com", "name": "Bo", "role": "manager"}
    )
    text = answer.get_data(as_text=True)
    assert answer.status_code == 200
    link = re.search(r'value="(http://[^"]+/admin/password/[^"]+)"', text).group(1)
    with app.app_context():
        bo = get_session().query(StaffMember).filter_by(email="bo@example.com").one()
    assert owner.post(owner.m(f"/staff/{bo.id}/role"), {"role": "staff"}).status_code == 303
    page = owner.get(owner.m("/staff")).get_data(as_text=True)
    assert "Bo is now staff." in page
    assert "Bo is now staff." not in owner.get(owner.m("/staff")).get_data(as_text=True)
    assert owner.post(owner.m(f"/staff/{bo.id}/remove")).status_code == 303
    assert "bo@example.com" not in owner.get(owner.m("/staff")).get_data(as_text=True)
    assert link.startswith("http://localhost/loyalty/admin/password/")
    with app.app_context():
        actions = [
            (e.action, e.actor_kind, e.actor_id)
            for e in get_session().query(AuditEntry).filter_by(target_id=str(bo.id))
        ]
    me = str(owner.staff.id)
    assert sorted(actions) == [
        ("staff.added", "staff", me),
        ("staff.removed", "staff", me),
        ("staff.role_changed", "staff", me),
    ]


def test_the_last_owner_stays(app: Flask, admin_client) -> None:
    """The only owner cannot be demoted or removed: 422 with the reason."""
    owner = admin_client()
    answer = owner.post(owner.m(f"/staff/{owner.staff.id}/role"), {"role": "manager"})
    assert answer.status_code == 422
    assert "A merchant keeps at least one owner." in answer.get_data(as_text=True)
    assert owner.post(owner.m(f"/staff/{owner.staff.id}/remove")).status_code == 422


def test_adding_with_a_bad_address_shows_it_at_the_field(app: Flask, admin_client) -> None:
    """A refused form comes back with 422, what was typed, and the message at the field."""
    owner = admin_client()
    answer = owner.post(
        owner.m("/staff"), {"email": "not-an-address", "name": "Cy", "role": "staff"}
    )
    text = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert 'value="not-an-address"' in text and 'value="Cy"' in text
    assert 'id="f-email-error"' in text


def test_a_set_password_link_works_once(app: Flask, staff_member) -> None:
    """The one-time link sets the password; opened again, it is refused."""
    staff = staff_member()
    with app.app_context():
        account = get_session().get(StaffMember, staff.id)
        token, _ = password_token(
            "test-secret-key", account, now=utcnow(), valid=timedelta(hours=1)
        )
    client = app.test_client()
    page = client.get(f"{ADMIN}/password/{token}")
    assert page.status_code == 200
    csrf = CSRF.search(page.get_data(as_text=True)).group(1)
    form = {"password": "a new password", "password_again": "a new password", "csrf": csrf}
    short = client.post(f"{ADMIN}/password/{token}", data=form | {"password_again": "x"})
    assert short.status_code == 422
    assert client.post(f"{ADMIN}/password/{token}", data=form).status_code == 303
    assert client.get(f"{ADMIN}/password/{token}").status_code == 404
    assert sign_in(app.test_client(), staff.email, "a new password").status_code == 303


def test_admin_pages_carry_the_security_headers(app: Flask, admin_client) -> None:
    """No caching, no framing, a CSP without inline script, on pages and error pages."""
    owner = admin_client()
    for url in (f"{ADMIN}/", owner.m("/staff"), f"{ADMIN}/no-such-page", f"{ADMIN}/sign-in"):
        answer = owner.get(url)
        assert answer.headers["Cache-Control"] == "no-store", url
        assert answer.headers["X-Frame-Options"] == "DENY", url
        csp = answer.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp, url
        assert "<script>" not in answer.get_data(as_text=True)
        assert " style=" not in answer.get_data(as_text=True)


def test_a_wrong_method_is_an_admin_page(app: Flask, admin_client) -> None:
    """405 and 404 under /admin are pages in the admin look, not JSON."""
    owner = admin_client()
    answer = owner.client.put(f"{ADMIN}/sessions")
    assert answer.status_code == 405
    assert answer.mimetype == "text/html"


def test_the_context_names_the_staff_member_as_audit_actor(app: Flask, admin_client) -> None:
    """current().actor is the signed-in staff member, as the audit trail labels them."""
    owner = admin_client()
    with app.test_request_context():
        ctx = AdminContext(
            staff_id=owner.staff.id,
            staff_name="Ana",
            staff_email="ana@example.com",
            merchants=[],
            session=None,  # type: ignore[arg-type]
        )
        assert ctx.actor.kind == "staff"
        assert ctx.actor.id == str(owner.staff.id)


def test_the_sign_in_page_throttles_wrong_passwords(app: Flask, staff_member) -> None:
    """After N wrong passwords even the right one is refused (429) until the wait has passed."""
    app.config["LOYALTY_ADMIN_MAX_ATTEMPTS"] = 2
    staff = staff_member(password=True)
    client = app.test_client()
    for _ in range(2):
        assert sign_in(client, staff.email, "wrong password!").status_code == 422
    refused = sign_in(client, staff.email, PASSWORD)
    assert refused.status_code == 429
    assert "Too many attempts, try again in 15 minutes." in refused.get_data(as_text=True)
    assert client.get_cookie(COOKIE, path=ADMIN + "/") is None
    with app.app_context():  # the wait passes: the attempts are 15 minutes old
        session = get_session()
        for row in session.query(LoginAttempt):
            row.at = row.at - timedelta(minutes=15)
        session.commit()
    assert sign_in(client, staff.email, PASSWORD).status_code == 303


def test_the_bar_marks_the_screen_open_also_after_a_post(app: Flask, admin_client) -> None:
    """The Staff entry is the current page on the list and on the list re-rendered by a post."""
    owner = admin_client()
    marked = re.compile(r'<a href="/loyalty/admin/m/shop/staff" aria-current="page">Staff</a>')
    assert marked.search(owner.get(owner.m("/staff")).get_data(as_text=True))
    failed = owner.post(owner.m("/staff"), {"email": "x", "name": "X", "role": "staff"})
    assert failed.status_code == 422
    assert marked.search(failed.get_data(as_text=True))
