"""The languages the portal and the default e-mails are written in, and their catalogues.

One gettext domain, ``loyalty``, with a catalogue per language under
``loyalty_plugin/translations/<lang>/LC_MESSAGES/loyalty.po`` (compiled to ``.mo`` beside
it, shipped in the wheel). English is the source language and needs no catalogue. Which
language a customer reads: their own locale when the host sent one and we ship its
language, else the merchant's, else English (:func:`language_for`). Free of Flask: the
e-mails render in jobs; the portal reaches the same catalogues through Flask-Babel
(``web/i18n.py``).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.support import NullTranslations, Translations

#: The gettext domain (file name of the catalogues).
DOMAIN = "loyalty"
#: Where the catalogues live.
TRANSLATIONS_DIR = Path(__file__).parent / "translations"
#: English first: the language of the source text and the last fallback.
LANGUAGES = ("en", "de", "sw")


def N_(message: str) -> str:
    """Mark ``message`` for the catalogues; it is translated where it is shown."""
    return message


def language_of(locale: str | None) -> str | None:
    """The shipped language of a locale (``de_AT`` -> ``de``), or ``None``."""
    if not locale:
        return None
    try:
        language = Locale.parse(locale.replace("-", "_")).language
    except (ValueError, UnknownLocaleError):
        return None
    return language if language in LANGUAGES else None


def language_for(*locales: str | None) -> str:
    """The first of ``locales`` (customer's, then merchant's) we ship, else English."""
    return next((lang for lang in map(language_of, locales) if lang), LANGUAGES[0])


@cache
def translations(language: str) -> NullTranslations:
    """The compiled catalogue of ``language`` (English: the source text as it is)."""
    if language == LANGUAGES[0]:
        return NullTranslations()
    return Translations.load(str(TRANSLATIONS_DIR), [language], DOMAIN)
