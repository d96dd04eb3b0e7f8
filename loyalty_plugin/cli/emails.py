"""``loyalty emails``: templates (list, preview, save, reset), settings, the outbox."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from loyalty_plugin.cli.actor import cli_actor
from loyalty_plugin.domain.errors import LoyaltyError
from loyalty_plugin.domain.notifications import Message, NotificationPrefs
from loyalty_plugin.email.send import SmtpSender, SmtpSettings
from loyalty_plugin.email.templates import TEMPLATES
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import EmailMessage, EmailStatus
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.messaging import email_outbox, email_templates
from loyalty_plugin.services.messaging.notifications import (
    notification_prefs,
    set_notification_prefs,
)
from loyalty_plugin.services.transaction import run_in_transaction

_NAME = click.Choice(sorted(TEMPLATES))


@click.group()
def emails() -> None:
    """Customer e-mails: templates, settings and the outbox."""


@emails.command("templates")
def list_templates() -> None:
    """Every template with its category and the variables it may use."""
    for spec in TEMPLATES.values():
        click.echo(f"{spec.name}  ({spec.category.value}): {spec.description}")
        for variable in spec.variables:
            attrs = f" .{', .'.join(variable.fields)}" if variable.fields else ""
            click.echo(f"    {variable.name:<18} {variable.description}{attrs}")


@emails.command()
@click.argument("name", type=_NAME)
@click.option("--merchant", "merchant_id", required=True, help="Merchant id.")
@click.option("--html", "show_html", is_flag=True, help="Print the HTML part too.")
@with_appcontext
def preview(name: str, merchant_id: str, show_html: bool) -> None:
    """Render template NAME as the merchant has it, with sample data."""
    try:
        email = email_templates.preview_template(get_session(), merchant_id=merchant_id, name=name)
    except LoyaltyError as error:
        raise click.UsageError(error.message) from None
    finally:
        get_session().rollback()
    click.echo(f"Subject: {email.subject}\n\n{email.text}")
    if show_html:
        click.echo(email.html)


@emails.command()
@click.argument("name", type=_NAME)
@click.option("--merchant", "merchant_id", required=True, help="Merchant id.")
@click.option("--subject", help="New subject (default: keep).")
@click.option("--text", "text_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--html", "html_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--by", "actor", default=None, help="Who made the edit [default: your user name].")
@with_appcontext
def save(
    name: str,
    merchant_id: str,
    subject: str | None,
    text_file: Path | None,
    html_file: Path | None,
    actor: str | None,
) -> None:
    """Store the merchant's edit of NAME (checked first; refused with line and reason)."""
    session = get_session()
    current, _ = email_templates.template_sources(session, merchant_id=merchant_id, name=name)
    try:
        run_in_transaction(
            session,
            lambda s: email_templates.save_template(
                s,
                merchant_id=merchant_id,
                name=name,
                subject=current.subject if subject is None else subject,
                body_text=text_file.read_text("utf-8") if text_file else current.body_text,
                body_html=html_file.read_text("utf-8") if html_file else current.body_html,
                now=utcnow(),
                actor=cli_actor(actor),
            ),
        )
    except LoyaltyError as error:
        click.echo(f"refused: {error.message}", err=True)
        sys.exit(2)
    click.echo(f"saved {name} for {merchant_id}")


@emails.command()
@click.argument("name", type=_NAME)
@click.option("--merchant", "merchant_id", required=True, help="Merchant id.")
@with_appcontext
def reset(name: str, merchant_id: str) -> None:
    """Drop the merchant's edit of NAME: the default template applies again."""
    try:
        dropped = run_in_transaction(
            get_session(),
            lambda s: email_templates.reset_template(
                s, merchant_id=merchant_id, name=name, now=utcnow(), actor=cli_actor()
            ),
        )
    except LoyaltyError as error:
        raise click.UsageError(error.message) from None
    click.echo(f"{name} reset to the default" if dropped else f"{name} was already the default")


@emails.command("test")
@click.argument("name", type=_NAME)
@click.option("--merchant", "merchant_id", required=True, help="Merchant id.")
@click.option("--to", required=True, help="The address to send the test to.")
@click.option("--customer", "customer_id", type=int, help="Use this customer's data (number).")
@with_appcontext
def send_test(name: str, merchant_id: str, to: str, customer_id: int | None) -> None:
    """Send the merchant's NAME, with sample data, to --to through the SMTP server."""
    settings = SmtpSettings.from_config(current_app.config)
    if not settings.host:
        raise click.UsageError("LOYALTY_SMTP_HOST is not set")
    try:
        with SmtpSender(settings) as sender:
            message_id = run_in_transaction(
                get_session(),
                lambda s: email_templates.send_test_email(
                    s,
                    merchant_id=merchant_id,
                    name=name,
                    to=to,
                    sender=sender,
                    mail_from=settings.mail_from,
                    customer_id=customer_id,
                    now=utcnow(),
                    actor=cli_actor(),
                ),
            )
    except LoyaltyError as error:
        raise click.UsageError(error.message) from None
    except OSError as error:
        click.echo(f"not sent: {error}", err=True)
        sys.exit(1)
    click.echo(f"sent {name} to {to.strip()} ({message_id})")


@emails.command()
@click.option("--merchant", "merchant_id", required=True, help="Merchant id.")
@click.option("--on", "turn_on", multiple=True, type=click.Choice([m.value for m in Message]))
@click.option("--off", "turn_off", multiple=True, type=click.Choice([m.value for m in Message]))
@click.option("--locale", help="Babel locale for numbers, money and dates (de_DE, fr_CA...).")
@click.option("--service-needs-consent/--service-without-consent", default=None)
@click.option("--coupon-reminder-days", type=int)
@click.option("--reply-to", help="Reply-To address ('' for none).")
@with_appcontext
def settings(
    merchant_id: str,
    turn_on: tuple[str, ...],
    turn_off: tuple[str, ...],
    locale: str | None,
    service_needs_consent: bool | None,
    coupon_reminder_days: int | None,
    reply_to: str | None,
) -> None:
    """Show or change which e-mails the merchant sends, consent and locale."""
    session = get_session()
    try:
        prefs = notification_prefs(session, merchant_id)
        disabled = (prefs.disabled | {Message(m) for m in turn_off}) - {Message(m) for m in turn_on}
        changed = NotificationPrefs(
            disabled=frozenset(disabled),
            service_needs_consent=prefs.service_needs_consent
            if service_needs_consent is None
            else service_needs_consent,
            coupon_reminder_days=coupon_reminder_days or prefs.coupon_reminder_days,
            locale=locale or prefs.locale,
            reply_to=prefs.reply_to if reply_to is None else (reply_to or None),
        )
        if changed != prefs:
            run_in_transaction(
                session,
                lambda s: set_notification_prefs(
                    s, merchant_id=merchant_id, prefs=changed, now=utcnow(), actor=cli_actor()
                ),
            )
    except LoyaltyError as error:
        raise click.UsageError(error.message) from None
    for message in Message:
        click.echo(f"{message.value:<18} {'on' if changed.enabled(message) else 'off'}")
    click.echo(f"service e-mails need consent: {'yes' if changed.service_needs_consent else 'no'}")
    click.echo(f"coupon reminders: {changed.coupon_reminder_days} days before")
    click.echo(f"locale: {changed.locale}; reply-to: {changed.reply_to or '-'}")


@emails.command("list")
@click.option("--status", type=click.Choice([s.value for s in EmailStatus]))
@click.option("--merchant", "merchant_id", help="Only this merchant's e-mails.")
@click.option("--limit", default=50, show_default=True)
@with_appcontext
def list_messages(status: str | None, limit: int, merchant_id: str | None = None) -> None:
    """Queued, sent, failed and cancelled e-mails, newest first."""
    query = select(EmailMessage).order_by(EmailMessage.id.desc()).limit(limit)
    if status:
        query = query.where(EmailMessage.status == EmailStatus(status))
    if merchant_id:
        query = query.where(EmailMessage.merchant_id == merchant_id)
    for row in get_session().scalars(query):
        click.echo(
            f"{row.id:>8} {row.status.value:<7} {row.template:<16} {row.merchant_id:<12} "
            f"{row.to_address or '-':<30} attempts {row.attempts} {row.last_error or ''}"
        )
    get_session().rollback()


@emails.command("retry")
@click.argument("email_id", type=int)
@click.option("--merchant", "merchant_id", required=True)
@click.option("--by", help="Who decides it, for the audit trail (default: you).")
@with_appcontext
def retry_message(email_id: int, merchant_id: str, by: str | None) -> None:
    """Queue failed e-mail EMAIL_ID again (the Outbox screen's Retry); audited."""
    _outbox_action(email_outbox.retry_email, email_id, merchant_id, by, "queued again")


@emails.command("cancel")
@click.argument("email_id", type=int)
@click.option("--merchant", "merchant_id", required=True)
@click.option("--by", help="Who decides it, for the audit trail (default: you).")
@with_appcontext
def cancel_message(email_id: int, merchant_id: str, by: str | None) -> None:
    """Cancel queued e-mail EMAIL_ID: it is never sent (the Outbox screen's Cancel); audited."""
    _outbox_action(email_outbox.cancel_email, email_id, merchant_id, by, "cancelled")


def _outbox_action(action, email_id: int, merchant_id: str, by: str | None, done: str) -> None:
    actor = cli_actor(by)
    try:
        run_in_transaction(
            get_session(),
            lambda s: action(
                s, merchant_id=merchant_id, email_id=email_id, now=utcnow(), actor=actor
            ),
        )
    except LoyaltyError as error:
        raise click.UsageError(error.message) from None
    click.echo(f"e-mail {email_id} {done}")


@emails.command("send-due")
@click.pass_context
def send_due(ctx: click.Context) -> None:
    """Send the queued e-mails now (the same as `loyalty jobs run send-emails`)."""
    from loyalty_plugin.cli.jobs import run_job

    ctx.invoke(run_job, name="send-emails", at=None)
