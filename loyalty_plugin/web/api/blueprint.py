"""``/api/v1``: every route of the JSON API, with its scope, bodies and idempotency.

Read :data:`ROUTES` to see the whole API. Each route is wrapped, outermost first, in:
the key check (:func:`~loyalty_plugin.web.api.auth.requires`), for writes the unit of work
(:func:`~loyalty_plugin.web.api.idempotency.unit_of_work`), then flask-smorest's argument
parsing and response serialisation, which also feed the OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import Flask, Response, current_app, request
from flask_smorest import Blueprint
from marshmallow import Schema
from werkzeug.exceptions import BadRequest, UnprocessableEntity

from loyalty_plugin.models import ApiScope
from loyalty_plugin.schemas import api as s
from loyalty_plugin.schemas.body import is_json_type
from loyalty_plugin.web.api import (
    admin_links,
    audit,
    bonus_campaigns,
    cards,
    expiry,
    imports,
    operations,
    programs,
    reports,
    views,
)
from loyalty_plugin.web.api.auth import requires
from loyalty_plugin.web.api.idempotency import HEADER, Policy, unit_of_work
from loyalty_plugin.web.api.openapi import (
    ExactJSONParser,
    make_api,
    openapi_document,
    parsing_error,
)
from loyalty_plugin.web.errors import error_response, handle_errors

READ, WRITE, ADMIN = ApiScope.READ, ApiScope.WRITE, ApiScope.ADMIN
#: Row ids in paths: positive, and small enough for BIGINT (and SQLite's INTEGER).
ID = "int(min=1, max=9223372036854775807)"


@dataclass(frozen=True, kw_only=True)
class Route:
    """One endpoint: method, path, view, the scope it needs and what goes in and out."""

    method: str
    rule: str
    view: Callable[..., Any]
    scope: ApiScope
    body: type[Schema] | None = None
    query: type[Schema] | None = None
    response: type[Schema] | None = None
    status: int = 200
    #: ``required`` on every POST that changes points (contract), ``optional`` elsewhere.
    idempotency: Policy = None
    #: A POST that only reads (a quote), or commits its own batches (an import): no
    #: request-wide transaction.
    read_only: bool = False
    #: The body is a CSV file, streamed (documented as ``text/csv``).
    csv_body: bool = False
    #: The answer is a CSV file, streamed (documented as ``text/csv``).
    csv_answer: bool = False
    #: Error answers worth documenting besides 401, 403 and 422.
    errors: tuple[int, ...] = ()
    also: tuple[tuple[int, type[Schema]], ...] = ()


ROUTES: tuple[Route, ...] = (
    # customers and their points
    Route(method="GET", rule="/customers", view=views.search_customers, scope=READ,
          query=s.CustomerSearchArgsSchema, response=s.CustomerSearchPageSchema),
    Route(method="GET", rule="/customers/<customer_id>", view=views.customer, scope=READ,
          query=s.MerchantArgsSchema, response=s.CustomerSchema, errors=(404,)),
    Route(method="GET", rule="/customers/<customer_id>/ledger", view=views.customer_ledger,
          scope=READ, query=s.PageArgsSchema, response=s.LedgerPageSchema, errors=(404,)),
    Route(method="GET", rule="/customers/<customer_id>/levels", view=views.customer_levels,
          scope=READ, query=s.MerchantArgsSchema, response=s.LevelHistoryPageSchema,
          errors=(404,)),
    Route(method="POST", rule="/customers/<customer_id>/levels/give", view=views.give_level,
          scope=ADMIN, body=s.GiveLevelArgsSchema, response=s.LevelSummarySchema,
          idempotency="optional", errors=(400, 404)),
    Route(method="POST", rule="/customers/<customer_id>/levels/buy", view=views.buy_membership,
          scope=WRITE, body=s.BuyLevelArgsSchema, response=s.LevelSummarySchema,
          idempotency="required", errors=(400, 404, 409)),
    Route(method="POST", rule="/customers/<customer_id>/portal-link", view=views.portal_link,
          scope=WRITE, body=s.PortalLinkArgsSchema, response=s.PortalLinkSchema,
          read_only=True, errors=(404,)),
    Route(method="POST", rule="/customers/<customer_id>/portal-link/email",
          view=views.email_portal_link, scope=WRITE, body=s.MerchantArgsSchema,
          response=s.PortalLinkEmailSchema, status=202, idempotency="optional",
          errors=(404, 409)),
    Route(method="POST", rule="/customers/<customer_id>/merge", view=views.merge_customer,
          scope=ADMIN, body=s.MergeArgsSchema, response=s.MergeSchema,
          idempotency="required", errors=(400, 404, 409)),
    # points between customers
    Route(method="POST", rule="/transfers", view=views.create_transfer, scope=WRITE,
          body=s.TransferArgsSchema, response=s.TransferSchema, status=201,
          idempotency="required", errors=(400, 404, 409)),
    # paying invoices with points
    Route(method="POST", rule="/checkout/quote", view=views.checkout_quote, scope=READ,
          body=s.QuoteArgsSchema, response=s.QuoteSchema, read_only=True, errors=(404,)),
    Route(method="POST", rule="/redemptions", view=views.create_redemption, scope=WRITE,
          body=s.HoldArgsSchema, response=s.RedemptionSchema, status=201,
          idempotency="required", errors=(400, 404, 409)),
    Route(method="GET", rule=f"/redemptions/<{ID}:redemption_id>", view=views.get_redemption,
          scope=READ, response=s.RedemptionSchema, errors=(404,)),
    Route(method="POST", rule=f"/redemptions/<{ID}:redemption_id>/capture",
          view=views.capture_redemption, scope=WRITE, body=s.CaptureArgsSchema,
          response=s.RedemptionSchema, idempotency="required", errors=(400, 404, 409)),
    Route(method="POST", rule=f"/redemptions/<{ID}:redemption_id>/release",
          view=views.release_redemption, scope=WRITE, body=s.ReleaseArgsSchema,
          response=s.RedemptionSchema, idempotency="required", errors=(400, 404, 409)),
    # points turned into store credit
    Route(method="POST", rule="/credit-conversions", view=views.convert_points_to_credit,
          scope=WRITE, body=s.CreditConversionArgsSchema, response=s.CreditConversionSchema,
          status=201, idempotency="required", errors=(400, 404, 409)),
    # coupons
    Route(method="POST", rule="/coupons", view=views.create_coupon, scope=WRITE,
          body=s.CreateCouponArgsSchema, response=s.CouponSchema, status=201,
          idempotency="required", errors=(400, 404, 409)),
    Route(method="GET", rule="/coupons", view=views.list_coupons, scope=READ,
          query=s.CouponListArgsSchema, response=s.CouponPageSchema),
    Route(method="GET", rule="/coupons/<code>", view=views.get_coupon, scope=READ,
          query=s.MerchantArgsSchema, response=s.CouponSchema, errors=(404,)),
    Route(method="POST", rule="/coupons/<code>/redeem", view=views.redeem_coupon, scope=WRITE,
          body=s.RedeemCouponArgsSchema, response=s.CouponSchema, idempotency="optional",
          errors=(404, 409)),
    Route(method="POST", rule="/coupons/<code>/cancel", view=views.cancel_coupon, scope=WRITE,
          body=s.CancelCouponArgsSchema, response=s.CouponSchema, idempotency="required",
          errors=(400, 404, 409)),
    Route(method="POST", rule="/coupon-campaigns", view=views.create_campaign, scope=ADMIN,
          body=s.CampaignArgsSchema, response=s.CampaignSchema, status=201,
          idempotency="optional"),
    Route(method="GET", rule="/coupon-campaigns", view=views.list_campaigns, scope=ADMIN,
          query=s.PageArgsSchema, response=s.CampaignSummaryPageSchema),
    Route(method="GET", rule=f"/coupon-campaigns/<{ID}:campaign_id>", view=views.get_campaign,
          scope=ADMIN, query=s.MerchantArgsSchema, response=s.CampaignSummarySchema,
          errors=(404,)),
    Route(method="PATCH", rule=f"/coupon-campaigns/<{ID}:campaign_id>",
          view=views.update_campaign, scope=ADMIN, body=s.CampaignUpdateArgsSchema,
          response=s.CampaignSummarySchema, errors=(404, 409)),
    Route(method="POST", rule=f"/coupon-campaigns/<{ID}:campaign_id>/end",
          view=views.end_campaign, scope=ADMIN, response=s.CampaignSummarySchema,
          idempotency="optional", errors=(404, 409)),
    # rewards
    Route(method="GET", rule="/rewards", view=views.list_rewards, scope=READ,
          query=s.RewardListArgsSchema, response=s.RewardPageSchema),
    Route(method="POST", rule="/rewards", view=views.create_reward, scope=ADMIN,
          body=s.RewardArgsSchema, response=s.RewardSchema, status=201, idempotency="optional"),
    Route(method="PATCH", rule=f"/rewards/<{ID}:reward_id>", view=views.update_reward,
          scope=ADMIN, body=s.RewardUpdateArgsSchema, response=s.RewardSchema, errors=(404,)),
    Route(method="POST", rule=f"/rewards/<{ID}:reward_id>/purchase", view=views.purchase_reward,
          scope=WRITE, body=s.PurchaseArgsSchema, response=s.CouponSchema, status=201,
          idempotency="required", errors=(400, 404, 409)),
    # manual adjustments
    Route(method="POST", rule="/adjustments", view=views.create_adjustment, scope=WRITE,
          body=s.AdjustmentArgsSchema, response=s.AdjustmentSchema, status=201,
          idempotency="required", errors=(400, 404, 409), also=((202, s.AdjustmentSchema),)),
    Route(method="GET", rule="/adjustments", view=views.list_adjustments, scope=READ,
          query=s.AdjustmentListArgsSchema, response=s.AdjustmentPageSchema),
    Route(method="GET", rule=f"/adjustments/<{ID}:adjustment_id>", view=views.get_adjustment,
          scope=READ, response=s.AdjustmentSchema, errors=(404,)),
    Route(method="POST", rule=f"/adjustments/<{ID}:adjustment_id>/approve",
          view=views.approve_adjustment, scope=WRITE, body=s.ApprovalArgsSchema,
          response=s.AdjustmentSchema, idempotency="required", errors=(400, 404, 409)),
    Route(method="POST", rule=f"/adjustments/<{ID}:adjustment_id>/reject",
          view=views.reject_adjustment, scope=WRITE, body=s.DecisionArgsSchema,
          response=s.AdjustmentSchema, idempotency="optional", errors=(404, 409)),
    # settings
    Route(method="GET", rule="/settings", view=views.get_settings, scope=ADMIN,
          query=s.MerchantArgsSchema, response=s.SettingsSchema),
    Route(method="GET", rule="/merchant", view=views.get_merchant_particulars, scope=ADMIN,
          query=s.MerchantArgsSchema, response=s.MerchantSchema),
    Route(method="PATCH", rule="/merchant", view=views.update_merchant_particulars,
          scope=ADMIN, query=s.MerchantArgsSchema, body=s.MerchantUpdateArgsSchema,
          response=s.MerchantSchema, errors=(409,)),
    Route(method="PATCH", rule="/settings", view=views.update_settings, scope=ADMIN,
          query=s.MerchantArgsSchema, body=s.SettingsUpdateArgsSchema,
          response=s.SettingsSchema),
)  # fmt: skip
ROUTES += tuple(Route(**route) for route in programs.ROUTES)
ROUTES += tuple(Route(**route) for route in bonus_campaigns.ROUTES)
ROUTES += tuple(Route(**route) for route in imports.ROUTES)
ROUTES += tuple(Route(**route) for route in reports.ROUTES)
ROUTES += tuple(Route(**route) for route in audit.ROUTES)
ROUTES += tuple(Route(**route) for route in cards.ROUTES)
ROUTES += tuple(Route(**route) for route in admin_links.ROUTES)
ROUTES += tuple(Route(**route) for route in expiry.ROUTES)
ROUTES += tuple(Route(**route) for route in operations.ROUTES)

blueprint = handle_errors(Blueprint("api", __name__, url_prefix="/api/v1"))
blueprint.ARGUMENTS_PARSER = ExactJSONParser()
blueprint.register_error_handler(UnprocessableEntity, parsing_error)
blueprint.register_error_handler(BadRequest, parsing_error)


@blueprint.before_request
def _refuse_nul_in_path() -> Response | None:
    """A NUL character is never part of an id, and no database can look one up."""
    if "\x00" in request.path:
        return error_response(404, "not_found", "no such resource")
    return None


def init_api(app: Flask, *, url_prefix: str) -> None:
    """Mount the API blueprint on ``app`` and build its OpenAPI document."""
    api = make_api(app)
    api.register_blueprint(blueprint, url_prefix=url_prefix + blueprint.url_prefix)
    app.extensions["loyalty"].extras["openapi"] = api


def openapi_json() -> Response:
    """This API, described as OpenAPI 3."""
    return openapi_document(current_app.extensions["loyalty"].extras["openapi"])


def _wrap(route: Route) -> Callable[..., Any]:
    view = blueprint.response(route.status, route.response)(route.view)
    for code, schema in route.also:
        view = blueprint.alt_response(code, schema=schema, success=True)(view)
    if route.body is not None:
        view = blueprint.arguments(route.body, location="json")(view)
    if route.query is not None:
        view = blueprint.arguments(route.query, location="query")(view)
    if route.method != "GET" and not route.read_only:
        view = unit_of_work(view, policy=route.idempotency)
    view = requires(route.scope)(view)
    if route.body is not None:
        view = _json_only(view)
    for code in (401, 403, *route.errors, *((413, 415) if route.body is not None else ())):
        view = blueprint.alt_response(code, response=_STATUS_NAMES[code])(view)
    if route.idempotency:
        view = blueprint.doc(parameters=[_idempotency_parameter(route.idempotency)])(view)
    if route.csv_body:
        view = blueprint.doc(requestBody=_CSV_BODY)(view)
    if route.csv_answer:
        view = blueprint.doc(responses={route.status: _CSV_ANSWER})(view)
    return view


def _json_only(view: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse a body over ``LOYALTY_API_MAX_BYTES`` (413) or not declared JSON (it would be
    read as no body at all: 415)."""

    @wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        limit = int(current_app.config["LOYALTY_API_MAX_BYTES"])
        if (request.content_length or 0) > limit:
            return error_response(413, "payload_too_large", f"the body is over {limit} bytes")
        request.max_content_length = limit  # also bounds a body sent without Content-Length
        has_body = (request.content_length or 0) > 0 or "Transfer-Encoding" in request.headers
        if has_body and not is_json_type(request.headers.get("Content-Type", "")):
            message = "send the body as JSON, with the header 'Content-Type: application/json'"
            return error_response(
                415, "unsupported_media_type", message, {"Content-Type": [message]}
            )
        return view(*args, **kwargs)

    return checked


_CSV_BODY = {
    "required": True,
    "description": "the file, UTF-8, first line naming the columns (docs/integration.md)",
    "content": {"text/csv": {"schema": {"type": "string"}}},
}


_CSV_ANSWER = {
    "description": "UTF-8 CSV, first line naming the columns, sent as it is read",
    "content": {"text/csv": {"schema": {"type": "string"}}},
}


def _idempotency_parameter(policy: Policy) -> dict[str, Any]:
    return {
        "in": "header",
        "name": HEADER,
        "required": policy == "required",
        "schema": {"type": "string", "minLength": 1, "maxLength": 255},
        "description": "a repeat with the same key and body gets the first answer",
    }


_STATUS_NAMES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    409: "CONFLICT",
    413: "REQUEST_ENTITY_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}

for _route in ROUTES:
    blueprint.add_url_rule(
        _route.rule,
        endpoint=f"{_route.view.__name__}",
        view_func=_wrap(_route),
        methods=[_route.method],
    )
blueprint.add_url_rule(
    "/openapi.json",
    endpoint="openapi_json",
    view_func=blueprint.doc(security=[])(blueprint.response(200)(openapi_json)),
    methods=["GET"],
)
