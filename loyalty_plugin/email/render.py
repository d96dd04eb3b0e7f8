"""Rendering merchant-editable templates in Jinja's sandbox, and checking an edit first.

Templates a merchant edits are untrusted input. They render in
:class:`~jinja2.sandbox.ImmutableSandboxedEnvironment` (no access to ``_private``
attributes, no mutation of the context), with ``StrictUndefined`` so a misspelt name is an
error rather than a blank. The only template an HTML part can load is the shipped layout,
``{% extends "layout.html" %}`` (:data:`LAYOUT`); nothing else can be included, imported
or extended. Before an edit is saved, :func:`check_template` refuses it, with the line and
the reason, if it does not parse, uses a variable or attribute its template does not
document, loads another template, or fails to render with sample data. Jinja releases
before 3.1.6 have known sandbox escapes; importing this module with one of them fails.

Filters for people's numbers, in the merchant's locale (Babel): ``number``, ``money``
(``{{ amount|money }}`` or ``{{ amount|money("USD") }}``), ``date`` (``{{ expires_on|date }}``,
``date("short")``) and ``datetime``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from functools import cache
from types import TracebackType
from typing import Any

import jinja2
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal
from jinja2 import FunctionLoader, StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from loyalty_plugin.domain.errors import ValidationError
from loyalty_plugin.domain.notifications import Category
from loyalty_plugin.email.templates import DEFAULTS_DIR, PARTS, Sources, TemplateSpec
from loyalty_plugin.i18n import translations

#: The oldest Jinja whose sandbox has no known escape.
MIN_JINJA = (3, 1, 6)
#: The translation functions every template may call, and its language (``de``).
GETTEXT = frozenset({"_", "gettext", "ngettext", "pgettext", "npgettext", "language"})
#: Longest source accepted for one part of a template.
MAX_SOURCE = 100_000
#: The name HTML parts extend to get the shared e-mail layout, and where its file is.
LAYOUT = "layout.html"
LAYOUT_FILE = DEFAULTS_DIR / "_shared" / LAYOUT

if tuple(int(p) for p in jinja2.__version__.split(".")[:3] if p.isdigit()) < MIN_JINJA:
    raise ImportError(f"Jinja2 {jinja2.__version__} has known sandbox escapes; install >= 3.1.6")


@dataclass(frozen=True, slots=True)
class Problem:
    """Why an edit is refused: which part, which line (if known), and the reason."""

    part: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = self.part.replace("_", " ") + (f", line {self.line}" if self.line else "")
        return f"{where}: {self.reason}"


class TemplateRejected(ValidationError):
    """A template edit that cannot be saved; ``problems`` says where and why."""

    code = "invalid_template"

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems), field=problems[0].part)
        self.problems = problems

    def to_dict(self) -> dict[str, object]:
        fields: dict[str, list[str]] = {}
        for problem in self.problems:
            fields.setdefault(problem.part, []).append(str(problem))
        return {"code": self.code, "message": self.message, "fields": fields}


@dataclass(frozen=True, slots=True)
class Formatting:
    """How numbers, money and dates are written: the merchant's locale, currency, zone."""

    locale: str = "en"
    currency: str = "EUR"
    tz: tzinfo = UTC
    #: The language of the default templates' text (``loyalty_plugin/i18n.py``).
    language: str = "en"


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    """A rendered e-mail: a one-line subject, a text part and an HTML part."""

    subject: str
    text: str
    html: str


def environment(fmt: Formatting, *, html: bool) -> ImmutableSandboxedEnvironment:
    """A sandbox for one part: HTML parts autoescape and may extend :data:`LAYOUT`."""
    env = ImmutableSandboxedEnvironment(
        autoescape=html,
        undefined=StrictUndefined,
        finalize=_blank_none,
        keep_trailing_newline=True,
        loader=FunctionLoader(_load_layout) if html else None,
        extensions=["jinja2.ext.i18n"],
    )
    env.filters.update(_filters(fmt))
    # ``{{ _("...") }}`` and ``{{ ngettext(...) }}`` in the customer's language.
    env.install_gettext_translations(translations(fmt.language), newstyle=True)  # type: ignore[attr-defined]
    env.globals["language"] = fmt.language
    return env


def render(
    spec: TemplateSpec, sources: Sources, context: dict[str, Any], fmt: Formatting
) -> RenderedEmail:
    """Render the three parts with ``context`` (errors propagate)."""
    text_env = environment(fmt, html=False)
    subject = text_env.from_string(sources.subject).render(context)
    return RenderedEmail(
        subject=" ".join(subject.split()),
        text=text_env.from_string(sources.body_text).render(context),
        html=environment(fmt, html=True).from_string(sources.body_html).render(context),
    )


def check_template(
    spec: TemplateSpec, sources: Sources, fmt: Formatting | None = None
) -> list[Problem]:
    """Every reason to refuse ``sources`` for ``spec`` (empty: the edit is fine)."""
    fmt = fmt or Formatting()
    problems: list[Problem] = []
    for part in PARTS:
        source = getattr(sources, part)
        problems += _check_part(spec, part, source, environment(fmt, html=part == "body_html"))
    if not problems:
        problems += _check_render(spec, sources, fmt)
    return problems


def _check_part(
    spec: TemplateSpec, part: str, source: str, env: ImmutableSandboxedEnvironment
) -> list[Problem]:
    if not isinstance(source, str) or not source.strip():
        return [Problem(part, None, "must not be empty")]
    if len(source) > MAX_SOURCE:
        return [Problem(part, None, f"is longer than {MAX_SOURCE:,} characters")]
    if part == "subject" and "\n" in source.strip():
        return [Problem(part, 2, "the subject must be one line")]
    try:
        tree = env.parse(source)
        env.from_string(source)  # compiling also checks that every filter and test exists
    except TemplateSyntaxError as error:
        return [Problem(part, error.lineno, error.message or "syntax error")]
    problems = _names(spec, part, tree) + _attributes(spec, part, tree) + _imports(part, tree)
    if spec.category == Category.MARKETING and part != "subject" and not _links_unsubscribe(tree):
        problems.append(
            Problem(part, None, "marketing e-mails must include {{ links.unsubscribe }}")
        )
    return problems


def _names(spec: TemplateSpec, part: str, tree: nodes.Template) -> list[Problem]:
    unknown = meta.find_undeclared_variables(tree) - spec.variable_names - GETTEXT
    known = ", ".join(sorted(spec.variable_names))
    return [
        Problem(part, _line_of(tree, name), f"unknown variable {name!r} (available: {known})")
        for name in sorted(unknown)
    ]


def _attributes(spec: TemplateSpec, part: str, tree: nodes.Template) -> list[Problem]:
    problems = []
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        attr = node.attr if isinstance(node, nodes.Getattr) else _constant(node.arg)
        if attr is None:
            continue
        if attr.startswith("_"):
            problems.append(Problem(part, node.lineno, f"access to {attr!r} is not allowed"))
            continue
        if isinstance(node.node, nodes.Name) and node.node.name in spec.variable_names:
            name, fields = node.node.name, spec.fields_of(node.node.name)
            if attr not in fields:
                listed = f" (it has: {', '.join(fields)})" if fields else ""
                problems.append(
                    Problem(part, node.lineno, f"{name!r} has no attribute {attr!r}{listed}")
                )
    return problems


def _imports(part: str, tree: nodes.Template) -> list[Problem]:
    """Refuse loading other templates; an HTML part may only extend the shared layout."""
    found = tree.find_all((nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport))
    return [
        Problem(part, node.lineno, _import_refusal(part))
        for node in found
        if not (part == "body_html" and _extends_layout(node))
    ]


def _import_refusal(part: str) -> str:
    if part == "body_html":
        return f'e-mail templates cannot include or import others, only extend "{LAYOUT}"'
    return "e-mail templates cannot extend, include or import others"


def _extends_layout(node: nodes.Node) -> bool:
    return isinstance(node, nodes.Extends) and _constant(node.template) == LAYOUT


@cache
def _layout_source() -> str:
    return LAYOUT_FILE.read_text("utf-8")


def _load_layout(name: str) -> str | None:
    """The loader of the HTML sandbox: it knows the shipped layout and nothing else."""
    return _layout_source() if name == LAYOUT else None


def _links_unsubscribe(tree: nodes.Template) -> bool:
    return any(
        isinstance(node.node, nodes.Name) and node.node.name == "links"
        for node in tree.find_all(nodes.Getattr)
        if node.attr == "unsubscribe"
    )


def _check_render(spec: TemplateSpec, sources: Sources, fmt: Formatting) -> list[Problem]:
    """Render each part with the sample data: catches errors only running can show."""
    context = spec.sample_context()
    problems = []
    for part in PARTS:
        env = environment(fmt, html=part == "body_html")
        try:
            result = env.from_string(getattr(sources, part)).render(context)
        except Exception as error:
            reason = f"{type(error).__name__}: {error}"
            problems.append(Problem(part, _template_line(error.__traceback__), reason))
            continue
        if part == "subject" and not result.strip():
            problems.append(Problem(part, 1, "the subject renders empty"))
    return problems


def _line_of(tree: nodes.Template, name: str) -> int | None:
    return next((n.lineno for n in tree.find_all(nodes.Name) if n.name == name), None)


def _constant(node: nodes.Node) -> str | None:
    value = node.value if isinstance(node, nodes.Const) else None
    return value if isinstance(value, str) else None


def _template_line(tb: TracebackType | None) -> int | None:
    """The template line an error happened on (Jinja rewrites tracebacks to show it)."""
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _blank_none(value: Any) -> Any:
    return "" if value is None else value


def _filters(fmt: Formatting) -> dict[str, Callable[..., str]]:
    def number(value: Any) -> str:
        return "" if value is None else format_decimal(_decimal(value), locale=fmt.locale)

    def money(value: Any, currency: str | None = None) -> str:
        if value is None:
            return ""
        return format_currency(_decimal(value), currency or fmt.currency, locale=fmt.locale)

    def date_filter(value: Any, format: str = "long") -> str:
        if value is None:
            return ""
        day = value.astimezone(fmt.tz).date() if isinstance(value, datetime) else value
        if not isinstance(day, date):
            raise TypeError("the date filter needs a date")
        return format_date(day, format=format, locale=fmt.locale)

    def datetime_filter(value: Any, format: str = "medium") -> str:
        if value is None:
            return ""
        if not isinstance(value, datetime):
            raise TypeError("the datetime filter needs a date and time")
        return format_datetime(value, format=format, tzinfo=fmt.tz, locale=fmt.locale)

    return {"number": number, "money": money, "date": date_filter, "datetime": datetime_filter}


def _decimal(value: Any) -> Decimal | int:
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise TypeError(f"expected a number, got {type(value).__name__}")
    return value if isinstance(value, int) else Decimal(value)
