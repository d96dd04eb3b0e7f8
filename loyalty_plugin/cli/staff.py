"""``loyalty staff``: local accounts of the admin pages (for merchants without a host link)."""

from __future__ import annotations

import getpass
from datetime import timedelta
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from loyalty_plugin.domain.errors import LoyaltyError
from loyalty_plugin.email.links import base_url
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import StaffRole
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.audit import Actor
from loyalty_plugin.services.staff import accounts
from loyalty_plugin.services.transaction import run_in_transaction

ROLES = click.Choice([role.value for role in StaffRole])


def _run(work: Any) -> Any:
    try:
        return run_in_transaction(get_session(), work)
    except LoyaltyError as error:
        raise click.BadParameter(error.message, param_hint=error.field) from None


def _actor() -> Actor:
    return Actor.cli(getpass.getuser())


@click.group()
def staff() -> None:
    """Staff accounts of the admin pages: create, list, remove."""


@staff.command("create")
@click.option("--merchant", "merchant_id", required=True, help="Merchant id.")
@click.option("--email", required=True, help="The person's e-mail address (their login).")
@click.option("--role", type=ROLES, required=True, help="staff, manager or owner.")
@click.option("--name", help="The person's name (default: the e-mail's local part).")
@click.option("--link", is_flag=True, help="Print a one-time set-password link; ask no password.")
@with_appcontext
def create(merchant_id: str, email: str, role: str, name: str | None, link: bool) -> None:
    """Give EMAIL a role at a merchant, making the account (with a password) if new."""
    session, now = get_session(), utcnow()
    existing = accounts.find_staff(session, email)
    password = None
    if existing is None and not link:
        password = click.prompt("Password", hide_input=True, confirmation_prompt="Repeat it")
    display = name or email.split("@")[0]

    def work(s: Any) -> Any:
        account = existing or accounts.create_staff(
            s, email=email, name=display, password=password, now=now
        )
        accounts.add_to_merchant(
            s, account, merchant_id=merchant_id, role=StaffRole(role), actor=_actor(), now=now
        )
        return account

    account = _run(work)
    verb = "added" if existing is None else "already had an account; now"
    click.echo(f"{account.email} {verb} {role} at {merchant_id}")
    if link:
        hours = int(current_app.config["LOYALTY_ADMIN_PASSWORD_LINK_HOURS"])
        token, expires_at = accounts.password_token(
            str(current_app.config["LOYALTY_SECRET_KEY"]),
            account,
            now=now,
            valid=timedelta(hours=hours),
        )
        click.echo(f"Set-password link (works once, until {expires_at:%Y-%m-%d %H:%M} UTC):")
        click.echo(accounts.password_link_url(base_url(current_app.config), token))


@staff.command("list")
@click.option("--merchant", "merchant_id", help="Only this merchant's staff.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def list_staff(merchant_id: str | None, as_json: bool) -> None:
    """List staff: e-mail, name, role per merchant, last sign-in."""
    from loyalty_plugin.cli import echo_json

    rows = accounts.staff_roles(get_session(), merchant_id=merchant_id)
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("no staff")
    for row in rows:
        signed_in = row["last_sign_in_at"] or "never signed in"
        click.echo(
            f"{row['email']:<32} {row['name']:<24} {row['merchant_id']:<16} "
            f"{row['role']:<8} {signed_in}"
        )


@staff.command("remove")
@click.option("--merchant", "merchant_id", required=True, help="Merchant id.")
@click.option("--email", required=True, help="The person's e-mail address.")
@with_appcontext
def remove(merchant_id: str, email: str) -> None:
    """Take EMAIL off a merchant (a merchant keeps at least one owner)."""
    account = accounts.find_staff(get_session(), email)
    if account is None:
        raise click.BadParameter(f"no account for {email}", param_hint="--email")
    staff_id = account.id
    _run(
        lambda s: accounts.remove_from_merchant(
            s, merchant_id=merchant_id, staff_id=staff_id, actor=_actor(), now=utcnow()
        )
    )
    click.echo(f"{account.email} removed from {merchant_id}")
