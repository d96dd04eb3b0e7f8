"""What one earning call shares and tallies: its session, clock and actor, and the outcome.

Used by the points (:mod:`.by_program`) and the store credit (:mod:`.credit`) writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from loyalty_plugin.domain.money import from_minor
from loyalty_plugin.domain.programs import ProgramDefinition


@dataclass
class Outcome:
    """What an event did to the points: per program, and in total."""

    points_earned: int = 0
    points_reversed: int = 0
    #: Of the points reversed, those recorded as debt (the customer had too few left).
    points_owed: int = 0
    #: Points a reversal called for but could not take (spent), forgiven by the policy.
    points_forgiven: int = 0
    entry_ids: list[int] = field(default_factory=list)
    programs: list[dict[str, Any]] = field(default_factory=list)
    #: True when a program that earned on the invoice lets the part paid with points earn.
    points_payments_counted: bool = False
    #: Why nothing was earned, when nothing was.
    reason: str | None = None
    #: Store credit per currency, in minor units: ``{"EUR": {"earned": 1000, ...}}``.
    credit: dict[str, dict[str, int]] = field(default_factory=dict)
    #: Why a program's credit reward gave no credit (the wallet, the currency).
    credit_reason: str | None = None

    def count_credit(self, unit: str, what: str, minor: int) -> None:
        """Add ``minor`` units of ``unit`` to the tally ``what`` (earned, reversed, ...)."""
        tally = self.credit.setdefault(unit, {"earned": 0, "reversed": 0})
        tally[what] = tally.get(what, 0) + minor

    def record(self, program: ProgramDefinition, *, earned: int = 0, reversed_: int = 0) -> None:
        if earned or reversed_:
            self.points_earned += earned
            self.points_reversed += reversed_
            self.programs.append(
                {
                    "program": program.key,
                    "version": program.version,
                    "points_earned": earned,
                    "points_reversed": reversed_,
                }
            )

    def to_dict(self) -> dict[str, Any]:
        """As a webhook answer's ``result`` shows it."""
        answer = {
            "points_earned": self.points_earned,
            "points_reversed": self.points_reversed,
            "entry_ids": list(self.entry_ids),
            "programs": list(self.programs),
        }
        if not self.points_earned and self.reason:
            answer["reason"] = self.reason
        return (
            answer
            | ({"points_owed": self.points_owed} if self.points_owed else {})
            | ({"points_forgiven": self.points_forgiven} if self.points_forgiven else {})
            | ({"credit": self.credit_list()} if self.credit else {})
            | ({"credit_reason": self.credit_reason} if self.credit_reason else {})
        )

    def credit_list(self) -> list[dict[str, str]]:
        """The credit tally as money: ``[{"currency": "EUR", "earned": "10.00", ...}]``."""
        return [
            {"currency": unit} | {what: str(from_minor(n, unit)) for what, n in tally.items()}
            for unit, tally in sorted(self.credit.items())
        ]


@dataclass(frozen=True)
class EarningWork:
    """What every write of one call shares: the session, the clock, who, and the tally."""

    session: Session
    now: datetime
    actor: str
    outcome: Outcome
    #: The invoice was created in this transaction: its first earn keys are new.
    new_invoice: bool = False
