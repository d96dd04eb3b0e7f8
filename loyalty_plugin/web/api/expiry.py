"""``/api/v1/expiry-policy`` and ``/api/v1/email-switches``: when points expire, a preview
of the next expiry run, and which e-mails go out (admin scope; the admin pages' calls)."""

from __future__ import annotations

import dataclasses
from typing import Any

from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import ApiScope
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.schemas import expiry as x
from loyalty_plugin.services.ledger import expiry
from loyalty_plugin.services.messaging import notifications
from loyalty_plugin.web.api.auth import caller


def get_policy(query: dict[str, Any]) -> dict[str, Any]:
    """The merchant's expiry policy and reminder offsets."""
    policy = expiry.expiry_policy(get_session(), caller().merchant(query.get("merchant_id")))
    return dataclasses.asdict(policy)


def put_policy(args: dict[str, Any]) -> dict[str, Any]:
    """Set the policy; it applies to points earned from now on (``expiry_policy.updated``)."""
    who = caller()
    policy = x.policy_of(args)
    expiry.set_expiry_policy(
        get_session(),
        merchant_id=who.merchant(args.get("merchant_id")),
        policy=policy,
        now=utcnow(),
        actor=who.actor,
    )
    return dataclasses.asdict(policy)


def preview(query: dict[str, Any]) -> expiry.ExpiryPreview:
    """What the expiry job would expire at ``at`` (now by default); changes nothing."""
    return expiry.preview_expiry(
        get_session(),
        merchant_id=caller().merchant(query.get("merchant_id")),
        at=query.get("at") or utcnow(),
    )


def get_switches(query: dict[str, Any]) -> dict[str, Any]:
    """Which e-mails the merchant sends, and when coupon reminders go."""
    merchant_id = caller().merchant(query.get("merchant_id"))
    return x.switches_document(notifications.notification_prefs(get_session(), merchant_id))


def patch_switches(args: dict[str, Any]) -> dict[str, Any]:
    """Switch e-mails on or off (``notifications.updated``)."""
    who = caller()
    merchant_id = who.merchant(args.get("merchant_id"))
    session = get_session()
    prefs = x.switched(notifications.notification_prefs(session, merchant_id), args)
    notifications.set_notification_prefs(
        session, merchant_id=merchant_id, prefs=prefs, now=utcnow(), actor=who.actor
    )
    return x.switches_document(prefs)


ADMIN = ApiScope.ADMIN
#: The routes, as keyword arguments of the API blueprint's ``Route``.
ROUTES: tuple[dict[str, Any], ...] = (
    {"method": "GET", "rule": "/expiry-policy", "view": get_policy, "scope": ADMIN,
     "query": x.MerchantArgsSchema, "response": x.ExpiryPolicySchema},
    {"method": "PUT", "rule": "/expiry-policy", "view": put_policy, "scope": ADMIN,
     "body": x.ExpiryPolicyArgsSchema, "response": x.ExpiryPolicySchema},
    {"method": "GET", "rule": "/expiry-policy/preview", "view": preview, "scope": ADMIN,
     "query": x.ExpiryPreviewArgsSchema, "response": x.ExpiryPreviewSchema},
    {"method": "GET", "rule": "/email-switches", "view": get_switches, "scope": ADMIN,
     "query": x.MerchantArgsSchema, "response": x.EmailSwitchesSchema},
    {"method": "PATCH", "rule": "/email-switches", "view": patch_switches, "scope": ADMIN,
     "body": x.EmailSwitchesArgsSchema, "response": x.EmailSwitchesSchema},
)  # fmt: skip
