"""The Programs screen: programs, their rules (one editor per kind), and simulating a draft.

Staff read; managers and owners change. Every change is ONE call of
:mod:`loyalty_plugin.services.earning.programs` (the API's own), validated and audited there;
a rule editor sends the program's whole ``rules`` list, so its answer to a bad value is the
API's ``PATCH /programs/{key}`` answer, shown at the field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Any

from flask import Response, abort, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import LoyaltyError, NotFound, ValidationError
from loyalty_plugin.domain.rules.summary import describe_rule
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import StaffRole
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.schemas.programs import InvalidProgram
from loyalty_plugin.services.earning import programs as svc
from loyalty_plugin.services.earning.catalog import known_items
from loyalty_plugin.services.earning.rule_engine import plugin_rule_kinds
from loyalty_plugin.services.earning.simulation import MAX_INVOICES, compare_versions
from loyalty_plugin.services.ledger.accounts import get_merchant
from loyalty_plugin.services.transaction import run_in_transaction
from loyalty_plugin.web.admin import access
from loyalty_plugin.web.admin.forms import field_errors, sentence

#: The editors, in the order the "Add a rule" menu shows them: kind → (title, what it does).
KINDS: dict[str, tuple[str, str]] = {
    "per_amount": ("Per money spent", "Points for every amount spent on an order"),
    "product": ("Per product", "Points on chosen products, per unit or per amount"),
    "category": ("Per category", "Points on chosen categories and their sub-categories"),
    "transaction_fee": ("Transaction fee", "Points per amount of the order's transaction fee"),
    "per_order": ("Fixed per order", "The same points on every order"),
    "first_purchase": ("First purchase", "Points on a customer's first order"),
    "progressive": ("Progressive brackets", "Higher rates as the order grows, like tax brackets"),
    "segmented": ("Segmented", "Fixed points by the order's size"),
    "custom_event": ("Event bonus", "Points for an event the shop sends (a review...), capped"),
    "registration": ("Registration", "Points when a customer registers"),
    "birthday": ("Birthday", "Points on the customer's birthday"),
}
#: Fixed-point kinds (whole points) and event kinds (with a limit).
FIXED = frozenset({"per_order", "first_purchase", "registration", "birthday", "custom_event"})
EVENTS = frozenset({"registration", "birthday", "custom_event"})
#: Bracket rows an editor shows (empty rows are ignored).
BRACKET_ROWS = 5
PERIODS = [("ever", "ever"), ("year", "a year"), ("month", "a month"), ("week", "a week"),
           ("day", "a day")]  # fmt: skip
EXCLUSIONS = ("products", "categories", "tags", "groups")


# -- pages -----------------------------------------------------------------------------------


def programs_list(merchant_id: str) -> ResponseReturnValue:
    """Every program: status, version in force, customers, points issued; create, import."""
    return _list_page(merchant_id)


def programs_create(merchant_id: str) -> ResponseReturnValue:
    """Create a draft program from a key and a name."""
    form = request.form
    definition = {"key": form.get("key", "").strip(), "name": form.get("name", "").strip()}
    try:
        key = form.get("form_key") or None
        run_in_transaction(get_session(), lambda s: _create(s, merchant_id, definition, key))
    except LoyaltyError as error:
        return _list_page(merchant_id, create=form, errors=_errors(error), status=422)
    access.flash(f"Program {definition['key']} created as a draft; add its rules.")
    return _to_program(merchant_id, definition["key"])


def programs_export(merchant_id: str) -> ResponseReturnValue:
    """The merchant's programs as the declarative JSON file (``loyalty programs export``)."""
    document = svc.export_programs(get_session(), merchant_id=merchant_id)
    response = Response(json.dumps(document, indent=2, default=str), mimetype="application/json")
    name = f"programs-{merchant_id}.json"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def programs_import(merchant_id: str) -> ResponseReturnValue:
    """Make the programs match an uploaded declarative file: all of it, or nothing."""
    actor = access.current().actor
    try:
        document = _uploaded_json()
        report = run_in_transaction(
            get_session(),
            lambda s: svc.import_programs(
                s,
                merchant_id=merchant_id,
                document=document,
                now=utcnow(),
                actor=actor,
                extra_kinds=_kinds(),
            ),
        )
    except LoyaltyError as error:
        return _list_page(merchant_id, errors=_errors(error, default="file"), status=422)
    done = {k: v for k, v in report.to_dict().items() if v}
    access.flash(
        "Imported: " + "; ".join(f"{k} {', '.join(v)}" for k, v in done.items())
        if done
        else "Imported: nothing to change."
    )
    return redirect(url_for("admin.programs_list", merchant_id=merchant_id), 303)


def program_page(merchant_id: str, key: str) -> ResponseReturnValue:
    """One program: its rules in words, its versions, settings, activate or archive."""
    return _program_page(merchant_id, key)


def program_edit(merchant_id: str, key: str) -> ResponseReturnValue:
    """Change the name and settings: in place for a draft, a new version once active."""
    form = request.form
    changes: dict[str, Any] = {
        "name": form.get("name", "").strip(),
        "priority": _int_or_text(form.get("priority", "")),
        "combination": form.get("combination", ""),
        "pending_days": _int_or_text(form.get("pending_days", "")),
        "earning": {"rounding": form.get("rounding", "")},
    }
    return _update(merchant_id, key, changes, form, done="Program saved.", on_error="settings")


def program_activate(merchant_id: str, key: str) -> ResponseReturnValue:
    """Make a draft earn from a date (default: now)."""
    form = request.form
    actor = access.current().actor
    try:
        effective_from = _effective_from(form.get("effective_from", ""))
        run_in_transaction(
            get_session(),
            lambda s: svc.activate_program(
                s,
                merchant_id=merchant_id,
                key=key,
                now=utcnow(),
                effective_from=effective_from,
                actor=actor,
            ),
        )
    except NotFound:
        abort(404)
    except LoyaltyError as error:
        return _program_page(merchant_id, key, values=form, errors=_errors(error), status=422)
    access.flash(f"Program {key} is active: it earns on the invoices paid from then on.")
    return _to_program(merchant_id, key)


def program_pause(merchant_id: str, key: str) -> ResponseReturnValue:
    """Stop an active program until it is activated again."""
    return _move(merchant_id, key, svc.pause_program, "is paused: it earns nothing until resumed.")


def program_archive(merchant_id: str, key: str) -> ResponseReturnValue:
    """Stop the program for good; its history stays."""
    return _move(merchant_id, key, svc.archive_program, "is archived: it earns no more.")


def _move(merchant_id: str, key: str, move: Any, done: str) -> ResponseReturnValue:
    actor = access.current().actor
    try:
        run_in_transaction(
            get_session(),
            lambda s: move(s, merchant_id=merchant_id, key=key, now=utcnow(), actor=actor),
        )
    except NotFound:
        abort(404)
    except LoyaltyError as error:
        return _program_page(merchant_id, key, errors=_errors(error), status=422)
    access.flash(f"Program {key} {done}")
    return _to_program(merchant_id, key)


def rule_new(merchant_id: str, key: str) -> ResponseReturnValue:
    """The editor of a new rule of ``?kind=``."""
    kind = request.args.get("kind", "")
    if kind not in KINDS:
        abort(404)
    return _rule_page(merchant_id, key, kind=kind, original=None, values={"id": kind})


def rule_edit(merchant_id: str, key: str, rule_id: str) -> ResponseReturnValue:
    """The editor of an existing rule."""
    program = _program(merchant_id, key)
    rule = next((r for r in _rules(program) if r.get("id") == rule_id), None)
    if rule is None or rule.get("kind") not in KINDS:
        abort(404)
    return _rule_page(merchant_id, key, kind=rule["kind"], original=rule_id, values=rule_form(rule))


def rule_save(merchant_id: str, key: str) -> ResponseReturnValue:
    """Save a rule (new, or replacing ``original``) as the program's whole ``rules`` list."""
    form = request.form
    kind = form.get("kind", "")
    if kind not in KINDS:
        abort(404)
    program = _program(merchant_id, key)
    original = form.get("original") or None
    rule = rule_config(kind, form)
    rules = [r for r in _rules(program) if r.get("id") != (original or rule.get("id"))]
    position = _position(_rules(program), original or rule.get("id"))
    rules.insert(position if position is not None else len(rules), rule)
    changes = {"rules": rules, **_dated(form)}
    index = rules.index(rule)
    return _update(
        merchant_id,
        key,
        changes,
        form,
        done=f"Rule {rule.get('id')} saved.",
        on_error="rule",
        rule_index=index,
        kind=kind,
        original=original,
    )


def rule_delete(merchant_id: str, key: str, rule_id: str) -> ResponseReturnValue:
    """Take a rule out of the program (a new version once active)."""
    program = _program(merchant_id, key)
    rules = [r for r in _rules(program) if r.get("id") != rule_id]
    changes = {"rules": rules, **_dated(request.form)}
    return _update(
        merchant_id, key, changes, request.form, done=f"Rule {rule_id} removed.", on_error="page"
    )


def program_simulate(merchant_id: str, key: str) -> ResponseReturnValue:
    """The newest version beside the version in force, on the last N paid invoices or a range."""
    args = request.args
    program = _program(merchant_id, key)
    errors: dict[str, str] = {}
    result = None
    try:
        last, since, until = _simulation_args(args)
        result = compare_versions(
            get_session(),
            merchant_id=merchant_id,
            key=key,
            now=utcnow(),
            last=last,
            since=since,
            until=until,
            extra_kinds=_kinds(),
        )
    except NotFound:
        abort(404)
    except LoyaltyError as error:
        errors = field_errors(error)
    newest = svc.latest_version(program)
    return render_template(
        "admin/programs/simulate.html",
        page_title=f"Simulate {program.name}",
        program=program,
        newest=newest,
        result=result,
        args=args,
        errors=errors,
        labels=known_items(get_session(), merchant_id).products,
        max_invoices=MAX_INVOICES,
        may_change=access.current().may(StaffRole.MANAGER),
    ), (422 if errors else 200)


# -- forms to rules and back -----------------------------------------------------------------


def rule_config(kind: str, form: Mapping[str, Any]) -> dict[str, Any]:
    """The rule object an editor's form stands for, values as typed (the schema judges them)."""
    rule: dict[str, Any] = {"id": form.get("id", "").strip(), "kind": kind}
    if kind in ("per_amount", "transaction_fee"):
        rule |= {"points": _text(form, "points"), "per": _text(form, "per")}
    elif kind in ("product", "category"):
        chosen = "products" if kind == "product" else "categories"
        rule[chosen] = _list(form, chosen)
        if form.get("mode") == "per_unit":
            rule["points_per_unit"] = _text(form, "points_per_unit")
        else:
            rule |= {"points": _text(form, "points"), "per": _text(form, "per")}
    elif kind in FIXED:
        rule["points"] = _int_or_text(form.get("points", ""))
    if kind == "progressive":
        rule["brackets"] = [
            {"up_to": row.get("up_to") or None, "points": row.get("points"), "per": row.get("per")}
            for row in _rows(form, ("up_to", "points", "per"))
        ]
    elif kind == "segmented":
        rule["brackets"] = [
            {"from": row.get("from"), "to": row.get("to") or None,
             "points": _int_or_text(row.get("points") or "")}
            for row in _rows(form, ("from", "to", "points"))
        ]  # fmt: skip
    if kind == "custom_event":
        rule["name"] = form.get("name", "").strip()
        rule["when"] = _pairs(form.get("when", ""))
    if kind in EVENTS and form.get("limit_count", "").strip():
        rule["limit"] = {
            "count": _int_or_text(form.get("limit_count", "")),
            "per": form.get("limit_per", ""),
        }
    if kind not in EVENTS:
        rule["exclude"] = {name: _list(form, f"exclude_{name}") for name in EXCLUSIONS}
    rule["conditions"] = _conditions(form.get("conditions", ""))
    rule["group"] = form.get("group", "").strip()
    return {
        k: v for k, v in rule.items() if v not in (None, "", {}) or k in ("id", "points", "exclude")
    }


def _conditions(text: str) -> Any:
    """The conditions typed as JSON; text that is not JSON goes to the schema as it is,
    which refuses it at the ``conditions`` field."""
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def rule_form(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A stored rule as an editor's form values (the inverse of :func:`rule_config`)."""
    values: dict[str, Any] = {
        k: ("" if v is None else str(v))
        for k, v in rule.items()
        if k in ("id", "points", "per", "points_per_unit", "name")
    }
    for name in ("products", "categories"):
        if name in rule:
            values[name] = list(rule[name])
    values["mode"] = "per_unit" if rule.get("points_per_unit") is not None else "ratio"
    for number, bracket in enumerate(rule.get("brackets") or []):
        for name, value in bracket.items():
            values[f"b{number}_{name}"] = "" if value is None else str(value)
    for name in EXCLUSIONS:
        values[f"exclude_{name}"] = list((rule.get("exclude") or {}).get(name) or [])
    if rule.get("limit"):
        values["limit_count"] = str(rule["limit"]["count"])
        values["limit_per"] = rule["limit"]["per"]
    values["when"] = "\n".join(f"{k}={v}" for k, v in (rule.get("when") or {}).items())
    if rule.get("conditions"):
        values["conditions"] = json.dumps(rule["conditions"], indent=1)
    values["group"] = rule.get("group") or ""
    return values


def error_field(path: str) -> str:
    """A program error's path (``rules.2.exclude.tags``) as the editor's field name."""
    parts = path.split(".")
    if parts[0] == "earning" and len(parts) > 1:
        return parts[1]
    if len(parts) >= 3 and parts[0] == "rules" and parts[1].isdigit():
        name = parts[2]
        if name == "conditions":
            return "conditions"
        if name in ("exclude", "limit") and len(parts) >= 4:
            return f"{name}_{parts[3]}"
        return "form" if name == "_schema" else name
    return parts[0] if parts[0] not in ("_schema", "") else "form"


# -- helpers ---------------------------------------------------------------------------------


def _create(
    session: Session, merchant_id: str, definition: dict[str, Any], request_key: str | None
) -> Any:
    return svc.create_program(
        session,
        merchant_id=merchant_id,
        definition=definition,
        now=utcnow(),
        actor=access.current().actor,
        extra_kinds=_kinds(),
        request_key=request_key,
    )


def _update(
    merchant_id: str,
    key: str,
    changes: dict[str, Any],
    form: Mapping[str, Any],
    *,
    done: str,
    on_error: str,
    rule_index: int | None = None,
    kind: str = "",
    original: str | None = None,
) -> ResponseReturnValue:
    actor = access.current().actor
    try:
        run_in_transaction(
            get_session(),
            lambda s: svc.update_program(
                s,
                merchant_id=merchant_id,
                key=key,
                changes=changes,
                now=utcnow(),
                actor=actor,
                extra_kinds=_kinds(),
            ),
        )
    except NotFound as error:
        if error.field == "key":
            abort(404)
        return _program_page(merchant_id, key, values=form, errors=_errors(error), status=422)
    except LoyaltyError as error:
        errors = _errors(error, rule_index=rule_index)
        if on_error == "rule":
            return _rule_page(
                merchant_id, key, kind=kind, original=original, values=form, errors=errors,
                status=422,
            )  # fmt: skip
        return _program_page(merchant_id, key, values=form, errors=errors, status=422)
    access.flash(done)
    return _to_program(merchant_id, key)


def _errors(
    error: LoyaltyError, *, default: str = "form", rule_index: int | None = None
) -> dict[str, str]:
    """``{field: message}``: a program's paths become the form's fields.

    An import shows every problem at the file, with its path; a rule editor shows a problem
    of another rule (or of the program) at the top of the form, with its path.
    """
    if not isinstance(error, InvalidProgram):
        return field_errors(error, default=default)
    errors: dict[str, str] = {}
    own = f"rules.{rule_index}."
    for path, messages in error.fields.items():
        text = " ".join(messages)
        if default != "form":
            name, text = default, f"{path}: {text}"
        elif rule_index is not None and path.startswith("rules.") and not path.startswith(own):
            name, text = "form", f"{path}: {text}"
        else:
            name = error_field(path)
            if name == "form" and path not in ("_schema", ""):
                text = f"{path}: {text}"
            elif name == "conditions" and path.startswith(f"{own}conditions."):
                text = f"{path.removeprefix(f'{own}conditions.')}: {text}"
        errors.setdefault(name, sentence(text))
    return errors


def _list_page(
    merchant_id: str,
    *,
    create: Any = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    session = get_session()
    now = utcnow()
    programs = svc.list_programs(session, merchant_id)
    totals = svc.program_totals(session, merchant_id)
    rows = [
        {
            "program": p,
            "in_force": svc.version_in_force(p, now),
            "newest": svc.latest_version(p),
            "customers": totals.get(p.id, (0, 0))[0],
            "points": totals.get(p.id, (0, 0))[1],
        }
        for p in programs
    ]
    return render_template(
        "admin/programs/list.html",
        page_title="Programs",
        rows=rows,
        create=create or {},
        errors=errors or {},
        may_change=access.current().may(StaffRole.MANAGER),
    ), status


def _program_page(
    merchant_id: str,
    key: str,
    *,
    values: Any = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    session = get_session()
    program = _program(merchant_id, key)
    merchant = get_merchant(session, merchant_id)
    newest = svc.latest_version(program)
    settings = newest.settings
    labels = known_items(session, merchant_id).products
    currency = settings.get("currency") or merchant.currency
    rules = [
        {"rule": r, "summary": describe_rule(r, currency=currency, labels=labels),
         "editable": r.get("kind") in KINDS}
        for r in _rules(program)
    ]  # fmt: skip
    return render_template(
        "admin/programs/program.html",
        page_title=program.name,
        program=program,
        newest=newest,
        settings=settings,
        in_force=svc.version_in_force(program, utcnow()),
        versions=sorted(program.versions, key=lambda v: v.number, reverse=True),
        rules=rules,
        kinds=KINDS,
        values=values or {},
        errors=errors or {},
        currency=currency,
        may_change=access.current().may(StaffRole.MANAGER),
    ), status


def _rule_page(
    merchant_id: str,
    key: str,
    *,
    kind: str,
    original: str | None,
    values: Any,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    program = _program(merchant_id, key)
    catalog = known_items(get_session(), merchant_id)
    query = request.args.get("q", "").strip()[:64]
    values = _form_values(values)
    summary = None
    if original is not None:
        currency = svc.latest_version(program).settings.get("currency", "")
        stored = _stored(program, original)
        summary = describe_rule(stored, currency=currency, labels=catalog.products)
    return render_template(
        "admin/programs/rule.html",
        page_title=f"{KINDS[kind][0]} rule · {program.name}",
        program=program,
        kind=kind,
        kind_title=KINDS[kind][0],
        kind_help=KINDS[kind][1],
        program_currency=svc.latest_version(program).settings.get("currency", ""),
        original=original,
        values=values,
        errors=errors or {},
        query=query,
        products=_choices(catalog.search("products", query, limit=300), values.get("products", [])
                          + values.get("exclude_products", [])),
        categories=_choices(catalog.search("categories", query, limit=300),
                            values.get("categories", []) + values.get("exclude_categories", [])),
        periods=PERIODS,
        bracket_rows=BRACKET_ROWS,
        summary=summary,
        fixed=kind in FIXED,
        events=kind in EVENTS,
    ), status  # fmt: skip


def _form_values(values: Any) -> dict[str, Any]:
    """Form values as a dict, lists kept for the multiple choices."""
    if hasattr(values, "getlist"):
        out: dict[str, Any] = {k: values.get(k) for k in values}
        for name in ("products", "categories", *(f"exclude_{n}" for n in EXCLUSIONS)):
            out[name] = [v for v in values.getlist(name) if v.strip()]
        for name in ("exclude_tags", "exclude_groups"):
            out[name] = _split(values.get(name, ""))
        return out
    return dict(values)


def _stored(program: Any, rule_id: str) -> dict[str, Any]:
    return next((r for r in _rules(program) if r.get("id") == rule_id), {"kind": ""})


def _choices(found: list[tuple[str, str]], chosen: list[str]) -> list[tuple[str, str]]:
    """The catalogue's items plus anything already chosen (a product no longer sold)."""
    known = {k for k, _ in found}
    return found + [(c, c) for c in chosen if c not in known]


def _program(merchant_id: str, key: str) -> Any:
    try:
        return svc.get_program(get_session(), merchant_id, key)
    except NotFound:
        abort(404)


def _rules(program: Any) -> list[dict[str, Any]]:
    return list(svc.latest_version(program).settings.get("rules") or [])


def _position(rules: list[dict[str, Any]], rule_id: str | None) -> int | None:
    return next((n for n, r in enumerate(rules) if r.get("id") == rule_id), None)


def _to_program(merchant_id: str, key: str) -> ResponseReturnValue:
    return redirect(url_for("admin.program_page", merchant_id=merchant_id, key=key), 303)


def _kinds() -> list[Any]:
    pm = current_app.extensions["loyalty"].plugin_manager
    return plugin_rule_kinds(pm.hook) if pm is not None else []


def _dated(form: Mapping[str, Any]) -> dict[str, Any]:
    """``effective_from`` as typed (a date means its start, UTC), when a date was given."""
    text = str(form.get("effective_from", "")).strip()
    if not text:
        return {}
    return {"effective_from": text + "T00:00:00+00:00" if len(text) == 10 else text}


def _effective_from(text: str) -> datetime | None:
    text = text.strip()
    if not text:
        return None
    try:
        day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise ValidationError("must be a date like 2026-12-31", field="effective_from") from None
    return datetime.combine(day.date(), time(), UTC)


def _simulation_args(
    args: Mapping[str, str],
) -> tuple[int | None, datetime | None, datetime | None]:
    since = _day(args.get("since", ""), "since")
    until = _day(args.get("until", ""), "until")
    text = args.get("last", "").strip() or "50"
    if not text.isascii() or not text.isdigit() or len(text) > 6:
        raise ValidationError("must be a whole number", field="last")
    return int(text), since, until


def _day(text: str, field: str) -> datetime | None:
    text = text.strip()
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise ValidationError("must be a date like 2026-12-31", field=field) from None


def _text(form: Mapping[str, Any], name: str) -> str:
    return str(form.get(name, "")).strip()


def _int_or_text(text: str) -> int | str:
    """A whole number as ``int`` (the schema wants one), anything else as typed."""
    text = text.strip()
    return int(text) if text.isascii() and text.lstrip("-").isdigit() and len(text) < 10 else text


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]


def _list(form: Any, name: str) -> list[str]:
    """A multiple choice (``getlist``) or a comma-separated text field."""
    values = form.getlist(name) if hasattr(form, "getlist") else form.get(name, [])
    if isinstance(values, str):
        values = [values]
    out: list[str] = []
    for value in values:
        out += _split(str(value))
    return out


def _rows(form: Mapping[str, Any], names: tuple[str, ...]) -> list[dict[str, str]]:
    rows = []
    for number in range(BRACKET_ROWS):
        row = {n: str(form.get(f"b{number}_{n}", "")).strip() for n in names}
        if any(row.values()):
            rows.append(row)
    return rows


def _pairs(text: str) -> dict[str, Any]:
    """``stars=5`` lines as ``{"stars": 5}`` (whole numbers as numbers)."""
    pairs: dict[str, Any] = {}
    for line in text.splitlines():
        if "=" in line:
            name, value = (part.strip() for part in line.split("=", 1))
            pairs[name] = _int_or_text(value) if value else value
    return pairs


def _uploaded_json() -> Any:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ValidationError("choose the programs file (JSON)", field="file")
    data = upload.stream.read(2 * 1024 * 1024 + 1)
    if len(data) > 2 * 1024 * 1024:
        raise ValidationError("the file is over 2 MiB", field="file")
    try:
        return json.loads(data.decode("utf-8-sig"), parse_float=Decimal)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValidationError(f"the file is not JSON ({error})", field="file") from None
