"""``loyalty programs`` and ``loyalty rates``: programs as files, dry runs, exchange rates."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import IO, Any

import click
from flask import current_app
from flask.cli import with_appcontext

from loyalty_plugin.cli.actor import cli_actor
from loyalty_plugin.domain.errors import LoyaltyError
from loyalty_plugin.domain.programs import ProgramStatus
from loyalty_plugin.extensions import get_session, loyalty_state
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.schemas.body import InvalidJSON, parse_json, unstorable_text
from loyalty_plugin.schemas.programs import InvalidProgram
from loyalty_plugin.services.earning import programs as svc
from loyalty_plugin.services.earning.rule_engine import plugin_rule_kinds
from loyalty_plugin.services.earning.simulation import read_jsonl, simulate
from loyalty_plugin.services.transaction import run_in_transaction


def _merchant_option(function: Any) -> Any:
    return click.option(
        "--merchant",
        "merchant_id",
        default=None,
        help="Merchant id [default: LOYALTY_DEFAULT_MERCHANT].",
    )(function)


def _merchant(merchant_id: str | None) -> str:
    return merchant_id or current_app.config["LOYALTY_DEFAULT_MERCHANT"]


def _kinds() -> list[Any]:
    pm = loyalty_state().plugin_manager
    return plugin_rule_kinds(pm.hook) if pm is not None else []


def read_document(file: IO[bytes]) -> Any:
    """A JSON file read as the API reads a body (:func:`~loyalty_plugin.schemas.body.parse_json`):
    numbers with a fraction as ``Decimal``; a file not UTF-8, nested too deep, with a
    4,300-digit number or with text no database stores (NUL) is a one-line error."""
    try:
        document = parse_json(file.read())
    except InvalidJSON as error:
        raise click.ClickException(f"{file.name} is not JSON: {error}") from None
    if (problem := unstorable_text(document)) is not None:
        raise click.ClickException(f"{file.name}: {problem[0]}: {problem[1]}")
    return document


def write_document(
    output: IO[str], export: Callable[..., dict[str, Any]], merchant_id: str | None
) -> None:
    """Write ``export(session, merchant_id=...)`` as indented JSON; nothing is written to
    the database (the read transaction is rolled back)."""
    session = get_session()
    try:
        document = export(session, merchant_id=_merchant(merchant_id))
    except LoyaltyError as error:
        raise domain_error(error) from None
    finally:
        session.rollback()
    output.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def domain_error(error: LoyaltyError) -> click.ClickException:
    """A domain error as a usage error listing every field at fault."""
    if isinstance(error, InvalidProgram):
        lines = [f"  {path}: {'; '.join(msgs)}" for path, msgs in error.fields.items()]
        return click.ClickException("invalid programs file:\n" + "\n".join(lines))
    return click.BadParameter(error.message, param_hint=error.field)


@click.group()
def programs() -> None:
    """List, export, import and simulate earning programs."""


@programs.command("list")
@_merchant_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def list_programs(merchant_id: str | None, as_json: bool) -> None:
    """List the merchant's programs with their status and newest version."""
    from loyalty_plugin.cli import echo_json

    rows = [
        svc.program_document(p) for p in svc.list_programs(get_session(), _merchant(merchant_id))
    ]
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        click.echo(
            f"{row['key']:<20} {row['status']:<9} v{row['version']:<3} "
            f"{row['combination']:<9} {len(row['rules'])} rule(s)  {row['name']}"
        )


@programs.command("versions")
@click.argument("key")
@_merchant_option
@with_appcontext
def versions(key: str, merchant_id: str | None) -> None:
    """Print every version of program KEY as JSON, oldest first."""
    from loyalty_plugin.cli import echo_json

    try:
        program = svc.get_program(get_session(), _merchant(merchant_id), key)
    except LoyaltyError as error:
        raise domain_error(error) from None
    echo_json([svc.version_document(v) for v in program.versions])


@programs.command("export")
@_merchant_option
@click.option("--output", "-o", type=click.File("w"), default="-", help="File [default: stdout].")
@with_appcontext
def export(merchant_id: str | None, output: IO[str]) -> None:
    """Write every program as a declarative JSON file (for `loyalty programs import`)."""
    write_document(output, svc.export_programs, merchant_id)


@programs.command("import")
@click.argument("file", type=click.File("rb"))
@_merchant_option
@click.option("--json", "as_json", is_flag=True, help="Print what changed as JSON.")
@with_appcontext
def import_(file: IO[bytes], merchant_id: str | None, as_json: bool) -> None:
    """Make the merchant's programs match FILE; all or nothing, and safe to repeat."""
    from loyalty_plugin.cli import echo_json

    document = read_document(file)
    try:
        report = run_in_transaction(
            get_session(),
            lambda s: svc.import_programs(
                s,
                merchant_id=_merchant(merchant_id),
                document=document,
                now=utcnow(),
                actor=cli_actor(),
                extra_kinds=_kinds(),
            ),
        )
    except LoyaltyError as error:
        raise domain_error(error) from None
    if as_json:
        echo_json(report.to_dict())
        return
    shown = report.to_dict()
    campaigns = shown.pop("bonus_campaigns", {})
    for what, keys in shown.items():
        if keys:
            click.echo(f"{what}: {', '.join(keys)}")
    for what, keys in campaigns.items():
        if keys:
            click.echo(f"bonus campaigns {what}: {', '.join(keys)}")


@programs.command("activate")
@click.argument("key")
@_merchant_option
@click.option(
    "--from", "starts", type=click.DateTime(), help="Effective from (UTC) [default: now]."
)
@with_appcontext
def activate(key: str, merchant_id: str | None, starts: datetime | None) -> None:
    """Make draft program KEY earn."""
    _change_status(key, merchant_id, ProgramStatus.ACTIVE, starts)


@programs.command("archive")
@click.argument("key")
@_merchant_option
@with_appcontext
def archive(key: str, merchant_id: str | None) -> None:
    """Stop program KEY from earning, for good."""
    _change_status(key, merchant_id, ProgramStatus.ARCHIVED, None)


def _change_status(
    key: str, merchant_id: str | None, status: ProgramStatus, starts: datetime | None
) -> None:
    from datetime import UTC

    merchant = _merchant(merchant_id)
    effective = starts.replace(tzinfo=UTC) if starts else None

    def work(session: Any) -> Any:
        if status is ProgramStatus.ACTIVE:
            return svc.activate_program(
                session,
                merchant_id=merchant,
                key=key,
                now=utcnow(),
                effective_from=effective,
                actor=cli_actor(),
            )
        return svc.archive_program(
            session, merchant_id=merchant, key=key, now=utcnow(), actor=cli_actor()
        )

    try:
        program = run_in_transaction(get_session(), work)
    except LoyaltyError as error:
        raise domain_error(error) from None
    click.echo(f"program {program.key} is {program.status.value}")


def _budget_note(bonus: dict[str, Any]) -> str:
    """What a campaign's budget would have done to the simulated bonus."""
    if not bonus["budget_would_limit"]:
        return ""
    shown = {
        "budget": f"{bonus['budget_left']} left in its budget",
        "budget_per_customer": f"at most {bonus['budget_per_customer']} per customer",
    }
    limits = [shown[name] for name in bonus["limited_by"]]
    return f" (a budget would limit it: {', '.join(limits)})"


@programs.command("simulate")
@click.argument("key")
@click.option(
    "--invoices", type=click.File("r"), required=True, help="JSON Lines: one invoice per line."
)
@_merchant_option
@click.option("--point-value", default=None, help="Money per point [default: the program's].")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def simulate_command(
    key: str, invoices: IO[str], merchant_id: str | None, point_value: str | None, as_json: bool
) -> None:
    """Replay invoices against program KEY (a draft too) and print what it would cost.

    Nothing is written. Points and their value are shown per customer and in total.
    """
    from loyalty_plugin.cli import echo_json

    value = _decimal(point_value, "--point-value") if point_value else None
    try:
        result = simulate(
            get_session(),
            merchant_id=_merchant(merchant_id),
            key=key,
            invoices=read_jsonl(invoices),
            now=utcnow(),
            point_value=value,
            extra_kinds=_kinds(),
        )
    except LoyaltyError as error:
        raise domain_error(error) from None
    finally:
        get_session().rollback()
    report = result.to_dict()
    if as_json:
        echo_json(report)
        return
    click.echo(f"program {key} version {report['version']}, 1 point = {report['point_value']}")
    for row in report["customers"]:
        click.echo(
            f"  {row['customer_id']:<20} {row['invoices']:>6} invoice(s) "
            f"{row['points']:>10} points  {row['value']:>12} {report['currency']}"
        )
    total = report["total"]
    click.echo(
        f"total: {total['invoices']} invoice(s), {total['points']} points, "
        f"worth {total['value']} {report['currency']}"
    )
    for rule, tally in report.get("conditions", {}).items():
        seen = tally["invoices_matched"] + tally["invoices_failed"]
        click.echo(
            f"rule {rule}: conditions held on {tally['invoices_matched']} of {seen} invoice(s)"
        )
        for name, count in tally["failed"].items():
            click.echo(f"  {name} did not hold on {count}")
    for campaign, bonus in report.get("bonus_campaigns", {}).items():
        click.echo(
            f"bonus campaign {campaign}: {bonus['points']} points on {bonus['invoices']} "
            f"invoice(s), budgets not charged{_budget_note(bonus)}"
        )
    for skipped in report["skipped"]:
        click.echo(f"skipped line {skipped['line']}: {skipped['error']}", err=True)


@click.group()
def rates() -> None:
    """Exchange rates from other currencies to the merchant's."""


@rates.command("set")
@click.argument("currency")
@click.argument("rate")
@_merchant_option
@click.option("--from", "starts", type=click.DateTime(), help="Valid from (UTC) [default: now].")
@with_appcontext
def set_rate(currency: str, rate: str, merchant_id: str | None, starts: datetime | None) -> None:
    """One CURRENCY is worth RATE of the merchant's currency (e.g. USD 0.92)."""
    from datetime import UTC

    valid_from = starts.replace(tzinfo=UTC) if starts else utcnow()
    try:
        row = run_in_transaction(
            get_session(),
            lambda s: svc.set_exchange_rate(
                s,
                merchant_id=_merchant(merchant_id),
                currency=currency,
                rate=_decimal(rate, "RATE"),
                valid_from=valid_from,
                now=utcnow(),
                actor=cli_actor(),
            ),
        )
    except LoyaltyError as error:
        raise domain_error(error) from None
    click.echo(f"1 {row.currency} = {row.rate} from {row.valid_from.isoformat()}")


@rates.command("list")
@_merchant_option
@with_appcontext
def list_rates(merchant_id: str | None) -> None:
    """List the merchant's exchange rates."""
    for row in svc.list_exchange_rates(get_session(), _merchant(merchant_id)):
        click.echo(f"{row.currency}  {row.rate}  from {row.valid_from.isoformat()}")


def _decimal(text: str, name: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise click.BadParameter(f"{text!r} is not a decimal number", param_hint=name) from None
    if not value.is_finite() or value <= 0:
        raise click.BadParameter("must be above 0", param_hint=name)
    return value
