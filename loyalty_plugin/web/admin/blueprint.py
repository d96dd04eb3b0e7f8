"""``<prefix>/admin``: every admin page, with the role it needs, and the navigation.

Read :data:`ROUTES` to see the whole admin surface: one line per route, in sections per
screen. ``role=None`` is public; a rule with ``<merchant_id>`` needs that merchant and at
least the role; other rules need a signed-in staff member. The authorization walk in
``tests/admin/test_authorization.py`` reads this table and the app's URL map: a route that
is not here fails it. :data:`NAV` is the bar of ``admin/base.html``.
"""

from __future__ import annotations

from flask import Blueprint
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from loyalty_plugin.models import StaffRole
from loyalty_plugin.web.admin import access, formats, forms
from loyalty_plugin.web.admin.access import AdminRoute, NavItem
from loyalty_plugin.web.admin.views import (
    approvals,
    audit,
    bonus_campaigns,
    campaigns,
    cards,
    coupons,
    customers,
    emails,
    expiry,
    integration,
    jobs,
    levels,
    outbox,
    portal_embedding,
    programs,
    reports,
    settings,
    sign_in,
    spending,
    staff,
    transfers,
)

STAFF, MANAGER, OWNER = StaffRole.STAFF, StaffRole.MANAGER, StaffRole.OWNER
POST = ("POST",)

blueprint = Blueprint(
    "admin",
    __name__,
    url_prefix="/admin",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

ROUTES: tuple[AdminRoute, ...] = (
    # signing in and out, choosing a merchant, my sessions (views/sign_in.py)
    AdminRoute(rule="/sign-in", view=sign_in.sign_in_page, role=None),
    AdminRoute(rule="/sign-in", view=sign_in.sign_in, role=None, methods=POST),
    AdminRoute(rule="/link/<token>", view=sign_in.open_link, role=None),
    AdminRoute(rule="/password/<token>", view=sign_in.set_password_page, role=None),
    AdminRoute(rule="/password/<token>", view=sign_in.set_password, role=None, methods=POST),
    AdminRoute(rule="/sign-out", view=sign_in.sign_out, role=STAFF, methods=POST),
    AdminRoute(rule="/", view=sign_in.choose_merchant, role=STAFF),
    AdminRoute(rule="/sessions", view=sign_in.my_sessions, role=STAFF),
    AdminRoute(rule="/sessions/sign-out-everywhere", view=sign_in.sign_out_everywhere,
               role=STAFF, methods=POST),
    # staff of a merchant (views/staff.py)
    AdminRoute(rule="/m/<merchant_id>/staff", view=staff.staff_list, role=OWNER),
    AdminRoute(rule="/m/<merchant_id>/staff", view=staff.staff_add, role=OWNER, methods=POST),
    AdminRoute(rule="/m/<merchant_id>/staff/<int:staff_id>/role", view=staff.staff_role,
               role=OWNER, methods=POST),
    AdminRoute(rule="/m/<merchant_id>/staff/<int:staff_id>/remove", view=staff.staff_remove,
               role=OWNER, methods=POST),
    AdminRoute(rule="/m/<merchant_id>/staff/<int:staff_id>/sign-out",
               view=staff.staff_sign_out, role=OWNER, methods=POST),
    AdminRoute(rule="/m/<merchant_id>/staff/<int:staff_id>/password-link",
               view=staff.staff_password_link, role=OWNER, methods=POST),
    # customers: the search, a customer's page and what staff do there (views/customers.py)
    AdminRoute(rule="/m/<merchant_id>/customers", view=customers.customers, role=STAFF),
    AdminRoute(rule="/m/<merchant_id>/customers/<int:customer_id>",
               view=customers.customers_show, role=STAFF),
    AdminRoute(rule="/m/<merchant_id>/customers/<int:customer_id>/adjust",
               view=customers.customers_adjust, role=STAFF, methods=POST),
    AdminRoute(rule="/m/<merchant_id>/customers/<int:customer_id>/level",
               view=customers.customers_level, role=MANAGER, methods=POST),
    AdminRoute(rule="/m/<merchant_id>/customers/<int:customer_id>/consent",
               view=customers.customers_consent, role=MANAGER, methods=POST),
    AdminRoute(rule="/m/<merchant_id>/customers/<int:customer_id>/portal-link",
               view=customers.customers_portal_link, role=MANAGER, methods=POST),
    AdminRoute(rule="/m/<merchant_id>/customers/<int:customer_id>/portal-link/email",
               view=customers.customers_portal_link_email, role=MANAGER, methods=POST),
    AdminRoute(rule="/m/<merchant_id>/customers/<int:customer_id>/cards",
               view=customers.customers_card_give, role=STAFF, methods=POST),
    AdminRoute(rule="/m/<merchant_id>/customers/<int:customer_id>/cards/<number>/block",
               view=customers.customers_card_block, role=STAFF, methods=POST),
    AdminRoute(rule="/m/<merchant_id>/customers/<int:customer_id>/cards/<number>/replace",
               view=customers.customers_card_replace, role=STAFF, methods=POST),
    # approvals: adjustments waiting for a second person (views/approvals.py)
    AdminRoute(rule="/m/<merchant_id>/approvals", view=approvals.approvals, role=STAFF),
    AdminRoute(rule="/m/<merchant_id>/approvals/<int:adjustment_id>/approve",
               view=approvals.approvals_approve, role=MANAGER, methods=POST),
    AdminRoute(rule="/m/<merchant_id>/approvals/<int:adjustment_id>/reject",
               view=approvals.approvals_reject, role=MANAGER, methods=POST),
    # loyalty cards (views/cards.py): making them is a manager's, giving them out the desk's
    AdminRoute(rule="/m/<merchant_id>/cards", view=cards.cards_list, role=STAFF),
    AdminRoute(rule="/m/<merchant_id>/cards/generate", view=cards.cards_generate,
               role=MANAGER, methods=POST),
    AdminRoute(rule="/m/<merchant_id>/cards/import", view=cards.cards_import, role=MANAGER,
               methods=POST),
    AdminRoute(rule="/m/<merchant_id>/cards/batches/<int:batch_id>.csv", view=cards.batch_csv,
               role=MANAGER),
    AdminRoute(rule="/m/<merchant_id>/cards/<number>", view=cards.card_page, role=STAFF),
    AdminRoute(rule="/m/<merchant_id>/cards/<number>/assign", view=cards.card_assign,
               role=STAFF, methods=POST),
    AdminRoute(rule="/m/<merchant_id>/cards/<number>/block", view=cards.card_block,
               role=STAFF, methods=POST),
    AdminRoute(rule="/m/<merchant_id>/cards/<number>/replace", view=cards.card_replace,
               role=STAFF, methods=POST),
    # the audit trail (views/audit.py)
    AdminRoute(rule="/m/<merchant_id>/audit", view=audit.audit_page, role=MANAGER),
    AdminRoute(rule="/m/<merchant_id>/audit.csv", view=audit.audit_csv, role=MANAGER),
    # merge and transfer (views/transfers.py)
    AdminRoute(rule="/m/<merchant_id>/customers/<int:customer_id>/merge",
               view=transfers.customer_merge, role=MANAGER),
    AdminRoute(rule="/m/<merchant_id>/customers/<int:customer_id>/merge",
               view=transfers.customer_merge_confirm, role=MANAGER, methods=POST),
    AdminRoute(rule="/m/<merchant_id>/transfers/new", view=transfers.transfer_new, role=MANAGER),
    AdminRoute(rule="/m/<merchant_id>/transfers/new", view=transfers.transfer_create,
               role=MANAGER, methods=POST),
    # reports (views/reports.py): the dashboard is the merchant's home
    AdminRoute(rule="/m/<merchant_id>/", view=reports.dashboard, role=STAFF,
               endpoint="merchant_home"),
    AdminRoute(rule="/m/<merchant_id>/journal", view=reports.journal, role=STAFF),
    AdminRoute(rule="/m/<merchant_id>/journal.csv", view=reports.journal_csv, role=STAFF),
    AdminRoute(rule="/m/<merchant_id>/aging", view=reports.aging, role=STAFF),
    AdminRoute(rule="/m/<merchant_id>/exports", view=reports.exports, role=STAFF),
    AdminRoute(rule="/m/<merchant_id>/exports/customers.csv", view=reports.customers_csv,
               role=STAFF),
    AdminRoute(rule="/m/<merchant_id>/exports/liability.csv", view=reports.liability_csv,
               role=STAFF),
    # integration (views/integration.py): host events (managers read, owners retry),
    # webhook secrets and API keys (owners)
    AdminRoute(rule="/m/<merchant_id>/integration", view=integration.integration, role=MANAGER),
    AdminRoute(rule="/m/<merchant_id>/integration/events/<int:event_id>",
               view=integration.integration_event, role=MANAGER),
    AdminRoute(rule="/m/<merchant_id>/integration/events/<int:event_id>/retry",
               view=integration.integration_event_retry, role=OWNER, methods=POST),
    AdminRoute(rule="/m/<merchant_id>/integration/events/retry-failed",
               view=integration.integration_retry_failed, role=OWNER, methods=POST),
    AdminRoute(rule="/m/<merchant_id>/integration/secrets",
               view=integration.integration_secrets, role=OWNER),
    AdminRoute(rule="/m/<merchant_id>/integration/secrets",
               view=integration.integration_secret_create, role=OWNER, methods=POST),
    AdminRoute(rule="/m/<merchant_id>/integration/secrets/rotate",
               view=integration.integration_secret_rotate, role=OWNER, methods=POST),
    AdminRoute(rule="/m/<merchant_id>/integration/secrets/<int:secret_id>/revoke",
               view=integration.integration_secret_revoke, role=OWNER, methods=POST),
    AdminRoute(rule="/m/<merchant_id>/integration/api-keys",
               view=integration.integration_api_keys, role=OWNER),
    AdminRoute(rule="/m/<merchant_id>/integration/api-keys",
               view=integration.integration_api_key_create, role=OWNER, methods=POST),
    AdminRoute(rule="/m/<merchant_id>/integration/api-keys/<prefix>/revoke",
               view=integration.integration_api_key_revoke, role=OWNER, methods=POST),
    AdminRoute(rule="/m/<merchant_id>/integration/outgoing",
               view=integration.integration_outgoing, role=OWNER),
    AdminRoute(rule="/m/<merchant_id>/integration/outgoing",
               view=integration.integration_outgoing_save, role=OWNER, methods=POST),
    AdminRoute(rule="/m/<merchant_id>/integration/outgoing/ping",
               view=integration.integration_outgoing_ping, role=OWNER, methods=POST),
    AdminRoute(rule="/m/<merchant_id>/integration/outgoing/<int:message_id>/retry",
               view=integration.integration_outgoing_retry, role=OWNER, methods=POST),
    # spending: paying with points, coupon conversion, store credit, rewards (views/spending.py)
    AdminRoute(rule="/m/<merchant_id>/spending", view=spending.spending, role=STAFF),
    AdminRoute(rule="/m/<merchant_id>/spending/settings", view=spending.spending_settings,
               role=MANAGER, methods=POST),
    AdminRoute(rule="/m/<merchant_id>/spending/credit", view=spending.spending_credit,
               role=MANAGER, methods=POST),
    AdminRoute(rule="/m/<merchant_id>/spending/rewards", view=spending.spending_reward_add,
               role=MANAGER, methods=POST),
    AdminRoute(rule="/m/<merchant_id>/spending/rewards/<int:reward_id>",
               view=spending.spending_reward_page, role=MANAGER),
    AdminRoute(rule="/m/<merchant_id>/spending/rewards/<int:reward_id>",
               view=spending.spending_reward_save, role=MANAGER, methods=POST),
    AdminRoute(rule="/m/<merchant_id>/spending/rewards/<int:reward_id>/active",
               view=spending.spending_reward_active, role=MANAGER, methods=POST),
    # coupons: find one by code or status, cancel an unused one (views/coupons.py)
    AdminRoute(rule="/m/<merchant_id>/coupons", view=coupons.coupons_list, role=STAFF),
    AdminRoute(rule="/m/<merchant_id>/coupons/<code>/cancel", view=coupons.coupon_cancel,
               role=MANAGER, methods=POST),
    # coupon campaigns: list, make, change, end (views/campaigns.py)
    AdminRoute(rule="/m/<merchant_id>/campaigns", view=campaigns.campaigns_list, role=STAFF),
    AdminRoute(rule="/m/<merchant_id>/campaigns", view=campaigns.campaign_create,
               role=MANAGER, methods=POST),
    AdminRoute(rule="/m/<merchant_id>/campaigns/<int:campaign_id>",
               view=campaigns.campaign_page, role=STAFF),
    AdminRoute(rule="/m/<merchant_id>/campaigns/<int:campaign_id>",
               view=campaigns.campaign_save, role=MANAGER, methods=POST),
    AdminRoute(rule="/m/<merchant_id>/campaigns/<int:campaign_id>/end",
               view=campaigns.campaign_end, role=MANAGER, methods=POST),
    # bonus campaigns: list, make, change, end (views/bonus_campaigns.py)
    AdminRoute(rule="/m/<merchant_id>/bonus-campaigns", view=bonus_campaigns.bonus_campaigns_list,
               role=STAFF),
    AdminRoute(rule="/m/<merchant_id>/bonus-campaigns",
               view=bonus_campaigns.bonus_campaign_create, role=MANAGER, methods=POST),
    AdminRoute(rule="/m/<merchant_id>/bonus-campaigns/<key>/edit",
               view=bonus_campaigns.bonus_campaign_edit, role=MANAGER),
    AdminRoute(rule="/m/<merchant_id>/bonus-campaigns/<key>/edit",
               view=bonus_campaigns.bonus_campaign_save, role=MANAGER, methods=POST),
    AdminRoute(rule="/m/<merchant_id>/bonus-campaigns/<key>/end",
               view=bonus_campaigns.bonus_campaign_end, role=MANAGER, methods=POST),
    # programs, their rule editors, simulating a draft (views/programs.py)
    AdminRoute(rule="/m/<merchant_id>/programs", view=programs.programs_list, role=STAFF),
    AdminRoute(rule="/m/<merchant_id>/programs", view=programs.programs_create, role=MANAGER,
               methods=POST),
    AdminRoute(rule="/m/<merchant_id>/programs.json", view=programs.programs_export,
               role=MANAGER),
    AdminRoute(rule="/m/<merchant_id>/programs/import", view=programs.programs_import,
               role=MANAGER, methods=POST),
    AdminRoute(rule="/m/<merchant_id>/programs/<key>", view=programs.program_page, role=STAFF),
    AdminRoute(rule="/m/<merchant_id>/programs/<key>", view=programs.program_edit,
               role=MANAGER, methods=POST),
    AdminRoute(rule="/m/<merchant_id>/programs/<key>/activate", view=programs.program_activate,
               role=MANAGER, methods=POST),
    AdminRoute(rule="/m/<merchant_id>/programs/<key>/pause", view=programs.program_pause,
               role=MANAGER, methods=POST),
    AdminRoute(rule="/m/<merchant_id>/programs/<key>/archive", view=programs.program_archive,
               role=MANAGER, methods=POST),
    AdminRoute(rule="/m/<merchant_id>/programs/<key>/simulate",
               view=programs.program_simulate, role=STAFF),
    AdminRoute(rule="/m/<merchant_id>/programs/<key>/rules/new", view=programs.rule_new,
               role=MANAGER),
    AdminRoute(rule="/m/<merchant_id>/programs/<key>/rules", view=programs.rule_save,
               role=MANAGER, methods=POST),
    AdminRoute(rule="/m/<merchant_id>/programs/<key>/rules/<rule_id>", view=programs.rule_edit,
               role=MANAGER),
    AdminRoute(rule="/m/<merchant_id>/programs/<key>/rules/<rule_id>/delete",
               view=programs.rule_delete, role=MANAGER, methods=POST),
    # merchant settings (views/settings.py), a tab of Integration (so named for the bar)
    AdminRoute(rule="/m/<merchant_id>/settings", view=settings.merchant_settings, role=OWNER,
               endpoint="integration_settings"),
    AdminRoute(rule="/m/<merchant_id>/settings/rates", view=settings.exchange_rate_save,
               role=OWNER, methods=POST, endpoint="integration_rate_save"),
    AdminRoute(rule="/m/<merchant_id>/settings/merchant",
               view=settings.merchant_particulars_save, role=OWNER, methods=POST,
               endpoint="integration_particulars_save"),
    AdminRoute(rule="/m/<merchant_id>/settings", view=settings.merchant_settings_save,
               role=OWNER, methods=POST, endpoint="integration_settings_save"),
    AdminRoute(rule="/m/<merchant_id>/settings/portal-embedding", view=portal_embedding.save,
               role=OWNER, methods=POST, endpoint="integration_embedding_save"),
    # membership levels of a program (views/levels.py)
    AdminRoute(rule="/m/<merchant_id>/levels", view=levels.levels, role=STAFF),
    AdminRoute(rule="/m/<merchant_id>/levels", view=levels.levels_save, role=MANAGER,
               methods=POST),
    # expiry and reminders: the policy, the e-mails, a preview (views/expiry.py)
    AdminRoute(rule="/m/<merchant_id>/expiry", view=expiry.expiry_page, role=STAFF),
    AdminRoute(rule="/m/<merchant_id>/expiry/policy", view=expiry.expiry_policy,
               role=MANAGER, methods=POST),
    AdminRoute(rule="/m/<merchant_id>/expiry/emails", view=expiry.expiry_emails,
               role=MANAGER, methods=POST),
    AdminRoute(rule="/m/<merchant_id>/expiry/credit", view=expiry.expiry_credit,
               role=MANAGER, methods=POST),
    # e-mail templates: list, editor, preview, reset, test send (views/emails.py)
    AdminRoute(rule="/m/<merchant_id>/emails", view=emails.emails, role=STAFF),
    AdminRoute(rule="/m/<merchant_id>/emails/<name>", view=emails.emails_edit, role=STAFF),
    AdminRoute(rule="/m/<merchant_id>/emails/<name>", view=emails.emails_save, role=MANAGER,
               methods=POST),
    AdminRoute(rule="/m/<merchant_id>/emails/<name>/preview", view=emails.emails_preview,
               role=STAFF, methods=POST),
    AdminRoute(rule="/m/<merchant_id>/emails/<name>/preview.html",
               view=emails.emails_preview_html, role=STAFF),
    AdminRoute(rule="/m/<merchant_id>/emails/<name>/reset", view=emails.emails_reset,
               role=MANAGER, methods=POST),
    AdminRoute(rule="/m/<merchant_id>/emails/<name>/test", view=emails.emails_test,
               role=MANAGER, methods=POST),
    # operations: the scheduled jobs and "run now" for this shop (views/jobs.py), the e-mail
    # outbox (views/outbox.py); bodies hold customers' portal links: managers and owners
    AdminRoute(rule="/m/<merchant_id>/jobs", view=jobs.jobs, role=MANAGER),
    AdminRoute(rule="/m/<merchant_id>/jobs/<name>/run", view=jobs.jobs_run, role=OWNER,
               methods=POST),
    AdminRoute(rule="/m/<merchant_id>/outbox", view=outbox.outbox, role=MANAGER),
    AdminRoute(rule="/m/<merchant_id>/outbox/<int:email_id>", view=outbox.outbox_email,
               role=MANAGER),
    AdminRoute(rule="/m/<merchant_id>/outbox/<int:email_id>/body.html",
               view=outbox.outbox_email_html, role=MANAGER),
    AdminRoute(rule="/m/<merchant_id>/outbox/<int:email_id>/retry", view=outbox.outbox_retry,
               role=MANAGER, methods=POST),
    AdminRoute(rule="/m/<merchant_id>/outbox/<int:email_id>/cancel", view=outbox.outbox_cancel,
               role=MANAGER, methods=POST),
)  # fmt: skip

#: The bar's sections, in this order; each shows its screens as a second row. An entry
#: without a section (or with one not named here) is still shown, under "More" (last).
SECTIONS: tuple[str, ...] = ("Reports", "Customers", "Setup", "Integration", "Operations")

#: The navigation bar: screens add their entry here, with a ``section`` from
#: :data:`SECTIONS` (``position`` orders the entries inside their section).
NAV: list[NavItem] = [
    NavItem(
        label="Customers", endpoint="admin.customers", role=STAFF, position=20, section="Customers"
    ),
    NavItem(
        label="Approvals", endpoint="admin.approvals", role=STAFF, position=30, section="Customers"
    ),
    NavItem(
        label="Cards", endpoint="admin.cards_list", role=STAFF, position=40, section="Customers"
    ),
    NavItem(
        label="Audit", endpoint="admin.audit_page", role=MANAGER, position=70, section="Reports"
    ),
    NavItem(
        label="Dashboard",
        endpoint="admin.merchant_home",
        role=STAFF,
        position=10,
        section="Reports",
    ),
    NavItem(label="Journal", endpoint="admin.journal", role=STAFF, position=50, section="Reports"),
    NavItem(label="Aging", endpoint="admin.aging", role=STAFF, position=55, section="Reports"),
    NavItem(label="Exports", endpoint="admin.exports", role=STAFF, position=65, section="Reports"),
    NavItem(
        label="Integration",
        endpoint="admin.integration",
        role=MANAGER,
        position=80,
        section="Integration",
    ),
    NavItem(label="Levels", endpoint="admin.levels", role=STAFF, position=73, section="Setup"),
    NavItem(label="Expiry", endpoint="admin.expiry_page", role=STAFF, position=77, section="Setup"),
    NavItem(label="Spending", endpoint="admin.spending", role=STAFF, position=75, section="Setup"),
    NavItem(
        label="Coupons", endpoint="admin.coupons_list", role=STAFF, position=76, section="Setup"
    ),
    # same position as Coupons: listed after it
    NavItem(
        label="Campaigns", endpoint="admin.campaigns_list", role=STAFF, position=76, section="Setup"
    ),
    NavItem(
        label="Programs", endpoint="admin.programs_list", role=STAFF, position=72, section="Setup"
    ),
    NavItem(
        label="Bonus campaigns",
        endpoint="admin.bonus_campaigns_list",
        role=STAFF,
        position=72,
        section="Setup",
    ),
    NavItem(label="E-mails", endpoint="admin.emails", role=STAFF, position=78, section="Setup"),
    NavItem(
        label="Staff", endpoint="admin.staff_list", role=OWNER, position=90, section="Integration"
    ),
    NavItem(label="Jobs", endpoint="admin.jobs", role=MANAGER, position=95, section="Operations"),
    NavItem(
        label="Outbox", endpoint="admin.outbox", role=MANAGER, position=96, section="Operations"
    ),
]

access.register_routes(blueprint, ROUTES, NAV, SECTIONS)
blueprint.before_request(access.load_staff)
blueprint.after_request(access.secure_headers)
for _error, _handler in access.ERRORS:
    blueprint.register_error_handler(_error, _handler)
blueprint.register_error_handler(DBAPIError, access.database_error)
blueprint.register_error_handler(PoolTimeout, access.database_error)
blueprint.register_error_handler(Exception, access.unexpected)

blueprint.add_app_template_global(access.visible_nav, "admin_nav")
blueprint.add_app_template_global(access.switch_url, "admin_switch_url")
blueprint.add_app_template_global(access.signed_in, "admin_signed_in")
blueprint.add_app_template_global(access.page_url, "admin_page_url")
blueprint.add_app_template_global(forms.csrf_token, "admin_csrf_token")
blueprint.add_app_template_global(forms.new_form_key, "admin_form_key")
blueprint.add_app_template_global(formats.number, "admin_number")
blueprint.add_app_template_global(formats.money, "admin_money")
blueprint.add_app_template_global(formats.datetime, "admin_datetime")
blueprint.add_app_template_global(formats.date, "admin_date")
blueprint.add_app_template_global(formats.browser, "admin_browser")
blueprint.add_app_template_global(formats.percent, "admin_percent")
