"""The portal's translations through Flask-Babel, in the customer's language.

The plugin has its own gettext domain (``loyalty``, :mod:`loyalty_plugin.i18n`), so a host
app with Flask-Babel of its own keeps its catalogues, its locale selector and its Jinja
callables: the portal's templates get ``_``, ``gettext`` and ``ngettext`` from the portal's
context processor, bound to our domain and to the language chosen for the signed-in
customer (``g.portal_language``), whatever the host would choose.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, g
from flask_babel import Babel, Domain, force_locale
from jinja2 import pass_eval_context
from jinja2.nodes import EvalContext
from markupsafe import Markup

from loyalty_plugin.i18n import DOMAIN, LANGUAGES, TRANSLATIONS_DIR

#: Our catalogues, apart from any the host has.
domain = Domain(str(TRANSLATIONS_DIR), domain=DOMAIN)


def init_app(app: Flask) -> None:
    """Give the app Flask-Babel if the host has not (its own configuration wins)."""
    if "babel" not in app.extensions:
        Babel(app, configure_jinja=False)


def language() -> str:
    """The language of this request's portal page (English before a customer is known)."""
    return str(g.get("portal_language") or LANGUAGES[0])


def gettext(message: str, **variables: Any) -> str:
    """``message`` in the portal's language, formatted with ``variables``."""
    with force_locale(language()):
        return domain.gettext(message, **variables)


def ngettext(singular: str, plural: str, count: Any, /, **variables: Any) -> str:
    """The singular or plural (by the language's rules for ``count``), formatted; ``num``
    is the count unless given (formatted: ``num=f.number(n)``)."""
    with force_locale(language()):
        text = domain.get_translations().ungettext(singular, plural, _count(count))
    return text % ({"num": count} | variables)


@pass_eval_context
def _template_gettext(ctx: EvalContext, message: str, **variables: Any) -> str:
    with force_locale(language()):
        text = domain.get_translations().ugettext(message)
    return _formatted(ctx, text, variables)


@pass_eval_context
def _template_ngettext(
    ctx: EvalContext, singular: str, plural: str, count: Any, /, **variables: Any
) -> str:
    with force_locale(language()):
        text = domain.get_translations().ungettext(singular, plural, _count(count))
    return _formatted(ctx, text, {"num": count} | variables)


def _count(num: Any) -> int:
    """An amount as gettext's plural rules take it: whole numbers as they are (a
    ``Decimal("750")`` is 750), a fraction as "many" (1.5 points are "points")."""
    whole = int(num)
    return whole if whole == num else 2


def _formatted(ctx: EvalContext, text: str, variables: dict[str, Any]) -> str:
    """As Jinja's own newstyle gettext: in HTML the catalogue's text is markup and the
    variables are escaped (unless already ``Markup``)."""
    if ctx.autoescape:
        text = Markup(text)  # noqa: S704 (our catalogues, as Jinja's newstyle gettext trusts)
    return text % variables if variables else text


def template_context() -> dict[str, Any]:
    """``_``, ``gettext`` and ``ngettext`` for the portal's templates."""
    return {
        "_": _template_gettext,
        "gettext": _template_gettext,
        "ngettext": _template_ngettext,
        "language": language(),
    }
