"""The portal's preferences page: marketing consent by e-mail and SMS, one click each."""

from __future__ import annotations

from flask import g, redirect, request, url_for
from flask.typing import ResponseReturnValue

from loyalty_plugin.domain.errors import ValidationError
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.customers import portal_preferences
from loyalty_plugin.services.customers.statements import standing
from loyalty_plugin.services.transaction import run_in_transaction
from loyalty_plugin.web.i18n import gettext
from loyalty_plugin.web.portal import portal_access
from loyalty_plugin.web.portal.forms import new_form, read_form
from loyalty_plugin.web.portal.views import render_page

#: What the button posts for "yes, send me" and "no, stop".
ANSWERS = {"yes": True, "no": False}


def preferences() -> ResponseReturnValue:
    """Each channel's consent, when and how it last changed, and a button to change it."""
    return _page()


def change_preferences() -> ResponseReturnValue:
    """Give or withdraw one channel's consent, recorded with its time and source."""
    read_form(portal_access.secret(), g.portal_access, request.form)
    channel, answer = request.form.get("channel", ""), request.form.get("given", "")
    if answer not in ANSWERS:
        return _page(errors={"given": gettext("Choose yes or no.")}, status=422)
    customer = g.portal_customer
    try:
        run_in_transaction(
            get_session(),
            lambda s: portal_preferences.set_preference(
                s, customer, channel=channel, given=ANSWERS[answer], now=utcnow()
            ),
        )
    except ValidationError as error:
        return _page(
            errors={error.field or "channel": gettext("Choose e-mail or SMS.")}, status=422
        )
    return redirect(url_for("portal.preferences", saved=channel), 303)


def _page(*, errors: dict[str, str] | None = None, status: int = 200) -> ResponseReturnValue:
    session, customer = get_session(), g.portal_customer
    return render_page(
        "portal/preferences.html",
        status=status,
        balance=standing(session, customer, now=utcnow()).balance,
        consents=portal_preferences.preferences(session, customer),
        form=new_form(portal_access.secret(), g.portal_access),
        saved=request.args.get("saved"),
        errors=errors or {},
        page_title=gettext("Preferences"),
    )
