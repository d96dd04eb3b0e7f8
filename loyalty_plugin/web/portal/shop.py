"""The portal's shop: rewards and memberships bought with points, each after a confirmation.

A catalogue page lists what is on offer; "Buy" opens a confirmation page showing the cost
and the balance after, with a form carrying the one-time key and CSRF value of
:mod:`.forms`. Posting it buys once, however often it is sent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, g, redirect, request, url_for
from flask.typing import ResponseReturnValue

from loyalty_plugin.domain.errors import (
    IdempotencyConflict,
    LoyaltyError,
    NotFound,
)
from loyalty_plugin.extensions import get_session
from loyalty_plugin.i18n import N_
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.customers import portal_level, portal_shop
from loyalty_plugin.services.customers.statements import standing
from loyalty_plugin.services.transaction import run_in_transaction
from loyalty_plugin.web.i18n import gettext, ngettext
from loyalty_plugin.web.portal import portal_access
from loyalty_plugin.web.portal.forms import ConvertForm, new_form, read_form
from loyalty_plugin.web.portal.views import customer_formats, message_for, render_page, with_error

# -- rewards -------------------------------------------------------------------------------


def rewards() -> ResponseReturnValue:
    """The rewards on offer, with what each costs and whether the customer can buy it."""
    session, customer, now = get_session(), g.portal_customer, utcnow()
    position = standing(session, customer, now=now)
    return render_page(
        "portal/rewards.html",
        balance=position.balance,
        available=position.available,
        offers=portal_shop.reward_catalogue(session, customer, now=now),
        page_title=gettext("Rewards"),
    )


def reward_confirm(reward_id: int) -> ResponseReturnValue:
    """ "Buy this reward?": its cost, the balance after, and the button."""
    return _reward_page(reward_id, new_form(portal_access.secret(), g.portal_access))


def reward_buy(reward_id: int) -> ResponseReturnValue:
    """Buy the reward; the coupon that delivers it is shown on the coupons page."""
    form = read_form(portal_access.secret(), g.portal_access, request.form)
    customer = g.portal_customer
    return _buy(
        lambda s: portal_shop.buy_reward(
            s, customer, reward_id=reward_id, form_key=form.form_key, now=utcnow()
        ),
        form,
        again=lambda f, status: _reward_page(reward_id, f, status),
        done=lambda coupon: url_for("portal.coupons", created=coupon.code),
    )


def _reward_page(reward_id: int, form: ConvertForm, status: int = 200) -> ResponseReturnValue:
    session, customer, now = get_session(), g.portal_customer, utcnow()
    offer = _found(lambda: portal_shop.reward_offer(session, customer, reward_id, now=now))
    return render_page(
        "portal/reward_confirm.html",
        status=status,
        balance=standing(session, customer, now=now).balance,
        offer=offer,
        form=form,
        page_title=gettext("Buy %(reward)s", reward=offer.reward.name),
    )


# -- memberships ---------------------------------------------------------------------------


def memberships() -> ResponseReturnValue:
    """The levels that can be bought with points: price, duration, benefits."""
    session, customer, now = get_session(), g.portal_customer, utcnow()
    position = standing(session, customer, now=now)
    return render_page(
        "portal/memberships.html",
        balance=position.balance,
        available=position.available,
        offers=portal_shop.membership_offers(session, customer, now=now),
        bought=request.args.get("bought"),
        page_title=gettext("Memberships"),
    )


def membership_confirm(level: str) -> ResponseReturnValue:
    """ "Buy this membership?": price, duration, the end date and the balance after."""
    return _membership_page(level, new_form(portal_access.secret(), g.portal_access))


def membership_buy(level: str) -> ResponseReturnValue:
    """Buy the membership; the memberships page then shows its end date."""
    form = read_form(portal_access.secret(), g.portal_access, request.form)
    customer = g.portal_customer
    return _buy(
        lambda s: portal_shop.buy_membership(
            s, customer, level=level, form_key=form.form_key, now=utcnow()
        ),
        form,
        again=lambda f, status: _membership_page(level, f, status),
        done=lambda _membership: url_for("portal.memberships", bought=level),
    )


def _membership_page(level: str, form: ConvertForm, status: int = 200) -> ResponseReturnValue:
    session, customer, now = get_session(), g.portal_customer, utcnow()
    offer = _found(lambda: portal_shop.membership_offer(session, customer, level, now=now))
    return render_page(
        "portal/membership_confirm.html",
        status=status,
        balance=standing(session, customer, now=now).balance,
        offer=offer,
        now=now,
        form=form,
        page_title=gettext("Buy %(level)s", level=offer.level.name),
    )


# -- level ---------------------------------------------------------------------------------


def level() -> ResponseReturnValue:
    """The level held, until when, what counts toward the next, and the level history."""
    session, customer, now = get_session(), g.portal_customer, utcnow()
    return render_page(
        "portal/level.html",
        balance=standing(session, customer, now=now).balance,
        page=portal_level.level_page(session, customer, now=now),
        page_title=gettext("My level"),
    )


# -- helpers -------------------------------------------------------------------------------


def _buy(
    work: Callable[[Any], Any],
    form: ConvertForm,
    *,
    again: Callable[[ConvertForm, int], ResponseReturnValue],
    done: Callable[[Any], str],
) -> ResponseReturnValue:
    """Run one purchase; on a refusal show the confirmation again with the reason (422)."""
    try:
        bought = run_in_transaction(get_session(), work)
    except NotFound:
        abort(404)
    except LoyaltyError as error:
        message = _refused(error) or message_for(error, customer_formats(g.portal_customer))
        if isinstance(error, IdempotencyConflict):
            # The used key cannot be sent again.
            form = new_form(portal_access.secret(), g.portal_access)
        return again(with_error(form, message), 422)
    return redirect(done(bought), 303)


#: What the shop says for each reason a purchase is refused (``LoyaltyError.reason``).
REFUSALS = {
    "reward_sold_out": N_("Sorry, this reward is sold out."),
    "reward_not_on_offer": N_("This reward is not on offer right now."),
    "level_higher": N_("Your level is already higher."),
    "level_not_for_sale": N_("This membership is not for sale."),
}


def _refused(error: LoyaltyError) -> str | None:
    """Why the shop refused a purchase, in the customer's language, from its reason code."""
    if error.reason == "reward_limit_reached":
        limit = int(error.facts.get("limit", 1))  # type: ignore[call-overload]
        return ngettext(
            "This reward can be bought once per customer.",
            "This reward can be bought %(num)s times per customer.",
            limit,
        )
    message = REFUSALS.get(error.reason or "")
    return gettext(message) if message else None


def _found(read: Callable[[], Any]) -> Any:
    """``read()``, or the portal's 404 page when it names nothing on offer to this customer."""
    try:
        return read()
    except NotFound:
        abort(404)
