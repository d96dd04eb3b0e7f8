"""``POST /api/v1/admin-links``: a one-time link that opens the admin pages, signed in.

Admin-scoped: the link signs a staff member in, with the role the host gives. Nothing is
stored until the link is opened, so no ``Idempotency-Key`` is needed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app

from loyalty_plugin.email.links import base_url
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import ApiScope, StaffRole
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.schemas import admin as s
from loyalty_plugin.services.staff.links import AdminLink, make_admin_link
from loyalty_plugin.web.api.auth import caller


def create_admin_link(args: dict[str, Any]) -> AdminLink:
    """A link that signs the host's user in at the merchant with the role given."""
    config, key = current_app.config, caller()
    return make_admin_link(
        get_session(),
        secret=str(config["LOYALTY_SECRET_KEY"]),
        base_url=base_url(config),
        merchant_id=key.merchant(args.get("merchant_id")),
        covered=key.merchant_ids,
        host_user_id=args["host_user_id"],
        email=args["email"],
        name=args["name"],
        role=StaffRole(args["role"]),
        now=utcnow(),
        valid=timedelta(seconds=args["valid_seconds"]),
    )


ROUTES: tuple[dict[str, Any], ...] = (
    {"method": "POST", "rule": "/admin-links", "view": create_admin_link,
     "scope": ApiScope.ADMIN, "body": s.AdminLinkArgsSchema, "response": s.AdminLinkSchema,
     "read_only": True, "errors": (404, 409)},
)  # fmt: skip
