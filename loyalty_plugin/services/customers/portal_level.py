"""The portal's level page: the level held, what counts toward the next, and its history.

History rows keep the engine's reasons ("upgrade", "below threshold", "given: <staff
note>"); :func:`why` turns each into words for the customer and never shows a staff note.
Nothing here knows of Flask.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.levels import Downgrade, LevelScheme, Measure, Period
from loyalty_plugin.i18n import N_
from loyalty_plugin.models import Customer, LevelHistory
from loyalty_plugin.services.customers.portal import LevelView, level_view
from loyalty_plugin.services.customers.statements import account_of, standing
from loyalty_plugin.services.levels import memberships as levels

#: History rows shown, newest first.
HISTORY_SHOWN = 50


@dataclass(frozen=True, kw_only=True)
class LevelMove:
    """One change of level, in words."""

    at: datetime
    from_name: str | None
    to_name: str
    why: str
    up: bool


@dataclass(frozen=True, kw_only=True)
class LevelPage:
    """Everything the level page shows."""

    view: LevelView
    #: ``money`` or ``points``; ``lifetime``, ``rolling`` or ``calendar_year`` (and its days).
    measure: Measure
    period: Period
    days: int
    downgrade: Downgrade
    history: list[LevelMove]


def level_page(session: Session, customer: Customer, *, now: datetime) -> LevelPage | None:
    """The customer's level page, or ``None`` when the merchant has no levels."""
    position = standing(session, customer, now=now)
    view = level_view(session, customer.merchant_id, position.level, now=now)
    programs = levels.level_programs(session, at=now, merchant_id=customer.merchant_id)
    if view is None or not programs:
        return None
    program = programs[0]
    account = account_of(session, customer)
    rows = (
        []
        if account is None
        else session.scalars(
            select(LevelHistory)
            .where(LevelHistory.account_id == account.id)
            .order_by(LevelHistory.id.desc())
            .limit(HISTORY_SHOWN)
        ).all()
    )
    scheme = program.scheme
    return LevelPage(
        view=view,
        measure=scheme.measure,
        period=scheme.period,
        days=scheme.days,
        downgrade=scheme.downgrade,
        history=[_move(scheme, row) for row in rows],
    )


def why(reason: str, measure: Measure) -> str:
    """A history row's reason as the customer reads it (in English, marked for the
    translation layer: the page shows it through ``_()``)."""
    if "carried over" in reason:
        return N_("Carried over from a membership merged into yours")
    if reason.startswith("given:"):
        return N_("Given to you by our team")
    if reason == "bought level ended":
        return N_("Your bought membership ended")
    if reason.endswith("level ended"):
        return N_("The level given to you ended")
    money = measure == Measure.MONEY
    words = {
        "qualified": N_("Reached with your purchases")
        if money
        else N_("Reached with your points earned"),
        "new version": N_("Our levels changed"),
        "below threshold": (
            N_("Your purchases fell below what the level needs")
            if money
            else N_("Your points earned fell below what the level needs")
        ),
        "review": N_("Level review"),
        "bought": N_("Bought with points"),
        "bought (extended)": N_("Extended with points"),
    }
    words["upgrade"] = words["qualified"]
    return words.get(reason, N_("Level changed"))


def _move(scheme: LevelScheme, row: LevelHistory) -> LevelMove:
    def name(key: str | None) -> str | None:
        if key is None:
            return None
        level = scheme.level(key)
        return level.name if level else key.replace("_", " ").capitalize()

    up = row.from_level is None or scheme.rank(row.to_level) > scheme.rank(row.from_level)
    return LevelMove(
        at=row.at,
        from_name=name(row.from_level),
        to_name=name(row.to_level) or row.to_level,
        why=why(row.reason, scheme.measure),
        up=up,
    )
