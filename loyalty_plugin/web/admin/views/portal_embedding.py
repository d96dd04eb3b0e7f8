"""Merchant settings, "Portal in the host's pages": the origins allowed to frame the portal.

A section of its own on the merchant settings page (``admin/settings/_embedding.html``),
saved through ``update_settings`` as ``PATCH /settings`` saves ``portal_frame_ancestors``.
"""

from __future__ import annotations

from flask import redirect, request, url_for
from flask.typing import ResponseReturnValue

from loyalty_plugin.domain.embedding import FIELD
from loyalty_plugin.domain.errors import LoyaltyError
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.spending import settings as spending
from loyalty_plugin.services.transaction import run_in_transaction
from loyalty_plugin.web.admin import access
from loyalty_plugin.web.admin.forms import field_errors
from loyalty_plugin.web.admin.views import settings as settings_page


def save(merchant_id: str) -> ResponseReturnValue:
    """Save the origins (one a line; empty: no page may frame the portal)."""
    text = request.form.get(FIELD, "")
    origins = [line.strip() for line in text.splitlines() if line.strip()]
    try:
        run_in_transaction(
            get_session(),
            lambda s: spending.update_settings(
                s,
                merchant_id=merchant_id,
                changes={FIELD: origins},
                now=utcnow(),
                actor=access.current().actor,
            ),
        )
    except LoyaltyError as error:
        errors = field_errors(error, default=FIELD)
        return settings_page.page(merchant_id, embedding=text, errors=errors, status=422)
    access.flash("Portal embedding saved.")
    return redirect(url_for("admin.integration_settings", merchant_id=merchant_id), 303)
