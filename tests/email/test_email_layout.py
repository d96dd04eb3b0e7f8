"""The shared HTML layout: defaults extend it, merchants' edits may too, nothing else loads."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from loyalty_plugin.email.render import (
    LAYOUT,
    LAYOUT_FILE,
    Formatting,
    check_template,
    render,
)
from loyalty_plugin.email.templates import TEMPLATES, Sources, default_sources
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.messaging import email_templates
from tests.email.conftest import T0

#: The frame every default HTML e-mail had before the layout, line for line (rendered).
FRAME_TOP = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Café Lumière</title>
</head>
<body style="margin:0;padding:0;background:#f4f5f7;font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;color:#1f2933;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f4f5f7;padding:24px 0;">
<tr><td align="center">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="max-width:560px;background:#ffffff;border-radius:8px;">
<tr><td style="padding:20px 32px;border-bottom:1px solid #e4e7eb;font-size:18px;font-weight:600;">Café Lumière</td></tr>
<tr><td style="padding:32px;font-size:16px;line-height:1.5;">
<p style="margin:0 0 16px;">Hi Ana,</p>
"""  # noqa: E501 -- the e-mail's own markup
FOOTER = (
    '<tr><td style="padding:16px 32px;border-top:1px solid #e4e7eb;font-size:12px;'
    'line-height:1.5;color:#7b8794;">{}</td></tr>\n'
)
FRAME_BOTTOM = "</table>\n</td></tr>\n</table>\n</body>\n</html>\n"
MEMBER = "You receive this e-mail because you are a member of the Café Lumière rewards programme."
ASKED = (
    "You receive this e-mail because a new link to your points page was asked for. "
    "If it was not you, you can ignore it: nothing changes."
)
UNSUBSCRIBE = (
    "You receive this e-mail because you agreed to hear from Café Lumière. "
    '<a href="https://loyalty.example.com/loyalty/email/unsubscribe/sample" '
    'style="color:#7b8794;">Unsubscribe</a>'
)
#: Merchant HTML that extends the layout and replaces its content.
OWN_CONTENT = '{% extends "layout.html" %}{% block content %}<p>Hey {{ customer.first_name }}: {{ points }}!</p>{% endblock %}'  # noqa: E501


def rendered_html(name: str, html: str | None = None) -> str:
    spec = TEMPLATES[name]
    sources = default_sources(name)
    if html is not None:
        sources = Sources(sources.subject, sources.body_text, html)
    return render(spec, sources, spec.sample_context(), Formatting()).html


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_each_default_extends_the_layout_and_renders_the_same_frame(name: str) -> None:
    """Header, content cell, footer and closing tags come out exactly as before the layout."""
    assert default_sources(name).body_html.startswith('{% extends "layout.html" %}\n')
    html = rendered_html(name)
    footer = {"marketing": UNSUBSCRIBE, "access": ASKED}.get(TEMPLATES[name].category, MEMBER)
    assert html.startswith(FRAME_TOP)
    assert html.endswith("</p>\n</td></tr>\n" + FOOTER.format(footer) + FRAME_BOTTOM)
    assert html.count("<html") == 1 and html.count("<body") == 1
    assert "{%" not in html and "{{" not in html


def test_content_is_the_templates_own() -> None:
    """What differs between e-mails is in the child: the receipt's points and button."""
    html = rendered_html("points_earned")
    assert "You earned <strong>120 points</strong>." in html
    assert re.search(r">See my points</a></p>\n</td></tr>", html)


def test_the_layout_is_the_only_file_of_its_kind() -> None:
    """The layout ships beside the defaults, in ``_shared/``, and holds the three blocks."""
    source = LAYOUT_FILE.read_text("utf-8")
    assert LAYOUT_FILE.parent.name == "_shared" and LAYOUT_FILE.name == LAYOUT
    for block in ("title", "content", "footer"):
        assert f"{{% block {block} %}}" in source


def test_a_merchant_edit_may_extend_the_layout() -> None:
    """An edit that extends the layout is accepted and gets the frame around its content."""
    spec = TEMPLATES["points_earned"]
    edit = Sources("Hi", "Text", OWN_CONTENT)
    assert check_template(spec, edit) == []
    html = rendered_html("points_earned", OWN_CONTENT)
    assert html.startswith(FRAME_TOP.removesuffix('\n<p style="margin:0 0 16px;">Hi Ana,</p>\n'))
    assert "<p>Hey Ana: 120!</p></td></tr>\n" + FOOTER.format(MEMBER) in html


@pytest.mark.parametrize(
    ("part", "source"),
    [
        ("body_html", '{% extends "other.html" %}'),
        ("body_html", "{% extends name %}"),
        ("body_html", '{% include "layout.html" %}'),
        ("body_html", '{% import "layout.html" as x %}'),
        ("body_text", '{% extends "layout.html" %}'),
    ],
)
def test_nothing_else_can_be_loaded(part: str, source: str) -> None:
    """Only the HTML part may load a template, and only by extending the layout."""
    draft = replace(default_sources("points_earned"), **{part: source})
    problems = check_template(TEMPLATES["points_earned"], draft)
    assert any("cannot" in p.reason for p in problems), problems


def test_a_marketing_edit_extending_the_layout_still_needs_its_unsubscribe_link() -> None:
    """The layout's default footer has no unsubscribe link: a marketing edit must add one."""
    edit = Sources("Hi", "{{ links.unsubscribe }}", OWN_CONTENT.replace("{{ points }}", "1"))
    problems = check_template(TEMPLATES["birthday"], edit)
    assert [p.reason for p in problems] == [
        "marketing e-mails must include {{ links.unsubscribe }}"
    ]


def test_preview_and_sending_use_an_edit_that_extends_the_layout(db, ana, inbox, run) -> None:
    """A saved edit extending the layout previews, and goes out, inside the frame."""
    preview = email_templates.preview_template(
        db, merchant_id="shop", name="points_earned", body_html=OWN_CONTENT
    )
    assert preview.html.startswith("<!DOCTYPE html>") and "<p>Hey Ana: 120!</p>" in preview.html
    email_templates.save_template(
        db,
        merchant_id="shop",
        name="points_earned",
        subject="Points!",
        body_text="{{ points }}",
        body_html=OWN_CONTENT,
        now=T0,
        actor="staff:ana",
    )
    ledger.earn(db, account_id=ana.id, points=7, now=T0, actor="t")
    db.commit()
    run("send-emails", T0)
    (sent,) = inbox.messages
    html = sent.get_body("html").get_content()
    assert "<p>Hey Ana: 7!</p></td></tr>" in html and html.startswith("<!DOCTYPE html>")


def test_an_old_full_page_edit_still_renders(db, ana) -> None:
    """Edits saved before the layout (whole HTML pages) keep working unchanged."""
    page = "<!DOCTYPE html><html><body><p>{{ customer.first_name }}</p></body></html>"
    preview = email_templates.preview_template(
        db, merchant_id="shop", name="points_earned", body_html=page
    )
    assert preview.html == "<!DOCTYPE html><html><body><p>Ana</p></body></html>"
