"""Rules in plain words: "2 points per €1 on Shoes and its sub-categories, not on gift cards".

Works on a rule as stored in a program version (the validated JSON), so the admin pages,
the exports and the tests all read the same sentence. Nothing here touches a database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

#: Symbols written before the amount; other currencies are written as their code after it.
SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "CHF": "CHF "}
#: How a limit's period reads.
PERIODS = {"ever": "once ever", "year": "a year", "month": "a month", "week": "a week",
           "day": "a day"}  # fmt: skip


def amount(value: Any, currency: str) -> str:
    """``"10.00"``, ``EUR`` → ``€10``; ``"1234.5"`` → ``€1,234.50``."""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    text = f"{number:,.0f}" if number == number.to_integral_value() else f"{number:,.2f}"
    symbol = SYMBOLS.get(currency)
    return f"{symbol}{text}" if symbol else f"{text} {currency}"


def points(value: Any) -> str:
    """``"1"`` → ``1 point``; ``"2.50"`` → ``2.5 points``."""
    try:
        number = Decimal(str(value)).normalize()
    except (InvalidOperation, ValueError):
        return f"{value} points"
    text = f"{number:,f}" if number != number.to_integral_value() else f"{number:,.0f}"
    return f"{text} point" if number == 1 else f"{text} points"


def names(ids: Sequence[str], labels: Mapping[str, str] | None = None) -> str:
    """``["a", "b", "c"]`` → ``a, b and c`` (each id as its label when known)."""
    words = [(labels or {}).get(str(i), str(i)) for i in ids]
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def _categories(ids: Sequence[str], labels: Mapping[str, str] | None) -> str:
    suffix = " and its sub-categories" if len(ids) == 1 else " and their sub-categories"
    return names(ids, labels) + suffix


def exclusions(exclude: Mapping[str, Any] | None, labels: Mapping[str, str] | None = None) -> str:
    """What a rule leaves out, as a clause starting with ``not``; ``""`` when nothing."""
    exclude = exclude or {}
    parts: list[str] = []
    if exclude.get("products"):
        parts.append(names(exclude["products"], labels))
    if exclude.get("categories"):
        parts.append(_categories(exclude["categories"], labels))
    if exclude.get("tags"):
        parts.append(names([t.replace("_", " ") + "s" for t in exclude["tags"]]))
    clause = f"not on {names(parts)}" if parts else ""
    if exclude.get("groups"):
        groups = f"not for customers in {names(exclude['groups'], labels)}"
        clause = f"{clause}; {groups}" if clause else groups
    return clause


def _ratio(rule: Mapping[str, Any], currency: str) -> str:
    return f"{points(rule['points'])} per {amount(rule['per'], currency)}"


def _limit(rule: Mapping[str, Any], default: str) -> str:
    limit = rule.get("limit")
    if not limit:
        return default
    count, per = int(limit["count"]), str(limit["per"])
    if count == 1:
        return PERIODS.get(per, per) if per == "ever" else f"once {PERIODS.get(per, per)}"
    return f"at most {count} times {PERIODS.get(per, per)}".replace("times once ever", "times")


def _selected(rule: Mapping[str, Any], currency: str) -> str:
    if rule.get("points_per_unit") is not None:
        return f"{points(rule['points_per_unit'])} per unit"
    return _ratio(rule, currency)


def _progressive(rule: Mapping[str, Any], currency: str) -> str:
    parts: list[str] = []
    for number, bracket in enumerate(rule.get("brackets") or []):
        rate = _ratio(bracket, currency)
        up_to = bracket.get("up_to")
        head = "" if number == 0 else "then "
        parts.append(f"{head}{rate}" + (f" up to {amount(up_to, currency)}" if up_to else ""))
    return ", ".join(parts) + " of the order"


def _segmented(rule: Mapping[str, Any], currency: str) -> str:
    parts = []
    for bracket in rule.get("brackets") or []:
        start, end = amount(bracket["from"], currency), bracket.get("to")
        span = f"from {start} to under {amount(end, currency)}" if end else f"from {start} up"
        parts.append(f"{points(bracket['points'])} for an order {span}")
    return "; ".join(parts)


def describe_rule(
    rule: Mapping[str, Any], *, currency: str, labels: Mapping[str, str] | None = None
) -> str:
    """The rule in one sentence, with its exclusions and limit; ``labels`` names ids."""
    kind = rule.get("kind")
    text: str
    if kind == "per_amount":
        text = f"{_ratio(rule, currency)} spent"
    elif kind == "transaction_fee":
        text = f"{_ratio(rule, currency)} of the transaction fee"
    elif kind == "product":
        text = f"{_selected(rule, currency)} on {names(rule.get('products') or [], labels)}"
    elif kind == "category":
        cats = _categories(rule.get("categories") or [], labels)
        text = f"{_selected(rule, currency)} on {cats}"
    elif kind == "per_order":
        text = f"{points(rule['points'])} on every order"
    elif kind == "first_purchase":
        text = f"{points(rule['points'])} on a customer's first order"
    elif kind == "progressive":
        text = _progressive(rule, currency)
    elif kind == "segmented":
        text = _segmented(rule, currency)
    elif kind == "registration":
        text = f"{points(rule['points'])} when a customer registers ({_limit(rule, 'once ever')})"
    elif kind == "birthday":
        text = (
            f"{points(rule['points'])} on the customer's birthday ({_limit(rule, 'once a year')})"
        )
    elif kind == "custom_event":
        when = ", ".join(f"{k} = {v}" for k, v in (rule.get("when") or {}).items())
        event = f"a “{rule.get('name', '')}” event" + (f" with {when}" if when else "")
        text = f"{points(rule['points'])} for {event} ({_limit(rule, 'once ever')})"
    else:
        text = f"a {kind} rule (from a plugin)"
    text = _with_credit(text, rule.get("reward"), currency)
    clause = exclusions(rule.get("exclude"), labels)
    text = f"{text}, {clause}" if clause else text
    only = conditions(rule.get("conditions"), labels)
    return f"{text}; {only}" if only else text


def _with_credit(text: str, reward: Mapping[str, Any] | None, currency: str) -> str:
    """The rule's store credit reward (issue #19) added to its sentence."""
    if not reward:
        return text
    if reward.get("credit_percent") is not None:
        credit = f"{Decimal(str(reward['credit_percent'])).normalize():f}% back in store credit"
    else:
        credit = f"{amount(reward.get('credit_amount'), currency)} of store credit"
    if reward.get("instead_of_points"):
        return f"{credit} instead of {text}"
    return f"{text}, and {credit}"


def conditions(config: Mapping[str, Any] | None, labels: Mapping[str, str] | None = None) -> str:
    """A rule's conditions as a clause starting with ``only``; ``""`` when none."""
    config = config or {}
    when, where = config.get("when") or {}, config.get("where") or {}
    who, what = config.get("who") or {}, config.get("what") or {}
    parts: list[str] = []
    dates = when.get("dates") or {}
    if dates.get("from") or dates.get("to"):
        parts.append(f"from {dates.get('from') or 'the start'} to {dates.get('to') or 'the end'}")
    if when.get("weekdays"):
        parts.append(f"on {names(when['weekdays'])}")
    if when.get("hours"):
        parts.append("at " + names([f"{h['from']}-{h['to']}" for h in when["hours"]]))
    stores = list(where.get("stores") or []) + [
        f"group {g}" for g in where.get("store_groups") or []
    ]
    if stores:
        parts.append(f"in store {names(stores)}")
    if config.get("channels"):
        parts.append(f"through {names(config['channels'])}")
    for key, word in (("groups", "group"), ("levels", "level"), ("tags", "tag")):
        if who.get(key):
            parts.append(f"for customer {word} {names(who[key])}")
    if who.get("registered_within_days"):
        parts.append(f"in the first {who['registered_within_days']} days after registering")
    if who.get("inactive_days"):
        parts.append(f"after {who['inactive_days']} days without a purchase")
    lines = list(what.get("products") or []) + list(what.get("categories") or [])
    lines += [f"tag {t}" for t in what.get("tags") or []]
    if lines:
        parts.append(f"on {names(lines, labels)}")
    return f"only {', '.join(parts)}" if parts else ""


__all__ = ["amount", "conditions", "describe_rule", "exclusions", "names", "points"]
