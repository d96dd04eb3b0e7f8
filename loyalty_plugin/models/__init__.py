"""SQLAlchemy models, one aggregate per module; importing this registers them all."""

from loyalty_plugin.models.adjustment import Adjustment, AdjustmentStatus
from loyalty_plugin.models.api_key import ApiKey, ApiKeyMerchant, ApiScope
from loyalty_plugin.models.audit import AuditEntry
from loyalty_plugin.models.base import Base
from loyalty_plugin.models.bonus_campaign import BonusCampaign, BonusCampaignGrant
from loyalty_plugin.models.card import Card, CardBatch, CardSource, CardStatus
from loyalty_plugin.models.coupon import Coupon, CouponCampaign, Reward
from loyalty_plugin.models.customer import Customer
from loyalty_plugin.models.email import EmailAttempt, EmailMessage, EmailStatus, EmailTemplate
from loyalty_plugin.models.expiry_policy import ExpiryReminder, ExpirySettings
from loyalty_plugin.models.idempotency import IdempotencyRecord, IdempotencyStatus
from loyalty_plugin.models.invoice import Invoice, InvoiceStatus
from loyalty_plugin.models.job_run import JobLease, JobRun, RunStatus
from loyalty_plugin.models.ledger import Account, Allocation, LedgerEntry, Lot
from loyalty_plugin.models.membership import LevelHistory, Membership
from loyalty_plugin.models.merchant import Merchant
from loyalty_plugin.models.notification_settings import NotificationSettings
from loyalty_plugin.models.outbox import (
    OutboxAttempt,
    OutboxMessage,
    OutboxStatus,
    WebhookEndpoint,
)
from loyalty_plugin.models.portal_link_request import PortalLinkRequest
from loyalty_plugin.models.program import (
    ExchangeRate,
    InvoiceEarning,
    Program,
    ProgramVersion,
    RuleClaim,
)
from loyalty_plugin.models.redemption import Redemption, RedemptionStatus
from loyalty_plugin.models.report import (
    ReportAccountMonth,
    ReportAccountPoints,
    ReportDay,
    ReportGroupLotDay,
    ReportLotDay,
    ReportRollup,
)
from loyalty_plugin.models.settings import MerchantSettings
from loyalty_plugin.models.staff import (
    AdminLinkNonce,
    AdminSession,
    LoginAttempt,
    StaffMember,
    StaffMembership,
    StaffRole,
)
from loyalty_plugin.models.webhook_event import EventKey, InboxStatus, WebhookEvent
from loyalty_plugin.models.webhook_secret import WebhookSecret

__all__ = [
    "Account",
    "Adjustment",
    "AdjustmentStatus",
    "AdminLinkNonce",
    "AdminSession",
    "Allocation",
    "ApiKey",
    "ApiKeyMerchant",
    "ApiScope",
    "AuditEntry",
    "Base",
    "BonusCampaign",
    "BonusCampaignGrant",
    "Card",
    "CardBatch",
    "CardSource",
    "CardStatus",
    "Coupon",
    "CouponCampaign",
    "Customer",
    "EmailAttempt",
    "EmailMessage",
    "EmailStatus",
    "EmailTemplate",
    "EventKey",
    "ExchangeRate",
    "ExpiryReminder",
    "ExpirySettings",
    "IdempotencyRecord",
    "IdempotencyStatus",
    "InboxStatus",
    "Invoice",
    "InvoiceEarning",
    "InvoiceStatus",
    "JobLease",
    "JobRun",
    "LedgerEntry",
    "LevelHistory",
    "LoginAttempt",
    "Lot",
    "Membership",
    "Merchant",
    "MerchantSettings",
    "NotificationSettings",
    "OutboxAttempt",
    "OutboxMessage",
    "OutboxStatus",
    "PortalLinkRequest",
    "Program",
    "ProgramVersion",
    "Redemption",
    "RedemptionStatus",
    "ReportAccountMonth",
    "ReportAccountPoints",
    "ReportDay",
    "ReportGroupLotDay",
    "ReportLotDay",
    "ReportRollup",
    "Reward",
    "RuleClaim",
    "RunStatus",
    "StaffMember",
    "StaffMembership",
    "StaffRole",
    "WebhookEndpoint",
    "WebhookEvent",
    "WebhookSecret",
]
