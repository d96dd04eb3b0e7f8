"""Every word a customer reads goes through the translation layer, and every shipped
language translates all of it (docs/portal.md#languages).

- Templates: text outside ``{{ }}`` and ``{% %}`` (and the words of ``aria-label``,
  ``title``, ``alt`` and ``placeholder``) may hold no letters: it must be a ``_()`` or
  ``ngettext()`` call. The portal's pages and the default e-mails are parsed.
- Catalogues: the messages extracted as ``babel.cfg`` says are each translated, with the
  same placeholders, in every shipped language; the compiled ``.mo`` equal their ``.po``;
  ``loyalty.pot`` is current.
"""

from __future__ import annotations

import re
import tomllib
from configparser import RawConfigParser
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from jinja2 import Environment

from loyalty_plugin.i18n import LANGUAGES, TRANSLATIONS_DIR, language_for

REPOSITORY = Path(__file__).resolve().parents[1]
PACKAGE = REPOSITORY / "loyalty_plugin"
TEMPLATES = sorted(
    [
        *(PACKAGE / "web" / "portal" / "templates").rglob("*.html"),
        *(PACKAGE / "email_templates").rglob("*.html"),
        *(PACKAGE / "email_templates").rglob("*.txt"),
    ]
)
TRANSLATED = LANGUAGES[1:]
#: Portal pages whose text is not wrapped yet: English in every language until it is
#: (docs/portal.md#languages). The list may only shrink: a page here that has no unmarked
#: text left fails, to be removed.
PENDING: set[str] = set()
_TAG = re.compile(r"<[^>]*>")
_SHOWN_ATTRIBUTE = re.compile(r"""\b(?:aria-label|title|alt|placeholder)="([^"{]*)\"""")
_ENTITY = re.compile(r"&[a-z]+;|&#\d+;")
_WORD = re.compile(r"[^\W\d_]{2,}")
_PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]")


def unmarked(source: str) -> list[str]:
    """The words of ``source`` a reader would see that are not in a translation call."""
    env = Environment(extensions=["jinja2.ext.i18n"], autoescape=True)
    env.parse(source)  # a template that does not parse fails here, not silently below
    # The text as written, every {{ }}, {% %} and {# #} replaced by a mark: tags that
    # hold an expression (<html lang="{{ language }}">) are still tags.
    text = "".join(
        value if token == "data" else ("§" if token.endswith("_begin") else "")
        for _line, token, value in env.lex(source)
    )
    found: list[str] = []
    for piece in _SHOWN_ATTRIBUTE.findall(text) + _TAG.split(text):
        piece = _ENTITY.sub(" ", piece)
        if _WORD.search(piece):
            found.append(" ".join(piece.split()))
    return found


def extracted() -> dict[str | tuple[str, ...], set[str]]:
    """``msgid`` (or singular and plural) -> where, as ``pybabel extract -F babel.cfg``."""
    config = RawConfigParser()
    config.read(REPOSITORY / "babel.cfg")
    method_map = []
    for section in config.sections():
        method, pattern = (part.strip() for part in section.split(":", 1))
        method_map.append((pattern, method))
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    messages: dict[str | tuple[str, ...], set[str]] = {}
    for filename, _line, message, _comments, _context in extract_from_dir(
        str(REPOSITORY), method_map, keywords=keywords
    ):
        key = message if isinstance(message, str) else tuple(message)
        messages.setdefault(key, set()).add(filename)
    return messages


def catalogue(language: str):
    with (TRANSLATIONS_DIR / language / "LC_MESSAGES" / "loyalty.po").open("rb") as po:
        return read_po(po, locale=language)


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_every_string_in_a_template_is_marked_for_translation(path: Path) -> None:
    found = unmarked(path.read_text())
    if path.name in PENDING and "portal" in path.parts:
        assert found, f"{path.name} is translated now: take it off PENDING"
        return
    assert found == [], f"wrap these in _() or ngettext(): {path}"


def test_the_check_finds_an_unmarked_string() -> None:
    """The check above would catch a page that forgot the translation layer."""
    page = (
        '<h1>{{ _("Points history") }}</h1><p class="x">You have {{ n }} points</p>'
        '<nav aria-label="Pages"></nav><p>{{ f.number(n) }} &middot; →</p>'
    )
    assert unmarked(page) == ["Pages", "You have § points"]


def test_the_extraction_finds_the_portal_and_the_emails() -> None:
    messages = extracted()
    assert "Points history" in messages and "Welcome bonus" in messages
    assert ("%(points)s point", "%(points)s points") in messages
    assert any("email_templates" in f for f in messages["Unsubscribe"])


@pytest.mark.parametrize("language", TRANSLATED)
def test_a_shipped_catalogue_translates_every_message(language: str) -> None:
    """Nothing missing, empty or fuzzy, plural forms complete, the same placeholders."""
    po = catalogue(language)
    problems = []
    for key in extracted():
        message = po.get(key if isinstance(key, str) else key[0])
        if message is None or message.fuzzy:
            problems.append(f"missing or fuzzy: {key!r}")
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        expected = set(_PLACEHOLDER.findall(key if isinstance(key, str) else key[-1]))
        if (len(strings) != po.num_plurals and isinstance(key, tuple)) or not all(strings):
            problems.append(f"untranslated: {key!r}")
        for string in strings:
            found = set(_PLACEHOLDER.findall(string))
            # A plural form may leave out the count itself ("once more"), nothing else.
            if not expected - {"%(num)d", "%(num)s"} <= found <= expected:
                problems.append(f"placeholders differ: {key!r} -> {string!r}")
    assert problems == []


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_compiled_catalogue_is_the_catalogue(language: str) -> None:
    """The committed ``.mo`` (what the wheel ships) says what the ``.po`` says."""
    po = catalogue(language)
    with (TRANSLATIONS_DIR / language / "LC_MESSAGES" / "loyalty.mo").open("rb") as mo:
        compiled = read_mo(mo)
    assert _messages(compiled) == _messages(po)


def _messages(catalog) -> dict:
    """``{msgid: msgstr}`` with plurals as tuples (the .mo reader gives lists)."""
    return {
        tuple(m.id) if isinstance(m.id, list | tuple) else m.id: (
            tuple(m.string) if isinstance(m.string, list | tuple) else m.string
        )
        for m in catalog
        if m.id
    }


def test_the_template_catalogue_is_current() -> None:
    """``loyalty.pot`` lists exactly what the code and templates mark."""
    with (TRANSLATIONS_DIR / "loyalty.pot").open("rb") as pot:
        listed = {m.id for m in read_po(pot) if m.id}
    assert listed == set(extracted())


def test_the_wheel_ships_the_compiled_catalogues() -> None:
    declared = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())
    patterns = declared["tool"]["setuptools"]["package-data"]["loyalty_plugin"]
    for language in TRANSLATED:
        assert any(
            (PACKAGE / f"translations/{language}/LC_MESSAGES/loyalty.mo").match(
                str(PACKAGE / pattern)
            )
            for pattern in patterns
        ), language


@pytest.mark.parametrize(
    ("customer", "merchant", "language"),
    [
        ("de_DE", "en", "de"),
        ("sw-KE", "de_DE", "sw"),
        (None, "de_AT", "de"),
        ("fr_FR", "sw_KE", "sw"),  # French is not shipped: the merchant's
        ("fr_FR", "fr_FR", "en"),
        ("nonsense", None, "en"),
    ],
)
def test_the_language_is_the_customers_else_the_merchants(customer, merchant, language) -> None:
    assert language_for(customer, merchant) == language
