"""The Membership levels screen: a program's levels, what counts, benefits and downgrades.

Levels live in a program version's settings (``levels``; docs/levels.md). Saving is one
``update_program`` with ``{"levels": ..., "effective_from": ...}``, the call the API's
``PATCH /programs/{key}`` makes: a draft changes in place, an active program gets a new
version from the date given, and history never changes. Everyone signed in may read it;
managers and owners change it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from flask import abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from loyalty_plugin.domain.errors import LoyaltyError, NotFound
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import Program, StaffRole
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.schemas.programs import InvalidProgram
from loyalty_plugin.services.earning import programs as svc
from loyalty_plugin.services.transaction import run_in_transaction
from loyalty_plugin.web.admin import access
from loyalty_plugin.web.admin.forms import field_errors, sentence
from loyalty_plugin.web.admin.views.spending import whole

#: Blank level rows the form offers below the existing levels.
BLANK_ROWS = 2
#: Level rows the form shows at least (a first scheme is often three levels).
MIN_ROWS = 3
#: The choices of the scheme's settings.
MEASURES = [("money", "Money paid"), ("points", "Points earned")]
PERIODS = [
    ("lifetime", "Lifetime"),
    ("rolling", "A rolling window of days"),
    ("calendar_year", "The calendar year"),
]
DOWNGRADES = [
    ("below_threshold", "At once, when below the threshold"),
    ("review", "At the review date (with grace days)"),
    ("never", "Never"),
]
REDEEM_AT = [
    ("current_level", "The level held when paying"),
    ("earning_level", "The level held when each point was earned"),
]
TIER_TEXT = ("key", "name", "threshold", "multiplier", "max_share_percent")


def levels(merchant_id: str) -> ResponseReturnValue:
    """The chosen program's levels (``?program=key``; the first program by default)."""
    return _page(merchant_id, request.args.get("program"))


def levels_save(merchant_id: str) -> ResponseReturnValue:
    """Save the levels: a new program version from the date given (one ``update_program``)."""
    form = request.form
    key = form.get("program", "")
    actor = access.current().actor
    try:
        changes = {"levels": levels_args(form)}
        effective = form.get("effective_from", "").strip()
        if effective:
            changes["effective_from"] = effective
        version = run_in_transaction(
            get_session(),
            lambda s: svc.update_program(
                s, merchant_id=merchant_id, key=key, changes=changes, now=utcnow(), actor=actor
            ),
        )
    except NotFound as error:
        if error.field == "key":
            abort(404)
        return _page(merchant_id, key, form=form, errors=field_errors(error), status=422)
    except InvalidProgram as error:
        return _page(merchant_id, key, form=form, errors=_program_errors(error), status=422)
    except LoyaltyError as error:
        return _page(merchant_id, key, form=form, errors=field_errors(error), status=422)
    access.flash(f"Levels saved: version {version.number} of the program.")
    return redirect(url_for("admin.levels", merchant_id=merchant_id, program=key), 303)


# -- the form ------------------------------------------------------------------------------


def levels_args(form: Mapping[str, str]) -> dict[str, Any]:
    """The form as the ``levels`` settings of the API (docs/levels.md)."""
    config: dict[str, Any] = {
        "measure": form.get("measure", "money"),
        "period": form.get("period", "lifetime"),
        "downgrade": form.get("downgrade", "below_threshold"),
        "redeem_at": form.get("redeem_at", "current_level"),
        "days": _number(form, "days") or 365,
        "grace_days": _number(form, "grace_days") or 0,
    }
    review = _number(form, "review_every_days")
    if review is not None:
        config["review_every_days"] = review
    tiers = [tier for index in range(_rows(form)) if (tier := _tier(form, index))]
    if not tiers:
        return {}
    config["tiers"] = tiers
    return config


def _rows(form: Mapping[str, str]) -> int:
    text = form.get("rows", "0")
    return min(int(text), 50) if text.isdigit() else 0


def _tier(form: Mapping[str, str], index: int) -> dict[str, Any] | None:
    prefix = f"t{index}_"
    if not any(form.get(prefix + name, "").strip() for name in ("key", "name", "threshold")):
        return None
    tier: dict[str, Any] = {}
    for name in TIER_TEXT:
        value = form.get(prefix + name, "").strip()
        if value or name in ("key", "name", "threshold"):
            tier[name] = value
    points = _number(form, prefix + "value_points")
    amount = form.get(prefix + "value_amount", "").strip()
    if points is not None or amount:
        tier["point_value"] = {"points": points, "amount": amount}
    percent = form.get(prefix + "discount_percent", "").strip()
    if percent:
        tier["discounts"] = [
            {
                "percent": percent,
                "categories": _ids(form.get(prefix + "discount_categories", "")),
                "products": _ids(form.get(prefix + "discount_products", "")),
            }
        ]
    for name in ("price_points", "duration_days"):
        number = _number(form, prefix + name)
        if number is not None:
            tier[name] = number
    return tier


def _ids(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _number(form: Mapping[str, str], name: str) -> int | None:
    text = form.get(name, "").strip()
    return whole(text, name) if text else None


def _program_errors(error: InvalidProgram) -> dict[str, str]:
    """``{"levels.tiers.1.threshold": [...]}`` as the form's ``{"t1_threshold": "..."}``."""
    errors: dict[str, str] = {}
    for path, messages in error.fields.items():
        name = _input_of(path)
        if path == "levels.tiers" and "threshold must be 0" in messages[0]:
            name = "t0_threshold"  # the lowest level is the form's first
        errors.setdefault(name, sentence(messages[0]))
    return errors


def _input_of(path: str) -> str:
    parts = path.removeprefix("levels.").split(".")
    if parts[0] != "tiers":
        return parts[0] if parts[0] in ("days", "grace_days", "review_every_days") else "form"
    if len(parts) < 3 or not parts[1].isdigit():
        return "form"
    row, name = parts[1], parts[2]
    if name == "point_value":
        return f"t{row}_value_{parts[3] if len(parts) > 3 else 'points'}"
    if name == "discounts":
        last = parts[-1] if parts[-1] in ("categories", "products") else "percent"
        return f"t{row}_discount_{last}"
    return f"t{row}_{name}"


def _shown(config: Mapping[str, Any]) -> dict[str, str]:
    """A version's ``levels`` settings as the form's values."""
    shown = {
        "measure": str(config.get("measure", "money")),
        "period": str(config.get("period", "lifetime")),
        "downgrade": str(config.get("downgrade", "below_threshold")),
        "redeem_at": str(config.get("redeem_at", "current_level")),
        "days": str(config.get("days", 365)),
        "grace_days": str(config.get("grace_days", 0)),
        "review_every_days": _text(config.get("review_every_days")),
    }
    tiers = list(config.get("tiers") or [])
    for index, tier in enumerate(tiers):
        prefix = f"t{index}_"
        for name in (*TIER_TEXT, "price_points", "duration_days"):
            shown[prefix + name] = _text(tier.get(name))
        value = tier.get("point_value") or {}
        shown[prefix + "value_points"] = _text(value.get("points"))
        shown[prefix + "value_amount"] = _text(value.get("amount"))
        discount = (tier.get("discounts") or [{}])[0]
        shown[prefix + "discount_percent"] = _text(discount.get("percent"))
        shown[prefix + "discount_categories"] = ", ".join(discount.get("categories") or [])
        shown[prefix + "discount_products"] = ", ".join(discount.get("products") or [])
    shown["rows"] = str(len(tiers) + BLANK_ROWS)
    return shown


def _text(value: Any) -> str:
    return "" if value is None else str(value)


# -- the page ------------------------------------------------------------------------------


def _page(
    merchant_id: str,
    key: str | None,
    *,
    form: Mapping[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    session = get_session()
    programs = svc.list_programs(session, merchant_id)
    program = _chosen(programs, key)
    version = svc.latest_version(program) if program is not None else None
    config = (version.settings.get("levels") or {}) if version is not None else {}
    values = dict(form) if form is not None else _shown(config)
    rows = int(values.get("rows", "0")) if str(values.get("rows", "")).isdigit() else 0
    return render_template(
        "admin/levels/page.html",
        page_title="Membership levels",
        programs=programs,
        program=program,
        version=version,
        config=config,
        values=values,
        rows=range(min(max(rows, MIN_ROWS), 50)),
        errors=errors or {},
        measures=MEASURES,
        periods=PERIODS,
        downgrades=DOWNGRADES,
        redeem_choices=REDEEM_AT,
        today=datetime.now(UTC).date().isoformat(),
        may_edit=access.current().may(StaffRole.MANAGER),
    ), status


def _chosen(programs: list[Program], key: str | None) -> Program | None:
    if key:
        for program in programs:
            if program.key == key:
                return program
        abort(404)
    live = [p for p in programs if p.status.value != "archived"]
    return (live or programs or [None])[0]
