"""The API's views: each takes parsed arguments, calls one service and returns the result.

Parsing, serialising, authentication and transactions are wrapped around them by
:mod:`loyalty_plugin.web.api.blueprint`; the views only decide which merchant and service.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any, TypeVar

from flask import current_app, request
from sqlalchemy.orm import Session

from loyalty_plugin.domain.coupons import CouponValue
from loyalty_plugin.domain.errors import NotFound
from loyalty_plugin.email.links import base_url, portal_valid_for
from loyalty_plugin.extensions import get_session, loyalty_state
from loyalty_plugin.models import (
    Adjustment,
    AdjustmentStatus,
    CouponCampaign,
    Redemption,
    Reward,
)
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.schemas.api import CampaignSchema, encode_cursor
from loyalty_plugin.services.customers import merge, portal, search, transfers
from loyalty_plugin.services.customers.statements import (
    account_of,
    customers_by_host_id,
    ledger_page,
    standing,
    with_credit,
)
from loyalty_plugin.services.intake import first_sight
from loyalty_plugin.services.ledger import adjustments
from loyalty_plugin.services.ledger.accounts import account_for_host_customer, find_customer
from loyalty_plugin.services.levels import memberships as levels
from loyalty_plugin.services.merchants import particulars
from loyalty_plugin.services.messaging import portal_links
from loyalty_plugin.services.spending import (
    campaigns,
    conversions,
    coupons,
    credit_coupons,
    redemption,
    rewards,
    settings,
)
from loyalty_plugin.web.api.auth import caller
from loyalty_plugin.web.api.idempotency import HEADER

T = TypeVar("T")

# -- customers ---------------------------------------------------------------------------


def search_customers(query: dict[str, Any]) -> search.Results:
    """The merchant's customers matching ``q``, newest first, one page at a time."""
    return search.search_customers(
        get_session(),
        merchant_id=caller().merchant(query.get("merchant_id")),
        query=query["q"],
        page=query["page"],
        per_page=query["limit"],
    )


def customer(query: dict[str, Any], customer_id: str) -> dict[str, Any]:
    """A customer's profile and their points with each merchant."""
    session = get_session()
    who = caller()
    merchants = [who.merchant(query["merchant_id"])] if "merchant_id" in query else who.merchant_ids
    found = customers_by_host_id(session, merchants, customer_id)
    if not found:
        raise NotFound(f"customer {customer_id!r} does not exist", field="customer_id")
    now = utcnow()
    profile = found[0]
    return {
        "customer_id": profile.host_customer_id,
        "first_name": profile.first_name,
        "last_name": profile.last_name,
        "email": profile.email,
        "enrolled": profile.enrolled,
        "profile_pending": profile.profile_pending,
        "accounts": [
            with_credit(session, standing(session, c, now=now), c, now=now) for c in found
        ],
    }


def customer_ledger(query: dict[str, Any], customer_id: str) -> dict[str, Any]:
    """The customer's points log, newest first, one page at a time."""
    session = get_session()
    merchant_id = caller().merchant(query.get("merchant_id"))
    found = find_customer(session, merchant_id, customer_id)
    if found is None:
        raise NotFound(f"customer {customer_id!r} does not exist", field="customer_id")
    account = account_of(session, found)
    if account is None:
        return {"data": [], "next_cursor": None}
    limit = query["limit"]
    rows = ledger_page(
        session, account_id=account.id, limit=limit + 1, before_id=query.get("cursor")
    )
    return _page(rows, limit, lambda s: s.entry.id)


def customer_levels(query: dict[str, Any], customer_id: str) -> dict[str, Any]:
    """The customer's level history, newest first."""
    session = get_session()
    account = account_for_host_customer(
        session, caller().merchant(query.get("merchant_id")), customer_id
    )
    return {"data": levels.history(session, account_id=account.id)}


def give_level(args: dict[str, Any], customer_id: str) -> dict[str, Any]:
    """Staff give a level until a date, with a reason."""
    session, who = get_session(), caller()
    merchant_id = who.merchant(args.get("merchant_id"))
    _sight(merchant_id, customer_id)
    account = account_for_host_customer(session, merchant_id, customer_id)
    levels.give_level(
        session,
        merchant_id=merchant_id,
        account_id=account.id,
        level=args["level"],
        until=args["until"],
        reason=args["reason"],
        program_key=args.get("program"),
        now=utcnow(),
        actor=who.actor,
    )
    return (
        levels.summary(session, merchant_id=merchant_id, account_id=account.id, now=utcnow()) or {}
    )


def buy_membership(args: dict[str, Any], customer_id: str) -> dict[str, Any]:
    """Buy a level with points for its duration (again: extends it)."""
    session, who = get_session(), caller()
    merchant_id = who.merchant(args.get("merchant_id"))
    _sight(merchant_id, customer_id)
    account = account_for_host_customer(session, merchant_id, customer_id)
    levels.buy_membership(
        session,
        merchant_id=merchant_id,
        account_id=account.id,
        level=args["level"],
        program_key=args.get("program"),
        now=utcnow(),
        actor=who.label,
    )
    return (
        levels.summary(session, merchant_id=merchant_id, account_id=account.id, now=utcnow()) or {}
    )


def portal_link(args: dict[str, Any], customer_id: str) -> Any:
    """A signed link that opens the customer's portal (a host's "My points" button)."""
    config = current_app.config
    valid_for = portal_valid_for(config)
    if "valid_minutes" in args:
        valid_for = min(valid_for, timedelta(minutes=args["valid_minutes"]))
    return portal.portal_link(
        get_session(),
        secret=str(config["LOYALTY_SECRET_KEY"]),
        base_url=base_url(config),
        merchant_id=caller().merchant(args.get("merchant_id")),
        host_customer_id=customer_id,
        now=utcnow(),
        valid_for=valid_for,
    )


def email_portal_link(args: dict[str, Any], customer_id: str) -> Any:
    """E-mail the customer a fresh portal link at their address on file."""
    session, who = get_session(), caller()
    merchant_id = who.merchant(args.get("merchant_id"))
    customer = find_customer(session, merchant_id, customer_id)
    if customer is None:
        raise NotFound(f"customer {customer_id!r} does not exist", field="customer_id")
    return portal_links.email_portal_link(
        session,
        customer=customer,
        # A replay with the same Idempotency-Key gets the stored answer before this runs.
        key=f"api:{secrets.token_hex(8)}",
        valid_days=portal_valid_for(current_app.config).days,
        actor=who.actor,
        now=utcnow(),
    )


# -- checkout and redemptions ------------------------------------------------------------


def checkout_quote(args: dict[str, Any]) -> dict[str, Any]:
    """Points (and store credit) usable on a draft invoice, their value and the caps that
    bound them."""
    merchant_id = caller().merchant(args.get("merchant_id"))
    session, now = get_session(), utcnow()
    # A quote is never committed: a customer seen first here is created for real by the
    # hold (or event) that follows.
    _sight(merchant_id, args["customer_id"], now=now)
    offer = redemption.quote_checkout(
        session,
        merchant_id=merchant_id,
        customer_id=args["customer_id"],
        invoice=args["invoice"],
        points=args.get("points"),
        credit=args.get("credit"),
        now=now,
    )
    account = account_for_host_customer(session, merchant_id, args["customer_id"])
    level = levels.quote_benefits(session, account_id=account.id, invoice=args["invoice"], now=now)
    credit = {} if offer.credit is None else {"credit": offer.credit}
    return (
        asdict(offer.points)
        | {"merchant_id": merchant_id, "customer_id": args["customer_id"], "level": level}
        | credit
    )


def create_redemption(args: dict[str, Any]) -> Redemption:
    """Hold points against an invoice; the answer carries the discount to apply."""
    who = caller()
    merchant_id = _sight(who.merchant(args.get("merchant_id")), args["customer_id"])
    return redemption.hold_points(
        get_session(),
        merchant_id=merchant_id,
        customer_id=args["customer_id"],
        invoice=args["invoice"],
        points=args.get("points"),
        credit=args.get("credit"),
        now=utcnow(),
        actor=who.label,
    )


def get_redemption(redemption_id: int) -> Redemption:
    """One redemption."""
    session = get_session()
    return redemption.get_redemption(
        session, merchant_id=_owner(session, Redemption, redemption_id), redemption_id=redemption_id
    )


def capture_redemption(args: dict[str, Any], redemption_id: int) -> Redemption:
    """Make a hold final."""
    session = get_session()
    return redemption.capture_redemption(
        session,
        merchant_id=_owner(session, Redemption, redemption_id),
        redemption_id=redemption_id,
        invoice_id=args.get("invoice_id"),
        now=utcnow(),
        actor=caller().label,
    )


def release_redemption(args: dict[str, Any], redemption_id: int) -> Redemption:
    """Give held points back to their lots."""
    session = get_session()
    return redemption.release_redemption(
        session,
        merchant_id=_owner(session, Redemption, redemption_id),
        redemption_id=redemption_id,
        now=utcnow(),
        actor=caller().label,
        reason=args.get("reason"),
    )


def convert_points_to_credit(args: dict[str, Any]) -> Any:
    """Turn points into store credit at the merchant's rate."""
    who = caller()
    merchant_id = _sight(who.merchant(args.get("merchant_id")), args["customer_id"])
    return conversions.convert_points_to_credit(
        get_session(),
        merchant_id=merchant_id,
        customer_id=args["customer_id"],
        points=args["points"],
        now=utcnow(),
        actor=who.label,
    )


# -- coupons -----------------------------------------------------------------------------


def create_coupon(args: dict[str, Any]) -> Any:
    """Turn points (or store credit) into a coupon."""
    who = caller()
    merchant_id = _sight(who.merchant(args.get("merchant_id")), args["customer_id"])
    if "credit" in args:
        return credit_coupons.buy_coupon_with_credit(
            get_session(),
            merchant_id=merchant_id,
            customer_id=args["customer_id"],
            amount=args["credit"],
            currency=args.get("currency"),
            now=utcnow(),
            actor=who.label,
        )
    return coupons.convert_points_to_coupon(
        get_session(),
        merchant_id=merchant_id,
        customer_id=args["customer_id"],
        points=args["points"],
        now=utcnow(),
        actor=who.label,
    )


def list_coupons(query: dict[str, Any]) -> dict[str, Any]:
    """Coupons newest first, by customer, campaign or status."""
    session = get_session()
    merchant_id = caller().merchant(query.get("merchant_id"))
    customer_id = None
    if "customer_id" in query:
        found = find_customer(session, merchant_id, query["customer_id"])
        if found is None:
            return {"data": [], "next_cursor": None}
        customer_id = found.id
    rows = coupons.list_coupons(
        session,
        merchant_id=merchant_id,
        limit=query["limit"] + 1,
        after_id=query.get("cursor"),
        customer_id=customer_id,
        campaign_id=query.get("campaign_id"),
        status=query.get("status"),
        code=query.get("q"),
    )
    return _page(rows, query["limit"], lambda c: c.id)


def get_coupon(query: dict[str, Any], code: str) -> Any:
    """A coupon, and whether it can be used now."""
    return coupons.get_coupon(
        get_session(), merchant_id=caller().merchant(query.get("merchant_id")), code=code
    )


def redeem_coupon(args: dict[str, Any], code: str) -> Any:
    """Use a coupon, once."""
    who = caller()
    return coupons.redeem_coupon(
        get_session(),
        merchant_id=who.merchant(args.get("merchant_id")),
        code=code,
        now=utcnow(),
        actor=who.label,
        invoice_id=args.get("invoice_id"),
        customer_id=args.get("customer_id"),
    )


def cancel_coupon(args: dict[str, Any], code: str) -> Any:
    """Cancel an unused coupon; the points it cost go back to the customer."""
    who = caller()
    return coupons.cancel_coupon(
        get_session(),
        merchant_id=who.merchant(args.get("merchant_id")),
        code=code,
        now=utcnow(),
        actor=who.actor,
        reason=args.get("reason"),
    )


def create_campaign(args: dict[str, Any]) -> dict[str, Any]:
    """Generate coupons in bulk, without points."""
    who = caller()
    campaign, issued = coupons.create_campaign(
        get_session(),
        merchant_id=who.merchant(args.get("merchant_id")),
        name=args["name"],
        count=args["count"],
        value=_coupon_value(args),
        expires_at=args.get("expires_at"),
        prefix=args["prefix"],
        now=utcnow(),
        actor=who.actor,
    )
    shown = set(CampaignSchema().fields) - {"codes"}
    return {key: getattr(campaign, key) for key in shown} | {"codes": [c.code for c in issued]}


def list_campaigns(query: dict[str, Any]) -> dict[str, Any]:
    """Coupon campaigns, newest first, with their coupons counted by status."""
    rows = campaigns.list_campaigns(
        get_session(),
        merchant_id=caller().merchant(query.get("merchant_id")),
        limit=query["limit"] + 1,
        after_id=query.get("cursor"),
    )
    return _page(rows, query["limit"], lambda c: c.campaign.id)


def get_campaign(query: dict[str, Any], campaign_id: int) -> Any:
    """One campaign with its coupons counted by status."""
    session = get_session()
    return campaigns.get_campaign(
        session, merchant_id=_owner(session, CouponCampaign, campaign_id), campaign_id=campaign_id
    )


def update_campaign(args: dict[str, Any], campaign_id: int) -> Any:
    """Rename a running campaign or move its expiry."""
    session = get_session()
    return campaigns.update_campaign(
        session,
        merchant_id=_owner(session, CouponCampaign, campaign_id),
        campaign_id=campaign_id,
        changes=args,
        now=utcnow(),
        actor=caller().actor,
    )


def end_campaign(campaign_id: int) -> Any:
    """End a campaign now: its unused coupons are cancelled."""
    session = get_session()
    return campaigns.end_campaign(
        session,
        merchant_id=_owner(session, CouponCampaign, campaign_id),
        campaign_id=campaign_id,
        now=utcnow(),
        actor=caller().actor,
    )


def get_merchant_particulars(query: dict[str, Any]) -> dict[str, Any]:
    """The merchant's name, currency, time zone and e-mail locale."""
    return particulars.particulars(get_session(), caller().merchant(query.get("merchant_id")))


def update_merchant_particulars(query: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
    """Change the merchant's name, currency (while it has no entries), time zone, locale."""
    who = caller()
    return particulars.update_particulars(
        get_session(),
        merchant_id=who.merchant(query.get("merchant_id")),
        changes=args,
        now=utcnow(),
        actor=who.actor,
    )


# -- rewards -----------------------------------------------------------------------------


def list_rewards(query: dict[str, Any]) -> dict[str, Any]:
    """The rewards catalogue, newest first."""
    rows = rewards.list_rewards(
        get_session(),
        merchant_id=caller().merchant(query.get("merchant_id")),
        limit=query["limit"] + 1,
        after_id=query.get("cursor"),
        active_only=query.get("active", False),
        now=utcnow(),
    )
    return _page(rows, query["limit"], lambda r: r.id)


def create_reward(args: dict[str, Any]) -> Reward:
    """Add a reward to the catalogue."""
    return rewards.create_reward(
        get_session(),
        merchant_id=caller().merchant(args.get("merchant_id")),
        name=args["name"],
        description=args.get("description"),
        points=args["points"],
        value=_coupon_value(args),
        stock=args.get("stock"),
        per_customer_limit=args.get("per_customer_limit"),
        coupon_valid_days=args.get("coupon_valid_days"),
        active_from=args.get("active_from"),
        active_until=args.get("active_until"),
        now=utcnow(),
        actor=caller().actor,
    )


def update_reward(args: dict[str, Any], reward_id: int) -> Reward:
    """Change a reward's price, stock, limits or whether it is offered."""
    session = get_session()
    return rewards.update_reward(
        session,
        merchant_id=_owner(session, Reward, reward_id),
        reward_id=reward_id,
        changes=args,
        now=utcnow(),
        actor=caller().actor,
    )


def purchase_reward(args: dict[str, Any], reward_id: int) -> Any:
    """Buy a reward with points; answers the coupon that delivers it."""
    session = get_session()
    merchant_id = _sight(_owner(session, Reward, reward_id), args["customer_id"])
    return rewards.purchase_reward(
        session,
        merchant_id=merchant_id,
        reward_id=reward_id,
        customer_id=args["customer_id"],
        now=utcnow(),
        actor=caller().label,
    )


# -- adjustments -------------------------------------------------------------------------


def create_adjustment(args: dict[str, Any]) -> tuple[Adjustment, int]:
    """Credit or debit by hand; 201 when applied, 202 when it awaits a second approval."""
    merchant_id = _sight(caller().merchant(args.get("merchant_id")), args["customer_id"])
    adjustment = adjustments.request_adjustment(
        get_session(),
        merchant_id=merchant_id,
        customer_id=args["customer_id"],
        points=args["points"],
        reason=args["reason"],
        staff=args["staff"],
        expires_at=args.get("expires_at"),
        now=utcnow(),
        actor=caller().actor,
    )
    return adjustment, 202 if adjustment.status == AdjustmentStatus.PENDING else 201


def list_adjustments(query: dict[str, Any]) -> dict[str, Any]:
    """Adjustments newest first; ``status=pending`` is the approval queue."""
    rows = adjustments.list_adjustments(
        get_session(),
        merchant_id=caller().merchant(query.get("merchant_id")),
        limit=query["limit"] + 1,
        after_id=query.get("cursor"),
        status=query.get("status"),
    )
    return _page(rows, query["limit"], lambda a: a.id)


def get_adjustment(adjustment_id: int) -> Adjustment:
    """One adjustment."""
    session = get_session()
    return adjustments.get_adjustment(
        session, merchant_id=_owner(session, Adjustment, adjustment_id), adjustment_id=adjustment_id
    )


def approve_adjustment(args: dict[str, Any], adjustment_id: int) -> Adjustment:
    """A second staff member approves (with a new ``expires_at`` if need be): the points move."""
    return _decide(
        adjustments.approve_adjustment, args, adjustment_id, expires_at=args.get("expires_at")
    )


def reject_adjustment(args: dict[str, Any], adjustment_id: int) -> Adjustment:
    """A second staff member rejects: nothing moves."""
    return _decide(adjustments.reject_adjustment, args, adjustment_id)


# -- settings ----------------------------------------------------------------------------


def get_settings(query: dict[str, Any]) -> Any:
    """The merchant's spending settings."""
    return settings.merchant_settings(get_session(), caller().merchant(query.get("merchant_id")))


def update_settings(query: dict[str, Any], args: dict[str, Any]) -> Any:
    """Change some spending settings."""
    who = caller()
    return settings.update_settings(
        get_session(),
        merchant_id=who.merchant(query.get("merchant_id")),
        changes=args,
        now=utcnow(),
        actor=who.actor,
    )


# -- helpers -----------------------------------------------------------------------------


def _sight(merchant_id: str, customer_id: str, *, now: datetime | None = None) -> str:
    """Create the customer this call names on first sight, or 404; returns ``merchant_id``."""
    first_sight.require_customer(
        get_session(),
        merchant_id=merchant_id,
        host_customer_id=customer_id,
        caller=first_sight.Caller(
            hooks=loyalty_state().plugin_manager.hook, now=now or utcnow(), actor=caller().label
        ),
    )
    return merchant_id


def _page(rows: Sequence[T], limit: int, id_of: Callable[[T], int]) -> dict[str, Any]:
    """One page of ``rows`` (fetched ``limit + 1`` to know whether another follows)."""
    more = len(rows) > limit
    shown = list(rows[:limit])
    return {"data": shown, "next_cursor": encode_cursor(id_of(shown[-1])) if more else None}


def _owner(session: Session, model: type, row_id: int) -> str:
    """The merchant of a row addressed by id, if the caller's key covers it; else 404."""
    row = session.get(model, row_id)
    if row is None or row.merchant_id not in caller().merchant_ids:
        name = model.__tablename__.rstrip("s")
        raise NotFound(f"{name} {row_id} does not exist", field=f"{name}_id")
    return row.merchant_id


def _decide(
    decide: Callable[..., Adjustment], args: dict[str, Any], adjustment_id: int, **extra: Any
) -> Any:
    session = get_session()
    return decide(
        session,
        merchant_id=_owner(session, Adjustment, adjustment_id),
        adjustment_id=adjustment_id,
        staff=args["staff"],
        note=args.get("note"),
        now=utcnow(),
        actor=caller().actor,
        **extra,
    )


def _coupon_value(args: dict[str, Any]) -> CouponValue:
    return CouponValue(
        kind=args["kind"],
        amount=args.get("amount"),
        currency=args.get("currency"),
        percent=args.get("percent"),
        product_ids=tuple(args.get("product_ids", ())),
        category_ids=tuple(args.get("category_ids", ())),
    )


def create_transfer(args: dict[str, Any]) -> dict[str, Any]:
    """Give points to another customer of the merchant; they keep their expiry."""
    session, who = get_session(), caller()
    result = transfers.transfer_points(
        session,
        merchant_id=who.merchant(args.get("merchant_id")),
        from_customer_id=args["from_customer_id"],
        to_customer_id=args["to_customer_id"],
        points=args["points"],
        reason=args["reason"],
        now=utcnow(),
        actor=who.actor,
        idempotency_key=_ledger_key("transfer", who.key_id),
    )
    return transfers.describe(session, result)


def merge_customer(args: dict[str, Any], customer_id: str) -> dict[str, Any]:
    """Merge this customer into ``into_customer_id`` (the survivor), in one transaction."""
    who = caller()
    return merge.merge_customers(
        get_session(),
        merchant_id=who.merchant(args.get("merchant_id")),
        customer_id=customer_id,
        into_customer_id=args["into_customer_id"],
        reason=args.get("reason"),
        now=utcnow(),
        actor=who.actor,
    ).as_dict()


def _ledger_key(operation: str, key_id: int) -> str:
    """The ledger's idempotency key for this request's ``Idempotency-Key`` (required here)."""
    header = request.headers.get(HEADER, "")
    digest = hashlib.sha256(f"{key_id}:{header}".encode()).hexdigest()[:40]
    return f"api-{operation}:{digest}"
