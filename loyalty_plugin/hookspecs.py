"""Every hook a loyalty plugin can implement, in the order the engine calls them.

Plugins implement hooks with ``from loyalty_plugin import hookimpl``; the plugin manager is
built per app by :mod:`loyalty_plugin.plugins`. Each hook is documented in
``docs/plugin_hooks.md`` with its exact signature (a test checks).

Hooks come in three kinds:

* ``register_*`` and ``extra_*`` hooks return things to add; the results of every plugin are
  collected into a list;
* ``firstresult`` hooks (``email_sender``) stop at the first non-``None`` answer, so a
  plugin marked ``tryfirst`` replaces the default;
* notification hooks (``points_earned``...) run **after** the transaction that caused them
  committed. They receive one frozen event object, never see a rolled-back change, and an
  exception they raise is logged and swallowed: it cannot undo the ledger.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pluggy import HookimplMarker, HookspecMarker

if TYPE_CHECKING:
    from collections.abc import Mapping

    from sqlalchemy.orm import Session

    from loyalty_plugin.domain.events import (
        CouponCreated,
        CouponRedeemed,
        CreditEarned,
        CreditExpired,
        CreditExpiring,
        CreditReturned,
        CreditReversed,
        CreditSpent,
        CustomerRegistered,
        LevelChanged,
        PointsEarned,
        PointsExpired,
        PointsExpiring,
        PointsRedeemed,
        PointsReversed,
    )
    from loyalty_plugin.domain.host_events import HostEvent
    from loyalty_plugin.domain.rules import Rule
    from loyalty_plugin.email.send import EmailSender
    from loyalty_plugin.jobs.emails import SmsMessage
    from loyalty_plugin.jobs.job import Job

#: Marks a hook specification (used only in this module).
hookspec = HookspecMarker("loyalty_plugin")
#: Marks a plugin's hook implementation: ``@hookimpl`` above a function named like a hook.
hookimpl = HookimplMarker("loyalty_plugin")


# -------------------------------------------------------------------------------------------
# Setup: called when the app starts or when a job runner is built.
# -------------------------------------------------------------------------------------------


@hookspec
def register_earning_rules() -> list[type[Rule]]:
    """Add rule kinds that a merchant's programs can use, beside the built-in ones.

    Called when a program is validated and each time one is evaluated, inside the ledger
    transaction. A kind earns only in programs whose ``rules`` name it.

    :returns: a list of :class:`~loyalty_plugin.domain.rules.Rule` subclasses, each with
        its own ``kind``; the lists of every plugin are joined.

    An exception aborts the event being processed; it is retried later.
    """


@hookspec
def register_jobs() -> list[Job]:
    """Add periodic jobs to the scheduler (and to ``loyalty jobs list``).

    Called once when the scheduler is set up, outside any transaction.

    :returns: a list of :class:`~loyalty_plugin.jobs.Job`; the lists of every plugin are
        joined with the built-in jobs.

    An exception stops the start-up.
    """


# -------------------------------------------------------------------------------------------
# Webhook intake: a host event, validated and deduplicated, is being processed.
# -------------------------------------------------------------------------------------------


@hookspec
def host_event_received(session: Session, event: HostEvent) -> dict[str, Any] | None:
    """React to a host event, after the built-in handler, in the same transaction.

    Called once per accepted event (never for a duplicate, nor while the event waits for
    its invoice or customer). This is how a plugin handles ``event.custom``: it may write
    to the ledger through :mod:`loyalty_plugin.services.ledger.entries` with ``session``.

    :param session: the event's transaction; do not commit it.
    :param event: the validated event, with its typed ``data``.
    :returns: a JSON-ready dict added to the answer's ``result.plugins``, or ``None``.

    An exception rolls back the whole event; a
    :class:`~loyalty_plugin.domain.errors.LoyaltyError` rejects it (422), anything else
    leaves it queued for a retry.
    """


# -------------------------------------------------------------------------------------------
# Notifications: after commit, one frozen event each. Exceptions are logged and ignored.
# -------------------------------------------------------------------------------------------


@hookspec
def points_earned(event: PointsEarned) -> None:
    """Points were earned (an invoice, a registration, a birthday...).

    Called after the transaction committed.

    :param event: what was earned, by whom, and the balance after.

    An exception is logged; it does not undo the points nor stop other plugins.
    """


@hookspec
def points_redeemed(event: PointsRedeemed) -> None:
    """Points were spent on an invoice or a coupon.

    Called after the transaction committed.

    :param event: what was spent and the balance after.

    An exception is logged; it does not undo the redemption nor stop other plugins.
    """


@hookspec
def points_reversed(event: PointsReversed) -> None:
    """An earlier entry was undone, in whole or in part (a refund, a cancellation).

    Called after the transaction committed.

    :param event: the reversal, the entry it reverses, and the balance after.

    An exception is logged; it does not undo the reversal nor stop other plugins.
    """


@hookspec
def points_expiring(event: PointsExpiring) -> None:
    """Points will expire soon (the reminder).

    Called after the transaction that scheduled the reminder committed.

    :param event: how many points expire, and when.

    An exception is logged and ignored.
    """


@hookspec
def points_expired(event: PointsExpired) -> None:
    """Points reached their expiry date and were taken off the balance.

    Called after the transaction committed.

    :param event: how many points expired and the balance after.

    An exception is logged; it does not undo the expiry nor stop other plugins.
    """


# -------------------------------------------------------------------------------------------
# Store credit (issue #19): money beside points, after commit, as the points notifications.
# -------------------------------------------------------------------------------------------


@hookspec
def credit_earned(event: CreditEarned) -> None:
    """Store credit was earned: a rule's credit reward on an invoice or an event
    (registration, birthday, custom), or points turned into credit.

    Called after the transaction committed; never for points (see ``points_earned``).

    :param event: the currency, the amount and the credit balance after, as decimal
        strings (``"10.00"``), the entry, and its reference (``invoice:...``,
        ``registration:...``, ``credit_conversion:...``).

    An exception is logged; it does not undo the credit nor stop other plugins.
    """


@hookspec
def credit_reversed(event: CreditReversed) -> None:
    """Store credit was taken back by a refund or a cancellation.

    Called after the transaction committed.

    :param event: the signed amount (``"-5.00"``), the balance after, and the entry it
        reverses.

    An exception is logged; it does not undo the reversal nor stop other plugins.
    """


@hookspec
def credit_spent(event: CreditSpent) -> None:
    """Store credit was spent: its hold on an invoice was captured, or it bought a coupon.

    Called after the transaction committed; the points of the same redemption call
    ``points_redeemed``.

    :param event: the currency, the amount (negative, ``"-10.00"``), the credit balance
        after, the entry (the hold, or the coupon's ``redeem``), the redemption the host
        knows (``None`` for a coupon) and the reference (``invoice:...``, ``coupon:...``).

    An exception is logged; it does not undo the capture nor stop other plugins.
    """


@hookspec
def credit_returned(event: CreditReturned) -> None:
    """Store credit spent on an invoice was given back by a refund or its cancellation.

    Called after the transaction committed.

    :param event: the currency, the amount given back, the balance after, the hold entry
        it reverses and the redemption.

    An exception is logged; it does not undo the return nor stop other plugins.
    """


@hookspec
def credit_expiring(event: CreditExpiring) -> None:
    """Store credit will expire soon (the reminder, once per currency and day).

    Called after the transaction that scheduled the reminder committed.

    :param event: the currency, the amount that expires and when.

    An exception is logged and ignored.
    """


@hookspec
def credit_expired(event: CreditExpired) -> None:
    """Store credit reached its expiry date and was taken off the balance: by the expiry
    job, or at once when a release or refund gave it back to lots already past their date.

    Called after the transaction committed.

    :param event: the currency, the amount expired (positive) and the balance after.

    An exception is logged; it does not undo the expiry nor stop other plugins.
    """


@hookspec
def level_changed(event: LevelChanged) -> None:
    """A customer moved to another level.

    Called after the transaction committed.

    :param event: the old and new level and why.

    An exception is logged and ignored.
    """


@hookspec
def coupon_created(event: CouponCreated) -> None:
    """A coupon was created (points converted, or issued by staff).

    Called after the transaction committed.

    :param event: the code and what it is worth.

    An exception is logged and ignored.
    """


@hookspec
def coupon_redeemed(event: CouponRedeemed) -> None:
    """A coupon was used.

    Called after the transaction committed.

    :param event: the code and where it was used.

    An exception is logged and ignored.
    """


@hookspec
def customer_registered(event: CustomerRegistered) -> None:
    """A customer became known and enrolled with a merchant for the first time.

    Called after the transaction committed; once per customer and merchant.

    :param event: the merchant and the host's customer id.

    An exception is logged and ignored.
    """


# -------------------------------------------------------------------------------------------
# Message channels: SMS, and replacing the e-mail sender.
# -------------------------------------------------------------------------------------------


@hookspec
def send_sms(message: SmsMessage) -> None:
    """Send a customer message as SMS; no SMS provider is built in.

    Called by the ``send-emails`` job, outside any transaction, once per queued message
    whose customer consented to SMS (``sms_opt_in``) and has a phone number, with the same
    rendered text as the e-mail (``message.text``; ``message.subject`` for a short form).

    :param message: the merchant, the phone number, the text, the template's name, and a
        ``message_id`` that stays the same if the hook is ever called again for it.

    An exception is logged and recorded as a failed ``sms`` attempt; it is not retried and
    does not stop the e-mail.
    """


@hookspec(firstresult=True)
def email_sender(config: Mapping[str, Any]) -> EmailSender | None:
    """Provide the object that sends e-mail, instead of the built-in SMTP adapter.

    Called once per run of the ``send-emails`` job.

    :param config: the app's configuration.
    :returns: an object with ``send(message)`` and ``close()`` (see
        :class:`loyalty_plugin.email.send.EmailSender`), or ``None`` to use SMTP. Stops
        at first non-None result.

    An exception fails that run of the job; messages stay queued.
    """


# -------------------------------------------------------------------------------------------
# E-mail and admin UI.
# -------------------------------------------------------------------------------------------


@hookspec
def extra_email_context(
    template: str, merchant_id: str, context: dict[str, Any]
) -> dict[str, Any] | None:
    """Add variables to an e-mail's template context.

    Called when an e-mail is rendered, after its own context is built, outside the
    ledger transaction.

    :param template: the e-mail's name (``points_earned``, ``points_expiring``...).
    :param merchant_id: the merchant sending it.
    :param context: the context so far (read it; do not change it).
    :returns: a dict merged into the context, or ``None``; results of every plugin are
        merged in turn.

    An exception stops that e-mail from being sent (it is retried with the e-mail queue).
    """


@hookspec
def extra_admin_menu_items(merchant_id: str | None) -> list[dict[str, str]] | None:
    """Add entries to the admin pages' menu.

    Called when an admin page is rendered. Planned: the admin pages are not built yet, so
    nothing calls it today.

    :param merchant_id: the merchant being administered, or ``None`` on global pages.
    :returns: a list of ``{"label": ..., "href": ...}`` dicts; the lists of every plugin
        are joined.

    An exception is logged and the plugin's items are left out.
    """
