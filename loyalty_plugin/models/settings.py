"""A merchant's spending settings: point value, redemption caps, holds, coupons, approvals.

One row per merchant, created on first change; a merchant without one uses the defaults of
:class:`loyalty_plugin.domain.redemption.RedemptionRules` and
:class:`loyalty_plugin.domain.coupons.CouponRules`. (Programs will carry the redemption and
coupon settings per program; the rules are dataclasses so that move touches no calculation.)
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, validates

from loyalty_plugin.domain.credit import check_credit_expiry
from loyalty_plugin.models.base import Base, utcnow


class MerchantSettings(Base):
    """Settings a merchant edits (admin API today, admin pages later)."""

    __tablename__ = "merchant_settings"

    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    #: ``conversion_points`` points are worth ``conversion_amount`` of the merchant currency.
    conversion_points: Mapped[int] = mapped_column(Integer, default=100)
    conversion_amount: Mapped[Decimal] = mapped_column(default=Decimal("1.00"))
    #: The fewest points one redemption may use.
    min_redeem_points: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Percentage (0-100) of an invoice's total payable with points.
    max_invoice_share: Mapped[Decimal] = mapped_column(default=Decimal(100))
    max_points_per_invoice: Mapped[int | None] = mapped_column(BigInteger)
    excluded_product_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    excluded_category_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    pay_tax_with_points: Mapped[bool] = mapped_column(Boolean, default=False)
    pay_shipping_with_points: Mapped[bool] = mapped_column(Boolean, default=False)
    #: ``partial`` (any amount up to the cap) or ``full`` (all of it or nothing).
    redemption_mode: Mapped[str] = mapped_column(String(16), default="partial")
    #: Holds not captured within this many minutes are released by the stale-holds job.
    hold_minutes: Mapped[int] = mapped_column(Integer, default=7 * 24 * 60)
    #: Coupon conversion by rate: ``coupon_points`` points buy ``coupon_amount``.
    coupon_points: Mapped[int] = mapped_column(Integer, default=100)
    coupon_amount: Mapped[Decimal] = mapped_column(default=Decimal("1.00"))
    #: Fixed packages ``[{"points": 500, "amount": "5.00"}]``; when set, only they are sold.
    coupon_packages: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    coupon_min_points: Mapped[int] = mapped_column(BigInteger, default=0)
    coupon_valid_days: Mapped[int | None] = mapped_column(Integer, default=90)
    #: A fixed last day of validity instead of ``coupon_valid_days``.
    coupon_valid_until: Mapped[date | None] = mapped_column(Date)
    #: Products and categories a points coupon applies to (empty: everything).
    coupon_product_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    coupon_category_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Give the points back when a coupon bought with them expires unused.
    coupon_refund_on_expiry: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Customers may turn points into coupons (``POST /coupons``, the customer portal).
    coupon_conversion: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Manual adjustments of more points than this need a second staff member's approval.
    adjustment_approval_above: Mapped[int | None] = mapped_column(BigInteger)
    #: The ``birthday-greetings`` job gives the birthday bonus to customers whose date of
    #: birth is known (off: only the host's ``customer.birthday`` events give it).
    birthday_bonus_by_job: Mapped[bool] = mapped_column(Boolean, default=True)
    #: An event or API write naming a customer we have not seen creates them ("first
    #: sight"), profile pending; off: the event waits for ``customer.created``.
    create_unknown_customers: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Customers the host does not say are enrolled (first sight, ``customer.created``
    #: without ``enrolled``) are enrolled: auto opt-in.
    auto_enrol: Mapped[bool] = mapped_column(Boolean, default=True)
    #: An event still waiting for its customer or invoice after this many hours is
    #: reported (its answer's ``reason``, ``loyalty events list --waiting``).
    waiting_report_hours: Mapped[int] = mapped_column(Integer, default=24)
    #: Origins of the host's pages that may show the customer portal in a frame
    #: (``https://shop.example``); empty: no page may (``docs/portal.md#embedding``).
    portal_frame_ancestors: Mapped[list[str] | None] = mapped_column(JSON, default=list)
    #: Store groups rule conditions name: ``{"north": ["S1", "S2"]}`` (group to store ids).
    store_groups: Mapped[dict[str, list[str]] | None] = mapped_column(JSON, default=dict)
    #: The store credit wallet: the currencies (ISO 4217) in which customers may hold
    #: credit, earned by rules with a credit ``reward`` (empty or null: points only).
    credit_currencies: Mapped[list[str] | None] = mapped_column(JSON, default=list)
    #: Store credit expires this many months after it was earned, at the end of that day
    #: in the merchant's time zone (null: never, the default; points have their own policy).
    credit_expiry_months: Mapped[int | None] = mapped_column(Integer)
    #: Percentage (0-100) of an invoice's total payable with store credit; the sum of
    #: credit and points stays under ``max_invoice_share`` too.
    credit_max_invoice_share: Mapped[Decimal] = mapped_column(
        default=Decimal(100), server_default="100"
    )
    #: Customers may buy coupons with store credit (``POST /coupons`` with ``credit``).
    credit_coupons: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Customers may turn points into store credit in the merchant's currency:
    #: ``points_to_credit_points`` points become ``points_to_credit_amount`` (null: not
    #: allowed, the default). Credit never turns back into points.
    points_to_credit_points: Mapped[int | None] = mapped_column(Integer)
    points_to_credit_amount: Mapped[Decimal] = mapped_column(default=Decimal("1.00"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(128))

    @validates("credit_expiry_months")
    def _check_credit_expiry(self, _key: str, value: object) -> int | None:
        # Checked on assignment, so every writer (API, admin, CLI) gets the same refusal.
        return check_credit_expiry(value)
