"""Unsubscribing from marketing e-mails with the signed link they carry."""

from __future__ import annotations

from flask import current_app, render_template, request
from flask.typing import ResponseReturnValue

from loyalty_plugin.email.links import read_unsubscribe_token
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.messaging.notifications import unsubscribe as unsubscribe_customer
from loyalty_plugin.services.transaction import run_in_transaction


def unsubscribe(token: str) -> ResponseReturnValue:
    """GET shows a confirm button; POST (the button, or a mail client's one click) acts."""
    named = read_unsubscribe_token(current_app.config["LOYALTY_SECRET_KEY"], token)
    if named is None:
        return render_template("email/unsubscribe.html", state="invalid"), 404
    merchant_id, customer_id = named
    if request.method == "GET":
        return render_template("email/unsubscribe.html", state="confirm")
    customer = run_in_transaction(
        get_session(),
        lambda s: unsubscribe_customer(
            s, merchant_id=merchant_id, customer_id=customer_id, now=utcnow()
        ),
    )
    if customer is None:
        return render_template("email/unsubscribe.html", state="invalid"), 404
    return render_template("email/unsubscribe.html", state="done", merchant=customer.merchant_id)
