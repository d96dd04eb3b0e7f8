"""``loyalty demo``: a demo merchant with customers, invoices and a points history."""

from __future__ import annotations

import contextlib
import random
import sys
from datetime import datetime, timedelta
from decimal import Decimal

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import InsufficientPoints
from loyalty_plugin.email.links import base_url
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import Merchant, StaffRole
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.earning import programs
from loyalty_plugin.services.ledger import accounts
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.entries import Money, Reference
from loyalty_plugin.services.levels import memberships as levels
from loyalty_plugin.services.merchants import api_keys, secrets
from loyalty_plugin.services.merchants import registration as merchants
from loyalty_plugin.services.staff import accounts as staff_accounts
from loyalty_plugin.services.transaction import run_in_transaction

DEMO_MERCHANT = "demo"
#: The demo merchant's owner on the admin pages.
DEMO_OWNER = "owner@demo.example"
#: How far back the demo's history (and its program) starts.
HISTORY_DAYS = 400
#: The demo's program, in force since the history starts (so that the docs' example
#: events, dated earlier than the day ``loyalty demo`` runs, earn): what an invoice earns.
DEMO_PROGRAM = {
    "key": "points",
    "name": "Points on every purchase",
    "status": "active",
    "rules": [
        {"id": "base", "kind": "per_amount", "points": "1", "per": "10.00"},
        {"id": "welcome", "kind": "registration", "points": 50},
        {"id": "bday", "kind": "birthday", "points": 200},
    ],
    # Levels on points earned in the last 12 months; Silver and Gold earn more, their
    # points are worth more, and Gold members get 5 % off.
    "levels": {
        "measure": "points",
        "period": "rolling",
        "days": 365,
        "tiers": [
            {"key": "bronze", "name": "Bronze", "threshold": "0"},
            {"key": "silver", "name": "Silver", "threshold": "180", "multiplier": "1.25",
             "point_value": {"points": 100, "amount": "1.25"}},
            {"key": "gold", "name": "Gold", "threshold": "240", "multiplier": "1.5",
             "point_value": {"points": 100, "amount": "1.50"}, "max_share_percent": "50",
             "discounts": [{"percent": "5"}]},
        ],
    },
}  # fmt: skip
FIRST_NAMES = ["Ana", "Bruno", "Chloé", "Dmitri", "Elif", "Farah", "Goran", "Hana", "Ivo", "Jana"]
LAST_NAMES = ["Horvat", "Novak", "Martin", "Kovač", "Ivanova", "Yilmaz", "Haddad", "Berg"]


@click.command()
@click.option("--customers", default=25, show_default=True, help="How many customers.")
@click.option("--seed", default=7, show_default=True, help="Random seed, for repeatable data.")
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=int,
    help="The port `loyalty serve` will use, for the printed examples (LOYALTY_PUBLIC_URL wins).",
)
@with_appcontext
def demo(customers: int, seed: int, port: int) -> None:
    """Create the demo merchant with customers, invoices and a points history."""
    session = get_session()
    credentials: tuple[str, str, str, str] | None = None
    if session.get(Merchant, DEMO_MERCHANT) is None:
        rng = random.Random(seed)  # noqa: S311 - demo data, not secrets
        credentials = run_in_transaction(session, _demo_merchant)
        with click.progressbar(
            range(1, customers + 1),
            label="demo customers",
            file=sys.stderr,
            hidden=not sys.stderr.isatty(),
        ) as bar:
            for number in bar:
                run_in_transaction(session, lambda s, n=number: _demo_customer(s, n, rng))
    else:
        click.echo(f"demo merchant {DEMO_MERCHANT!r} already exists; leaving it as it is")
    served = _served_at(port)
    if credentials:
        _print_credentials(credentials, served)
    else:
        click.echo("Its secret and keys were shown when it was made and cannot be shown again.")
    click.echo("\nMake a new webhook secret or API key (each is shown once):")
    for command in AGAIN:
        click.echo(f"  {command}")
    click.echo("\nDemo merchant ready. Look at:")
    click.echo(
        f"  loyalty accounts show --merchant {DEMO_MERCHANT} 1001   # a customer's points log"
    )
    click.echo("  loyalty ledger verify                           # every invariant, checked")
    click.echo(f"  {served}/health            # once `loyalty serve` runs")


def _served_at(port: int) -> str:
    """Where the examples reach the service: ``LOYALTY_PUBLIC_URL`` if set, else the local
    address `loyalty serve --port PORT` listens on; with the URL prefix."""
    config = current_app.config
    local = f"http://127.0.0.1:{port}"
    return base_url({**config, "LOYALTY_PUBLIC_URL": config.get("LOYALTY_PUBLIC_URL") or local})


#: The commands that make the demo's credentials again.
AGAIN = (
    f"loyalty secrets create --merchant {DEMO_MERCHANT} --label demo",
    f"loyalty keys create --merchant {DEMO_MERCHANT} --scope write --name demo",
    f"loyalty keys create --merchant {DEMO_MERCHANT} --scope admin --name demo-admin",
)


def _print_credentials(credentials: tuple[str, str, str, str], served: str) -> None:
    secret, token, admin_token, password_token = credentials
    click.echo("Credentials for the demo merchant (shown once: store them now):")
    click.echo(f"  merchant id:                   {DEMO_MERCHANT}")
    click.echo(f'    put "merchant_id": "{DEMO_MERCHANT}" in every webhook event: without it an')
    click.echo("    event is checked against the default merchant, which the demo does not make")
    click.echo(f"  webhook signing secret:        {secret}")
    click.echo(f"  API key, write scope (host):   {token}")
    click.echo(f"  API key, ADMIN scope (staff):  {admin_token}")
    click.echo("    the write key is for the host: customers, points, redemptions, coupons;")
    click.echo("    the admin key also reads and changes settings, rewards and campaigns:")
    click.echo("    keep it for staff tools, never in the host's code.")
    click.echo("  try, once `loyalty serve` runs:")
    base = f"{served}/api/v1"
    click.echo(f'  curl -H "Authorization: Bearer {token}" {base}/customers/1001')
    click.echo(f'  curl -H "Authorization: Bearer {admin_token}" {base}/settings')
    click.echo(f"  admin pages: sign in as {DEMO_OWNER} (owner) after setting a password at")
    click.echo(f"  {staff_accounts.password_link_url(served, password_token)}")
    click.echo("    the link works once; make another with")
    again = f"--merchant {DEMO_MERCHANT} --email {DEMO_OWNER} --role owner --link"
    click.echo(f"    loyalty staff create {again}")


def _demo_merchant(session: Session) -> tuple[str, str, str, str]:
    """The merchant, its program (instead of the default one), a webhook secret, a write
    key, an admin key, and a set-password token for its owner on the admin pages."""
    now = utcnow()
    merchants.create_merchant(
        session,
        merchant_id=DEMO_MERCHANT,
        name="Demo Coffee Roasters",
        currency="EUR",
        default_program=False,
    )
    since = now - timedelta(days=HISTORY_DAYS)
    definition = DEMO_PROGRAM | {"effective_from": since.isoformat()}
    programs.create_program(
        session, merchant_id=DEMO_MERCHANT, definition=definition, now=now, actor="demo"
    )
    secret = secrets.create_secret(session, merchant_id=DEMO_MERCHANT, now=now, label="demo")
    _key, token = api_keys.create_api_key(
        session, merchant_id=DEMO_MERCHANT, scope="write", name="demo", now=now
    )
    _admin, admin_token = api_keys.create_api_key(
        session, merchant_id=DEMO_MERCHANT, scope="admin", name="demo-admin", now=now
    )
    return secret.secret, token, admin_token, _demo_owner(session, now)


def _demo_owner(session: Session, now: datetime) -> str:
    """The demo's owner on the admin pages, with a one-time set-password token."""
    owner = staff_accounts.create_staff(session, email=DEMO_OWNER, name="Demo Owner", now=now)
    staff_accounts.add_to_merchant(
        session, owner, merchant_id=DEMO_MERCHANT, role=StaffRole.OWNER, now=now
    )
    hours = int(current_app.config["LOYALTY_ADMIN_PASSWORD_LINK_HOURS"])
    token, _expires_at = staff_accounts.password_token(
        str(current_app.config["LOYALTY_SECRET_KEY"]), owner, now=now, valid=timedelta(hours=hours)
    )
    return token


def _demo_customer(session: Session, number: int, rng: random.Random) -> None:
    """One customer with a year of invoices, a redemption, a refund, an expired lot and the
    membership level their year of points earns."""
    customer = accounts.upsert_customer(
        session,
        merchant_id=DEMO_MERCHANT,
        host_customer_id=str(1000 + number),
        first_name=rng.choice(FIRST_NAMES),
        last_name=rng.choice(LAST_NAMES),
        email=f"customer{number}@example.com",
        email_opt_in=rng.random() < 0.6,
    )
    account = accounts.open_account(session, merchant_id=DEMO_MERCHANT, customer_id=customer.id)
    now = utcnow()
    day = now - timedelta(days=HISTORY_DAYS)
    earned = []
    while (day := day + timedelta(days=rng.randint(15, 60))) < now:
        total = Decimal(rng.randint(1500, 40000)) / 100
        invoice = f"INV-{number:03d}-{day:%Y%m%d}"
        earned.append(
            ledger.earn(
                session,
                account_id=account.id,
                points=int(total // 10) or 1,
                now=day,
                actor="demo",
                expires_at=day + timedelta(days=365),
                money=Money(total, "EUR"),
                reference=Reference("invoice", invoice),
                reason="1 point per 10.00 spent",
                idempotency_key=f"demo:{invoice}:earn",
            )
        )
    if earned and rng.random() < 0.3:
        ledger.reverse(
            session, entry_id=earned[-1].id, now=now, actor="demo", reason="invoice refunded"
        )
    with contextlib.suppress(InsufficientPoints):
        ledger.spend(
            session,
            account_id=account.id,
            points=rng.randint(5, 40),
            now=now,
            actor="demo",
            reference=Reference("invoice", f"INV-{number:03d}-NEXT"),
            reason="paid part of an invoice with points",
        )
    ledger.expire_due_lots(session, account_id=account.id, now=now)
    levels.update_levels(
        session, merchant_id=DEMO_MERCHANT, account_id=account.id, now=now, actor="demo"
    )
