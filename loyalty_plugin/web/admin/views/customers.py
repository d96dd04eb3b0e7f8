"""Customers: the search, one customer's page, and what staff do there.

Each view reads the form, calls one service (``services/customers``) and renders or
redirects. A refused form shows the page again (422) with what was typed and the message
at the field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import abort, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session
from werkzeug.routing import BuildError

from loyalty_plugin.domain.errors import LoyaltyError, NotFound
from loyalty_plugin.email.links import base_url, portal_valid_for
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import AdjustmentStatus, StaffRole
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.customers import actions, desk, search
from loyalty_plugin.services.transaction import run_in_transaction
from loyalty_plugin.web.admin import access
from loyalty_plugin.web.admin.forms import field_errors

#: Actions other screens add to the customer page, shown when their endpoint exists:
#: (endpoint, label, the role it needs).
MORE_ACTIONS = (
    ("admin.customer_merge", "Merge with another record", StaffRole.MANAGER),
    ("admin.transfer_new", "Transfer points", StaffRole.MANAGER),
)


def customers(merchant_id: str) -> ResponseReturnValue:
    """The search box and one page of matching customers (all of them without a query)."""
    query = request.args.get("q", "")
    try:
        results = search.search_customers(
            get_session(), merchant_id=merchant_id, query=query, page=_page_arg("page")
        )
    except LoyaltyError as error:
        return render_template(
            "admin/customers/list.html", results=None, q=query, errors=field_errors(error)
        ), 422
    return render_template("admin/customers/list.html", results=results, q=results.query, errors={})


def customers_show(merchant_id: str, customer_id: int) -> ResponseReturnValue:
    """Everything about one customer, with the forms staff act through."""
    return _render(merchant_id, customer_id)


def customers_adjust(merchant_id: str, customer_id: int) -> ResponseReturnValue:
    """Credit or debit points with a reason; over the limit it waits for approval."""
    form, ctx = request.form, access.current()
    try:
        merchant = _merchant_timezone(merchant_id)
        points = actions.read_points(form.get("points"))
        expires_at = actions.read_day_end(
            form.get("expires_on"), timezone=merchant, field="expires_on", required=False
        )
        adjustment = run_in_transaction(
            get_session(),
            lambda s: actions.adjust(
                s,
                merchant_id=merchant_id,
                customer_id=customer_id,
                points=points,
                reason=form.get("reason", ""),
                expires_at=expires_at,
                actor=ctx.actor,
                role=ctx.role,
                form_key=form.get("form_key", ""),
                now=utcnow(),
            ),
        )
    except NotFound:
        abort(404)
    except LoyaltyError as error:
        return _render(merchant_id, customer_id, failed="adjust", error=error, status=422)
    signed = f"{adjustment.points:+,}"
    if adjustment.status == AdjustmentStatus.PENDING:
        access.flash(f"{signed} points wait for a second staff member's approval.")
    else:
        access.flash(f"{signed} points adjusted.")
    return _back(merchant_id, customer_id)


def customers_level(merchant_id: str, customer_id: int) -> ResponseReturnValue:
    """Give a level until the end of a day, with a reason."""
    form, ctx = request.form, access.current()
    try:
        until = actions.read_day_end(
            form.get("until"),
            timezone=_merchant_timezone(merchant_id),
            field="until",
            required=True,
        )
        run_in_transaction(
            get_session(),
            lambda s: actions.give_level(
                s,
                merchant_id=merchant_id,
                customer_id=customer_id,
                level=form.get("level", ""),
                until=until,  # type: ignore[arg-type]
                reason=form.get("reason", ""),
                actor=ctx.actor,
                now=utcnow(),
            ),
        )
    except NotFound as error:
        if error.field == "customer_id":
            abort(404)
        return _render(merchant_id, customer_id, failed="level", error=error, status=422)
    except LoyaltyError as error:
        return _render(merchant_id, customer_id, failed="level", error=error, status=422)
    access.flash(f"Level {form.get('level')} given until {form.get('until')}.")
    return _back(merchant_id, customer_id)


def customers_consent(merchant_id: str, customer_id: int) -> ResponseReturnValue:
    """Record that the customer gave or withdrew a marketing consent."""
    form, ctx = request.form, access.current()
    given = form.get("given") == "yes"
    try:
        run_in_transaction(
            get_session(),
            lambda s: actions.set_consent(
                s,
                merchant_id=merchant_id,
                customer_id=customer_id,
                channel=form.get("channel", ""),
                given=given,
                actor=ctx.actor,
                now=utcnow(),
            ),
        )
    except NotFound:
        abort(404)
    except LoyaltyError as error:
        return _render(merchant_id, customer_id, failed="consent", error=error, status=422)
    channel = {"email": "E-mail", "sms": "SMS"}.get(form.get("channel", ""), "")
    access.flash(f"{channel} marketing consent {'given' if given else 'withdrawn'}.")
    return _back(merchant_id, customer_id)


def customers_portal_link(merchant_id: str, customer_id: int) -> ResponseReturnValue:
    """A fresh portal link, shown once on the page to copy and give the customer."""
    config, ctx = current_app.config, access.current()
    try:
        link = run_in_transaction(
            get_session(),
            lambda s: actions.portal_link(
                s,
                merchant_id=merchant_id,
                customer_id=customer_id,
                secret=str(config["LOYALTY_SECRET_KEY"]),
                base_url=base_url(config),
                valid_for=portal_valid_for(config),
                actor=ctx.actor,
                now=utcnow(),
            ),
        )
    except NotFound:
        abort(404)
    return _render(merchant_id, customer_id, portal_link=link)


def customers_portal_link_email(merchant_id: str, customer_id: int) -> ResponseReturnValue:
    """E-mail the customer a fresh portal link (refused without an address or switched off)."""
    form, ctx = request.form, access.current()
    valid_days = portal_valid_for(current_app.config).days
    try:
        queued = run_in_transaction(
            get_session(),
            lambda s: actions.email_portal_link(
                s,
                merchant_id=merchant_id,
                customer_id=customer_id,
                form_key=form.get("form_key", ""),
                valid_days=valid_days,
                actor=ctx.actor,
                now=utcnow(),
            ),
        )
    except NotFound:
        abort(404)
    except LoyaltyError as error:
        return _render(merchant_id, customer_id, failed="portal-email", error=error, status=422)
    access.flash(f"A portal link is on its way to {queued.to}; it works for {valid_days} days.")
    return _back(merchant_id, customer_id)


def customers_card_give(merchant_id: str, customer_id: int) -> ResponseReturnValue:
    """Give the customer a card by its number (as the Cards screen's assign does)."""
    form, ctx = request.form, access.current()
    number = form.get("number", "")
    return _card_change(
        merchant_id,
        customer_id,
        "card-give",
        lambda s: actions.give_card(
            s,
            merchant_id=merchant_id,
            customer_id=customer_id,
            number=number,
            actor=ctx.actor,
            now=utcnow(),
        ),
        done=f"Card {number.strip()} given.",
    )


def customers_card_block(merchant_id: str, customer_id: int, number: str) -> ResponseReturnValue:
    """Block the customer's card: its number no longer earns or finds them."""
    form, ctx = request.form, access.current()
    return _card_change(
        merchant_id,
        customer_id,
        "card-block",
        lambda s: actions.block_card(
            s,
            merchant_id=merchant_id,
            customer_id=customer_id,
            number=number,
            reason=form.get("reason", ""),
            actor=ctx.actor,
            now=utcnow(),
        ),
        done=f"Card {number} is blocked.",
    )


def customers_card_replace(merchant_id: str, customer_id: int, number: str) -> ResponseReturnValue:
    """Replace the customer's lost card with a new one; the points stay."""
    form, ctx = request.form, access.current()
    new_number = form.get("new_number", "")
    return _card_change(
        merchant_id,
        customer_id,
        "card-replace",
        lambda s: actions.replace_card(
            s,
            merchant_id=merchant_id,
            customer_id=customer_id,
            number=number,
            new_number=new_number,
            reason=form.get("reason", ""),
            actor=ctx.actor,
            now=utcnow(),
        ),
        done=f"Card {number} is replaced by {new_number.strip()}; the points stay.",
    )


# -- helpers -------------------------------------------------------------------------------


def _card_change(
    merchant_id: str, customer_id: int, form_name: str, work: Callable[[Session], Any], *, done: str
) -> ResponseReturnValue:
    """Run one card service; a refusal shows the page again with the card form's error."""
    try:
        run_in_transaction(get_session(), work)
    except NotFound as error:
        if error.field == "customer_id" or (form_name != "card-give" and error.field == "number"):
            abort(404)
        return _render(merchant_id, customer_id, failed=form_name, error=error, status=422)
    except LoyaltyError as error:
        return _render(merchant_id, customer_id, failed=form_name, error=error, status=422)
    access.flash(done)
    return _back(merchant_id, customer_id)


def _render(
    merchant_id: str,
    customer_id: int,
    *,
    failed: str | None = None,
    error: LoyaltyError | None = None,
    status: int = 200,
    **extra: Any,
) -> ResponseReturnValue:
    try:
        page = desk.customer_page(
            get_session(),
            merchant_id=merchant_id,
            customer_id=customer_id,
            now=utcnow(),
            log_page=_page_arg("log_page"),
        )
    except NotFound:
        abort(404)
    return render_template(
        "admin/customers/page.html",
        page=page,
        failed=failed,
        errors=_form_errors(failed, error),
        values=request.form if failed else {},
        more_actions=_more_actions(merchant_id, customer_id),
        portal_link_days=portal_valid_for(current_app.config).days,
        roles=StaffRole,
        **extra,
    ), status


def _form_errors(failed: str | None, error: LoyaltyError | None) -> Mapping[str, str]:
    """The message per field of the failed form (service fields named as the form's)."""
    if error is None:
        return {}
    errors = field_errors(error)
    renamed = {"expires_at": "expires_on", "customer_id": "form", "staff": "form"}
    return {renamed.get(name, name): message for name, message in errors.items()}


def _more_actions(merchant_id: str, customer_id: int) -> list[tuple[str, str]]:
    """The other screens' actions on this customer that exist and the role allows."""
    ctx, views = access.current(), current_app.view_functions
    found = []
    for endpoint, label, role in MORE_ACTIONS:
        if endpoint in views and ctx.may(role):
            try:
                found.append(
                    (label, url_for(endpoint, merchant_id=merchant_id, customer_id=customer_id))
                )
            except BuildError:  # that screen's address names the customer otherwise
                found.append((label, url_for(endpoint, merchant_id=merchant_id)))
    return found


def _merchant_timezone(merchant_id: str) -> str:
    return desk.merchant_timezone(get_session(), merchant_id)


def _page_arg(name: str) -> int:
    """A page number from the query string (a bad one is the first page)."""
    value = request.args.get(name, "1")
    return int(value) if value.isdigit() and 0 < len(value) < 6 and int(value) > 0 else 1


def _back(merchant_id: str, customer_id: int) -> ResponseReturnValue:
    return redirect(
        url_for("admin.customers_show", merchant_id=merchant_id, customer_id=customer_id), 303
    )
