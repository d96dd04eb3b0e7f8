"""Sandboxed e-mail templates: defaults render, bad edits are refused with line and reason."""

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from jinja2.sandbox import SecurityError

from loyalty_plugin.email import context as stored
from loyalty_plugin.email.render import Formatting, check_template, render
from loyalty_plugin.email.templates import TEMPLATES, default_sources, get_spec

EXPIRING = get_spec("points_expiring")


def problems_of(name: str, **parts: str) -> list[str]:
    sources = replace(default_sources(name), **parts)
    return [str(p) for p in check_template(get_spec(name), sources)]


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_default_templates_pass_their_own_checks(name: str) -> None:
    """Every shipped template is valid, renders a one-line subject and both parts."""
    spec = get_spec(name)
    assert check_template(spec, default_sources(name)) == []
    email = render(spec, default_sources(name), spec.sample_context(), Formatting())
    assert email.subject and "\n" not in email.subject
    assert "Ana" in email.text and "<html" in email.html and "Café Lumière" in email.html
    if spec.category == "marketing":
        assert spec.sample_context()["links"]["unsubscribe"] in email.text
        assert spec.sample_context()["links"]["unsubscribe"] in email.html


def test_expiring_default_reads_well() -> None:
    """The expiry reminder states points, date and days left in words."""
    email = render(
        EXPIRING, default_sources("points_expiring"), EXPIRING.sample_context(), Formatting()
    )
    assert email.subject == "Your 500 points with Café Lumière expire on April 30, 2026"
    assert (
        "500 of your points with Café Lumière expire on April 30, 2026, in 30 days." in email.text
    )


def test_dunder_access_is_refused_with_its_line() -> None:
    """``{{ customer.__class__ }}`` is refused before it is ever rendered."""
    found = problems_of("points_expiring", body_text="Hello\n{{ customer.__class__ }}\n")
    assert found == ["body text, line 2: access to '__class__' is not allowed"]


def test_unknown_variable_is_refused_with_its_line() -> None:
    """A name the template does not document is refused, listing what is available."""
    (found,) = problems_of("points_expiring", body_html="<p>\n\n{{ secret_key }}</p>")
    assert found.startswith("body html, line 3: unknown variable 'secret_key' (available: ")
    assert "expires_on" in found


def test_unknown_attribute_and_syntax_errors_are_refused() -> None:
    """A misspelt attribute and a template that does not parse say where and why."""
    assert problems_of("points_expiring", subject="{{ customer.firstname }}") == [
        "subject, line 1: 'customer' has no attribute 'firstname' "
        "(it has: first_name, last_name, name, email)"
    ]
    (syntax,) = problems_of("points_expiring", body_text="ok\n\n{{ points }\n")
    assert syntax == "body text, line 3: unexpected '}'"


def test_including_other_templates_is_refused() -> None:
    """Merchant templates stand alone: no include, import or extends."""
    (found,) = problems_of("welcome", body_text="{% include 'x' %}{{ links.unsubscribe }}")
    assert found == "body text, line 1: e-mail templates cannot extend, include or import others"


def test_marketing_templates_must_keep_the_unsubscribe_link() -> None:
    """A birthday edit without {{ links.unsubscribe }} is refused, for both bodies."""
    found = problems_of("birthday", body_text="Happy birthday!", body_html="<p>Happy!</p>")
    assert found == [
        "body text: marketing e-mails must include {{ links.unsubscribe }}",
        "body html: marketing e-mails must include {{ links.unsubscribe }}",
    ]


def test_errors_only_rendering_shows_are_refused() -> None:
    """An edit that parses but fails on the sample data is refused with the line."""
    assert problems_of("points_expiring", body_text="a\n{{ points|date }}") == [
        "body text, line 2: TypeError: the date filter needs a date"
    ]


def test_the_sandbox_stops_escapes_even_without_the_checks() -> None:
    """Rendering itself refuses unsafe attribute access (defence in depth)."""
    sources = replace(
        default_sources("points_expiring"), subject="{{ merchant.__class__.__mro__ }}"
    )
    with pytest.raises(SecurityError):
        render(EXPIRING, sources, EXPIRING.sample_context(), Formatting())


def test_html_parts_escape_customer_data_and_text_parts_do_not() -> None:
    """A customer named with markup is shown, never interpreted, in HTML."""
    context = EXPIRING.sample_context() | {
        "customer": {"first_name": "<b>Bo & Co</b>", "last_name": "", "name": "", "email": ""}
    }
    email = render(EXPIRING, default_sources("points_expiring"), context, Formatting())
    assert "Hi &lt;b&gt;Bo &amp; Co&lt;/b&gt;," in email.html
    assert "Hi <b>Bo & Co</b>," in email.text


def test_numbers_money_and_dates_follow_the_merchant_locale() -> None:
    """German merchants get 1.234 points, 5,00 € and 30. April 2026."""
    spec = get_spec("coupon_expiring")
    sources = replace(
        default_sources("coupon_expiring"),
        subject="{{ balance|number }} / {{ coupon.amount|money }} / {{ expires_on|date }}",
    )
    context = spec.sample_context() | {"balance": 1234}
    german = Formatting(locale="de_DE", currency="EUR", tz=ZoneInfo("Europe/Berlin"))
    assert render(spec, sources, context, german).subject == "1.234 / 5,00 € / 30. April 2026"
    english = Formatting(locale="en_US", currency="USD")
    assert render(spec, sources, context, english).subject == "1,234 / $5.00 / April 30, 2026"


def test_template_data_keeps_its_types_through_json() -> None:
    """Decimals and dates stored with a queued e-mail come back as they were."""
    data = {
        "amount": Decimal("5.10"),
        "on": date(2026, 4, 30),
        "at": datetime(2026, 4, 30, 8, tzinfo=UTC),
        "nested": [{"n": 1, "none": None}],
    }
    assert stored.load(stored.dump(data)) == data
