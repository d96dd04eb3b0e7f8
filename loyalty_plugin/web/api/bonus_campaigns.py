"""``/api/v1/bonus-campaigns``: list, create, change and end bonus campaigns (#18).

Admin-scoped. Each view calls one service of
:mod:`loyalty_plugin.services.earning.bonus_campaigns`; :data:`ROUTES` holds the routes as
keyword arguments for :class:`~loyalty_plugin.web.api.blueprint.Route`.
"""

from __future__ import annotations

from typing import Any

from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import ApiScope
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.schemas import api as s
from loyalty_plugin.schemas import bonus_campaigns as b
from loyalty_plugin.services.earning import bonus_campaigns as svc
from loyalty_plugin.web.api.auth import caller


def list_bonus_campaigns(query: dict[str, Any]) -> dict[str, Any]:
    """Every bonus campaign of the merchant, latest start first, with what each gave."""
    merchant_id = caller().merchant(query.get("merchant_id"))
    rows = svc.list_bonus_campaigns(get_session(), merchant_id)
    now = utcnow()
    return {"data": [svc.campaign_document(row, now=now) for row in rows]}


def create_bonus_campaign(query: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
    """Create a bonus campaign."""
    who = caller()
    campaign = svc.create_bonus_campaign(
        get_session(),
        merchant_id=who.merchant(query.get("merchant_id")),
        definition=args,
        now=utcnow(),
        actor=who.actor,
    )
    return svc.campaign_document(campaign)


def get_bonus_campaign(query: dict[str, Any], key: str) -> dict[str, Any]:
    """One bonus campaign, with what it gave and what its budget has left."""
    merchant_id = caller().merchant(query.get("merchant_id"))
    return svc.campaign_document(svc.get_bonus_campaign(get_session(), merchant_id, key))


def update_bonus_campaign(query: dict[str, Any], args: dict[str, Any], key: str) -> dict[str, Any]:
    """Change a bonus campaign not ended yet."""
    who = caller()
    campaign = svc.update_bonus_campaign(
        get_session(),
        merchant_id=who.merchant(query.get("merchant_id")),
        key=key,
        changes=args,
        now=utcnow(),
        actor=who.actor,
    )
    return svc.campaign_document(campaign)


def end_bonus_campaign(query: dict[str, Any], key: str) -> dict[str, Any]:
    """End a bonus campaign now."""
    who = caller()
    campaign = svc.end_bonus_campaign(
        get_session(),
        merchant_id=who.merchant(query.get("merchant_id")),
        key=key,
        now=utcnow(),
        actor=who.actor,
    )
    return svc.campaign_document(campaign)


ADMIN = ApiScope.ADMIN
_KEY = "/bonus-campaigns/<key>"

#: The bonus campaign routes, as keyword arguments of the API blueprint's ``Route``.
ROUTES: tuple[dict[str, Any], ...] = (
    {"method": "GET", "rule": "/bonus-campaigns", "view": list_bonus_campaigns, "scope": ADMIN,
     "query": s.MerchantArgsSchema, "response": b.BonusCampaignListSchema},
    {"method": "POST", "rule": "/bonus-campaigns", "view": create_bonus_campaign,
     "scope": ADMIN, "query": s.MerchantArgsSchema, "body": b.BonusCampaignBodySchema,
     "response": b.BonusCampaignOutSchema, "status": 201, "idempotency": "optional",
     "errors": (404, 409)},
    {"method": "GET", "rule": _KEY, "view": get_bonus_campaign, "scope": ADMIN,
     "query": s.MerchantArgsSchema, "response": b.BonusCampaignOutSchema, "errors": (404,)},
    {"method": "PATCH", "rule": _KEY, "view": update_bonus_campaign, "scope": ADMIN,
     "query": s.MerchantArgsSchema, "body": b.BonusCampaignBodySchema,
     "response": b.BonusCampaignOutSchema, "errors": (404, 409)},
    {"method": "POST", "rule": f"{_KEY}/end", "view": end_bonus_campaign, "scope": ADMIN,
     "query": s.MerchantArgsSchema, "response": b.BonusCampaignOutSchema,
     "idempotency": "optional", "errors": (404, 409)},
)  # fmt: skip
