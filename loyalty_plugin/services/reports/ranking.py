"""The aging report's rankings of accounts and cards, from the kept points per account.

The ``roll-up-reports`` job keeps the points left in each account's lots up to the
watermark (``report_account_points``). An account's open points are that figure, plus
what the lots created and the allocations written after the watermark changed, less what
is left in its lots past their expiry that the expiry job has not expired yet: the
**changes**, read at each request (a short tail and a few overdue lots). An account
without changes is exactly its kept figure, so a page is the best of the first accounts of
the kept ranking (read in index order, as many more as there are changed accounts) and
of the changed accounts, worked out exactly. Nothing here sums every open lot.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    func,
    literal,
    literal_column,
    select,
    union,
    union_all,
)
from sqlalchemy.orm import Session

from loyalty_plugin.models import Account, Customer, Lot, ReportAccountPoints, ReportRollup
from loyalty_plugin.services.ledger.units import points_only
from loyalty_plugin.services.reports.calendar import instant
from loyalty_plugin.services.reports.rollup import account_points_after

KEPT = ReportAccountPoints
#: Attempts at a ranking that the job's roll-up keeps moving under (it moves rarely).
ATTEMPTS = 10


@dataclass(frozen=True)
class Ranked:
    """One ranked row: an account id or a card number (``None``: no card), its name."""

    key: Any
    total: int
    name: str | None = None


@dataclass(frozen=True)
class _Changed:
    """An account the changes touched: its open points now, its kept figure, its customer."""

    total: int
    kept: int
    card: str | None
    host_id: str


@dataclass(frozen=True)
class Pinned:
    """The merchant's watermark when the ranking began (``None``: nothing kept in its zone).

    The kept rows and the watermark move together in one transaction of the job, and the
    watermark only grows: when the last statement of a ranking still sees ``mark``, every
    statement before it saw the kept rows as of ``mark``.
    """

    merchant_id: str
    zone: str
    mark: int | None

    def rows(self) -> ColumnElement[bool]:
        """The merchant's kept rows, if they count."""
        # A bound flag rather than false(): and_() would fold false() into the whole
        # condition, and a join on it would lose its columns (a cross join on MariaDB).
        return and_(KEPT.merchant_id == self.merchant_id, literal(self.mark is not None))

    def still(self) -> ColumnElement[bool]:
        """True while the watermark is still ``mark`` (a column of the last statement)."""
        now = select(ReportRollup.entry_id).where(
            ReportRollup.merchant_id == self.merchant_id, ReportRollup.zone == self.zone
        )
        if self.mark is None:
            return ~now.exists()
        return func.coalesce(now.scalar_subquery(), -1) == literal(self.mark)


def pin_watermark(session: Session, merchant_id: str, zone: str) -> Pinned:
    """The merchant's watermark now, if its totals are counted in ``zone``."""
    mark = session.scalar(
        select(ReportRollup.entry_id).where(
            ReportRollup.merchant_id == merchant_id, ReportRollup.zone == zone
        )
    )
    return Pinned(merchant_id, zone, None if mark is None else int(mark))


def open_changes(pinned: Pinned, now: datetime) -> Select[Any]:
    """Per account (one row or more each), what its open points differ from its kept
    figure by: the lots and allocations after the watermark, less the overdue lots."""
    tail = account_points_after(pinned.merchant_id, literal(pinned.mark or 0)).subquery("tail")
    overdue = select(Lot.account_id.label("account_id"), (-Lot.remaining).label("points")).where(
        Lot.merchant_id == pinned.merchant_id,
        points_only(Lot),
        Lot.holds_points,  # a literal 0: PostgreSQL's partial index matches
        Lot.expires_at <= instant(now),
    )
    both = union_all(select(tail.c.account_id, tail.c.points), overdue).subquery("both")
    return select(both.c.account_id, both.c.points)


def _changed(session: Session, pinned: Pinned, now: datetime) -> dict[int, _Changed]:
    """The accounts the changes touched, with their exact open points (one statement)."""
    changes = open_changes(pinned, now).cte("changes")
    rows = union_all(
        select(KEPT.account_id.label("account_id"), KEPT.points.label("points"),
               KEPT.points.label("kept"))
        .where(pinned.rows(), KEPT.account_id.in_(select(changes.c.account_id))),
        select(changes.c.account_id, changes.c.points, literal(0)),
    ).subquery("rows")  # fmt: skip
    per_account = (
        select(
            rows.c.account_id,
            func.sum(rows.c.points).label("total"),
            func.sum(rows.c.kept).label("kept"),
        )
        .group_by(rows.c.account_id)
        .subquery("per_account")
    )
    query = (
        select(per_account, Customer.card_number, Customer.host_customer_id)
        .join(Account, Account.id == per_account.c.account_id)
        .join(Customer, Customer.id == Account.customer_id)
    )
    return {
        int(account): _Changed(int(total), int(kept), card, host_id)
        for account, total, kept, card, host_id in session.execute(query)
    }


def _holding(changed: list[_Changed], kept_count: int) -> int:
    """Accounts holding open points: those kept holding, corrected for the changed ones."""
    return (
        kept_count - sum(1 for c in changed if c.kept > 0) + sum(1 for c in changed if c.total > 0)
    )


def _held(pinned: Pinned) -> Any:
    """How many kept accounts hold points, as a scalar."""
    return select(func.count()).where(pinned.rows(), KEPT.points > literal_column("0"))


Ranking = tuple[list[Ranked], int]


def _stable(
    session: Session,
    merchant_id: str,
    zone: str,
    ranking: Callable[[Pinned], tuple[Ranking, bool]],
) -> Ranking:
    """``ranking`` at a pinned watermark, again if the job moved it meanwhile."""
    for _attempt in range(ATTEMPTS):
        result, still = ranking(pin_watermark(session, merchant_id, zone))
        if still:
            break
    return result


def ranked_accounts(
    session: Session, *, merchant_id: str, zone: str, now: datetime, page: int, size: int
) -> Ranking:
    """One page of accounts ranked by their open points (biggest first, then by id), and
    how many accounts hold open points.

    Four statements: the watermark, the changed accounts, the first of the kept ranking
    (as many more as were changed), and the count.
    """
    return _stable(
        session,
        merchant_id,
        zone,
        lambda pinned: _ranked_accounts(session, pinned, now=now, page=page, size=size),
    )


def ranked_cards(
    session: Session, *, merchant_id: str, zone: str, now: datetime, page: int, size: int
) -> Ranking:
    """One page of cards ranked by their open points (biggest first, then by number; the
    customers without a card share one row, last among equals), and how many rows there are.

    Four statements: the watermark, the changed accounts, the first carded accounts of the
    kept ranking (and every one as big as the last of them), and the customers without a
    card (found through the customers' card index) with the count.
    """
    return _stable(
        session,
        merchant_id,
        zone,
        lambda pinned: _ranked_cards(session, pinned, now=now, page=page, size=size),
    )


def _ranked_accounts(
    session: Session, pinned: Pinned, *, now: datetime, page: int, size: int
) -> tuple[Ranking, bool]:
    changed = _changed(session, pinned, now)
    top = session.execute(
        select(KEPT.account_id, KEPT.points)
        .where(pinned.rows(), KEPT.points > literal_column("0"))
        .order_by(KEPT.points.desc(), KEPT.account_id)
        .limit(page * size + len(changed))
    ).all()
    held, still = session.execute(select(_held(pinned).scalar_subquery(), pinned.still())).one()
    best = [Ranked(int(a), int(points)) for a, points in top if a not in changed]
    best += [Ranked(a, c.total) for a, c in changed.items() if c.total > 0]
    best.sort(key=lambda row: (-row.total, row.key))
    count = _holding(list(changed.values()), int(held))
    return (best[(page - 1) * size : page * size], count), bool(still)


def _ranked_cards(
    session: Session, pinned: Pinned, *, now: datetime, page: int, size: int
) -> tuple[Ranking, bool]:
    changed = _changed(session, pinned, now)
    carded = (
        select(KEPT.account_id, KEPT.points, Customer.card_number, Customer.host_customer_id)
        .join(Account, Account.id == KEPT.account_id)
        .join(Customer, Customer.id == Account.customer_id)
        .where(pinned.rows(), KEPT.points > literal_column("0"), Customer.card_number.is_not(None))
    )
    top = (
        carded.order_by(KEPT.points.desc(), KEPT.account_id)
        .limit(page * size + len(changed))
        .cte("top")
    )
    # Every card as big as the last one read: their numbers decide the order among them.
    ties = carded.where(KEPT.points == select(func.min(top.c.points)).scalar_subquery())
    found = session.execute(union(select(top), ties)).all()
    best = [Ranked(card, int(points), host) for a, points, card, host in found if a not in changed]
    best += [Ranked(c.card, c.total, c.host_id) for c in changed.values() if c.card and c.total > 0]
    none, held, still = _without_card(session, pinned, now, changed)
    if none.total > 0:
        best.append(none)
    best.sort(key=lambda row: (-row.total, row.key is None, row.key or ""))
    holding = _holding(list(changed.values()), held) - none.accounts + (1 if none.total else 0)
    return (best[(page - 1) * size : page * size], holding), still


@dataclass(frozen=True)
class _NoCard(Ranked):
    #: Accounts without a card that hold open points.
    accounts: int = 0


def _without_card(
    session: Session, pinned: Pinned, now: datetime, changed: dict[int, _Changed]
) -> tuple[_NoCard, int, bool]:
    """The customers without a card as one row (their open points, the first customer
    id), how many kept accounts hold points, and whether the watermark stayed put."""
    changes = open_changes(pinned, now).subquery("changes")
    holding = KEPT.points > literal_column("0")
    unchanged = and_(holding, KEPT.account_id.not_in(select(changes.c.account_id)))
    points, count, first, held, still = session.execute(
        select(
            func.coalesce(func.sum(KEPT.points), 0),
            func.count(),
            func.min(case((unchanged, Customer.host_customer_id), else_=None)),
            _held(pinned).scalar_subquery(),
            pinned.still(),
        )
        .select_from(Customer)
        .join(Account, Account.customer_id == Customer.id)
        .join(KEPT, and_(KEPT.account_id == Account.id, pinned.rows()))
        .where(Customer.merchant_id == pinned.merchant_id, Customer.card_number.is_(None), holding)
    ).one()
    mine = [c for c in changed.values() if c.card is None]
    total = int(points) - sum(c.kept for c in mine) + sum(c.total for c in mine)
    hosts = [h for h in (first, *(c.host_id for c in mine if c.total > 0)) if h is not None]
    row = _NoCard(
        key=None,
        total=total,
        name=min(hosts) if hosts else None,
        accounts=_holding(mine, int(count)),
    )
    return row, int(held), bool(still)
