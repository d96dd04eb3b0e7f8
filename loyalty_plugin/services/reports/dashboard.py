"""The merchant's dashboard for a period: points per week, liability, expiry, rates, top customers.

Seven queries whatever the data size, each computed by the database: the merchant, its
settings, the weekly sums, the open points, the outstanding store credit, the repeat
orders, and the top customers.
Definitions (docs/admin.md says the same to merchants):

* **issued**: ``earn`` and ``migration`` entries and credit adjustments;
  **redeemed**: ``redeem`` and ``hold`` entries, less ``release`` entries;
  **expired**: ``expire`` entries; **corrections**: reversals, debit adjustments,
  transfers and merges, with their sign. A week is Monday to Sunday in the merchant's time zone.
* **outstanding**: the points left in lots that have not reached their expiry date, and
  the **liability**, their value at the merchant's point value (``conversion_amount`` per
  ``conversion_points``), in the merchant's currency.
* **store credit** (#19): the credit left in credit lots that have not reached their
  expiry, per currency, at face value (:mod:`.credit`); never mixed with points.
* **redemption rate** = redeemed ÷ issued and **breakage** = expired ÷ issued, over the period.
* **repeat-order rate**: of the customers with a paid invoice in the period, the share
  with two or more. **Members** are customers enrolled in the programme (``enrolled`` true
  now); **non-members** are the host's other customers whose invoices the host sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    func,
    literal,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from loyalty_plugin.domain.money import quantize
from loyalty_plugin.domain.redemption import PointValue
from loyalty_plugin.domain.reports import (
    EXPIRING_WITHIN,
    SERIES,
    Period,
    local_midnight,
    ratio,
    series_of,
    shown_points,
)
from loyalty_plugin.models import (
    Account,
    Customer,
    Invoice,
    InvoiceStatus,
    LedgerEntry,
    Lot,
    ReportAccountMonth,
)
from loyalty_plugin.services.ledger.accounts import get_merchant
from loyalty_plugin.services.ledger.units import points_only
from loyalty_plugin.services.reports.calendar import instant, merchant_period
from loyalty_plugin.services.reports.credit import CreditLiability, outstanding_credit
from loyalty_plugin.services.reports.rollup import (
    all_time_points,
    day_totals_and_tail,
    issuing,
    month_firsts,
    rolled_up,
    watermark,
)
from loyalty_plugin.services.spending.settings import merchant_settings, redemption_rules

#: Customers listed under "top customers".
TOP = 10


@dataclass(frozen=True, kw_only=True)
class Week:
    """One week's points by series; ``first`` is its first day inside the period."""

    monday: date
    first: date
    issued: int = 0
    redeemed: int = 0
    expired: int = 0
    corrections: int = 0


@dataclass(frozen=True, kw_only=True)
class Liability:
    """Open points and what they are worth in ``currency``."""

    currency: str
    points: int
    value: Decimal


@dataclass(frozen=True, kw_only=True)
class RepeatOrders:
    """Of ``customers`` with a paid invoice in the period, ``repeat`` had two or more."""

    members: bool
    customers: int
    repeat: int

    @property
    def rate(self) -> Decimal | None:
        return ratio(self.repeat, self.customers)


@dataclass(frozen=True, kw_only=True)
class TopCustomer:
    """A customer who was issued the most points in the period."""

    customer_id: str
    name: str
    issued: int
    balance: int


@dataclass(frozen=True, kw_only=True)
class Dashboard:
    """Every figure of the dashboard for one merchant and period."""

    merchant_id: str
    period: Period
    #: The merchant's standard point value, in ``currency``.
    point_value: PointValue
    currency: str
    weeks: list[Week]
    liability: list[Liability]
    #: Points that expire within each of :data:`EXPIRING_WITHIN` days from now (cumulative).
    expiring: dict[int, int]
    repeat_orders: list[RepeatOrders]
    top_customers: list[TopCustomer] = field(default_factory=list)
    #: Outstanding store credit per currency (empty for a points-only merchant).
    credit: list[CreditLiability] = field(default_factory=list)

    def value_of(self, points: int) -> Decimal:
        """What ``points`` are worth at the standard point value, in the currency's places."""
        return quantize(self.point_value.money(points), self.currency)

    def total(self, series: str) -> int:
        return sum(getattr(week, series) for week in self.weeks)

    @property
    def redemption_rate(self) -> Decimal | None:
        return ratio(self.total("redeemed"), self.total("issued"))

    @property
    def breakage(self) -> Decimal | None:
        return ratio(self.total("expired"), self.total("issued"))


def dashboard(
    session: Session,
    *,
    merchant_id: str,
    now: datetime,
    first: date | None = None,
    last: date | None = None,
) -> Dashboard:
    """The dashboard of ``merchant_id`` for the days ``first`` to ``last`` (merchant time)."""
    merchant, span = merchant_period(
        session, merchant_id=merchant_id, first=first, last=last, now=now
    )
    value = point_value(session, merchant_id)
    points, soon = open_points(session, merchant_id=merchant_id, zone=span.zone, now=now)
    return Dashboard(
        merchant_id=merchant_id,
        period=span,
        point_value=value,
        currency=merchant.currency,
        weeks=weekly(session, merchant_id=merchant_id, span=span),
        liability=[
            Liability(
                currency=merchant.currency,
                points=points,
                value=quantize(value.money(points), merchant.currency),
            )
        ],
        expiring=soon,
        repeat_orders=repeat_orders(session, merchant_id=merchant_id, span=span),
        top_customers=top_customers(session, merchant_id=merchant_id, span=span),
        credit=outstanding_credit(session, merchant_id=merchant_id, now=now),
    )


def point_value(session: Session, merchant_id: str) -> PointValue:
    """The merchant's standard point value (levels with their own value are not applied)."""
    return redemption_rules(merchant_settings(session, merchant_id)).value


def in_period(span: Period) -> ColumnElement[bool]:
    """Entries written inside the period."""
    return and_(
        LedgerEntry.created_at >= instant(span.starts_at),
        LedgerEntry.created_at < instant(span.ends_at),
    )


def weekly(session: Session, *, merchant_id: str, span: Period) -> list[Week]:
    """Points per week and series: the rolled-up days and the live tail, in one query."""
    query = day_totals_and_tail(
        merchant_id=merchant_id,
        zone=span.zone,
        first=span.first,
        last=span.last,
        bounds=span.week_bounds(),
    )
    sums: list[dict[str, int]] = [dict.fromkeys(SERIES, 0) for _ in span.weeks()]
    for week, kind, credit, total in session.execute(query):
        series = series_of(kind, bool(credit))
        sums[int(week)][series] += shown_points(series, int(total))
    return [
        Week(monday=monday, first=max(monday, span.first), **sums[n])
        for n, monday in enumerate(span.weeks())
    ]


def open_lots(merchant_id: str, now: datetime) -> ColumnElement[bool]:
    """Lots of the merchant still holding points that have not reached their expiry."""
    return and_(
        Lot.merchant_id == merchant_id,
        points_only(Lot),
        Lot.holds_points,  # a literal 0: PostgreSQL's partial index matches
        or_(Lot.expires_at.is_(None), Lot.expires_at > instant(now)),
    )


def open_points(
    session: Session, *, merchant_id: str, now: datetime, zone: str | None = None
) -> tuple[int, dict[int, int]]:
    """The open points, and those of them expiring within 30, 60 and 90 days: one query.

    The points left in all lots are the sum of every entry plus the debts (the ledger's
    invariant: a balance is its lots' points less its debt), read from the rolled-up days
    and the tail; the lots past their expiry that the expiry job has not expired yet are
    taken off. Only the lots expiring within 90 days are read one by one.
    """
    if zone is None:
        zone = get_merchant(session, merchant_id).timezone or "UTC"
    horizon = now + timedelta(days=max(EXPIRING_WITHIN))
    lots = (
        select()
        .select_from(Lot)
        .where(
            Lot.merchant_id == merchant_id,
            points_only(Lot),
            Lot.holds_points,  # a literal 0: PostgreSQL's partial index matches
            Lot.expires_at <= instant(horizon),
        )
    )
    overdue = func.coalesce(
        func.sum(case((Lot.expires_at <= instant(now), Lot.remaining), else_=0)), 0
    )

    def expiring_within(days: int) -> Any:
        due = and_(
            Lot.expires_at > instant(now), Lot.expires_at <= instant(now + timedelta(days=days))
        )
        return func.coalesce(func.sum(case((due, Lot.remaining), else_=0)), 0)

    debts = select(func.coalesce(func.sum(Account.debt), 0)).where(
        Account.merchant_id == merchant_id,
        Account.debt > literal_column("0"),
        points_only(Account),
    )
    # The overdue lots are summed in the same pass over the lots as those expiring soon.
    row = session.execute(
        lots.add_columns(
            all_time_points(merchant_id, zone) + debts.scalar_subquery(),
            overdue,
            *(expiring_within(days) for days in EXPIRING_WITHIN),
        )
    ).one()
    soon = {days: int(n) for days, n in zip(EXPIRING_WITHIN, row[2:], strict=True)}
    return int(row[0]) - int(row[1]), soon


def repeat_orders(session: Session, *, merchant_id: str, span: Period) -> list[RepeatOrders]:
    """Members' and non-members' repeat-order counts over invoices paid in the period.

    One query and one pass: the invoices' index alone gives the orders per customer, and
    each customer is looked up among the non-members (a hash of the few found through
    their own small index, ``ix_customers_not_enrolled``); members are the rest. The
    orders per customer are read once, not kept aside and scanned again per figure.
    """
    per_customer = (
        select(Invoice.customer_id.label("customer_id"), func.count().label("orders"))
        .where(
            Invoice.merchant_id == merchant_id,
            Invoice.paid_at >= instant(span.starts_at),
            Invoice.paid_at < instant(span.ends_at),
            Invoice.status == InvoiceStatus.PAID,
        )
        .group_by(Invoice.customer_id)
        .subquery("per_customer")
    )
    again = per_customer.c.orders >= 2
    non_member = Customer.id.is_not(None)

    def count_of(condition: ColumnElement[bool]) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    both = session.execute(
        select(
            func.count(),
            count_of(again),
            count_of(non_member),
            count_of(and_(non_member, again)),
        ).select_from(
            per_customer.outerjoin(
                Customer,
                and_(
                    Customer.id == per_customer.c.customer_id,
                    Customer.merchant_id == merchant_id,
                    ~Customer.enrolled,
                ),
            )
        )
    ).one()
    customers, repeats, non_customers, non_repeats = (int(n or 0) for n in both)
    return [
        RepeatOrders(members=True, customers=customers - non_customers,
                     repeat=repeats - non_repeats),
        RepeatOrders(members=False, customers=non_customers, repeat=non_repeats),
    ]  # fmt: skip


def top_customers(session: Session, *, merchant_id: str, span: Period) -> list[TopCustomer]:
    """The :data:`TOP` customers issued the most points in the period, with their balance.

    Two queries: each month's ranking of accounts (the rolled-up points issued per account
    and month) gives candidates and a bound; the candidates are summed exactly (rolled-up
    whole months, the entries of the period's partial months and of the live tail). When
    the tenth candidate is not above the bound, every account of the period is summed.
    """
    first, rest = _ranked_from_months(session, merchant_id=merchant_id, span=span)
    rows = session.execute(first).all()
    if rest is not None and not rest(rows):
        rows = session.execute(_named(_issued_per_account(merchant_id, span).subquery())).all()
    return [
        TopCustomer(
            customer_id=customer.host_customer_id,
            name=customer.display_name,
            issued=int(issued),
            balance=int(balance),
        )
        for customer, issued, balance in rows
    ]


#: Accounts read from the top of each month's ranking.
DEPTH = 100
#: Accounts with entries after the watermark taken as candidates, at most (else: sum all).
TAIL = 1000


def _ranked_from_months(session: Session, *, merchant_id: str, span: Period) -> tuple[Any, Any]:
    """The exact top customers of the candidates, and a check that no one else can beat them.

    Returns the query to run and ``complete(rows)``, which says whether its answer is the
    true top (``None``: it is, by construction).
    """
    months = month_firsts(span.first, span.last)[:-1]
    mark = watermark(merchant_id, span.zone)
    # The tail's entries are found from the watermark read first, as a value: compared with
    # a subquery PostgreSQL cannot tell the range is short, and walked a whole index of
    # entries (16 to 150 ms at 1,000,000 entries) where the primary key's range takes
    # 0.1 ms. A job that moves the watermark meanwhile only adds candidates (summed exactly
    # below, at the statement's own watermark).
    tail_from = session.scalar(select(mark))
    lists = [
        select(literal(n).label("list"), ReportAccountMonth.account_id, ReportAccountMonth.issued)
        .where(
            ReportAccountMonth.merchant_id == merchant_id,
            ReportAccountMonth.month == month,
            rolled_up(merchant_id, span.zone),
        )
        .order_by(ReportAccountMonth.issued.desc(), ReportAccountMonth.account_id)
        .limit(DEPTH)
        .subquery()
        for n, month in enumerate(months)
    ]
    tail = (
        select(literal(-1).label("list"), LedgerEntry.account_id, literal(0).label("issued"))
        .where(
            LedgerEntry.merchant_id == merchant_id,
            points_only(LedgerEntry),
            LedgerEntry.id > tail_from,
            in_period(span),
            issuing(),
        )
        .distinct()
        .limit(TAIL)
        .subquery()
    )
    found = session.execute(union_all(*(select(*q.c) for q in [*lists, tail]))).all()
    seen: dict[int, list[int]] = {}
    for n, _account, issued in found:
        seen.setdefault(int(n), []).append(int(issued))
    if len(seen.get(-1, ())) >= TAIL:  # the job has not run for long: sum every account
        return _named(_issued_per_account(merchant_id, span).subquery()), None
    # An account no list reached was issued at most each list's last figure in each month.
    bound = sum(min(figures) for n, figures in seen.items() if n >= 0 and len(figures) >= DEPTH)
    exhausted = all(len(figures) < DEPTH for n, figures in seen.items() if n >= 0)
    candidates = sorted({int(account) for _n, account, _issued in found})
    if not candidates:  # nothing issued in the period
        return _named(_issued_per_account(merchant_id, span).where(literal(False)).subquery()), None
    whole = [m for m in months if m >= span.first and _month_end(m) <= span.last]
    ranked = _exact(merchant_id, span, candidates, whole, mark)

    def complete(rows: list[Any]) -> bool:
        return exhausted or (len(rows) == TOP and int(rows[-1][1]) > bound)

    return _named(ranked), complete


def _exact(
    merchant_id: str, span: Period, candidates: list[int], whole: list[date], mark: Any
) -> Any:
    """The candidates' points issued in the period, biggest first (the top ones)."""
    rolled = select(
        ReportAccountMonth.account_id.label("account_id"),
        ReportAccountMonth.issued.label("points"),
    ).where(
        ReportAccountMonth.merchant_id == merchant_id,
        ReportAccountMonth.month.in_(whole) if whole else literal(False),
        ReportAccountMonth.account_id.in_(candidates),
        rolled_up(merchant_id, span.zone),
    )

    # Whole months' entries are rolled up to the watermark; those after it, and the
    # entries of the period's partial months, are read one by one (each a range of the
    # entries' time index).
    def entries(*where: Any) -> Any:
        return select(
            LedgerEntry.account_id.label("account_id"), LedgerEntry.points.label("points")
        ).where(
            LedgerEntry.merchant_id == merchant_id,
            issuing(),
            LedgerEntry.account_id.in_(candidates),
            points_only(LedgerEntry),
            *where,
        )

    def between(first: date, after: date) -> Any:
        return and_(
            LedgerEntry.created_at >= instant(local_midnight(first, span.zone)),
            LedgerEntry.created_at < instant(local_midnight(after, span.zone)),
        )

    after_last = span.last + timedelta(days=1)
    if not whole:
        parts = [entries(between(span.first, after_last))]
    else:
        end = _month_end(whole[-1]) + timedelta(days=1)
        parts = [entries(between(whole[0], end), LedgerEntry.id > mark)]
        if span.first < whole[0]:
            parts.append(entries(between(span.first, whole[0])))
        if end < after_last:
            parts.append(entries(between(end, after_last)))
    raw = union_all(*parts)
    both = union_all(rolled, *raw.selects).subquery("both")
    total = func.sum(both.c.points)
    return (
        select(both.c.account_id, total.label("issued"))
        .group_by(both.c.account_id)
        .order_by(total.desc(), both.c.account_id)
        .limit(TOP)
        .subquery()
    )


def _month_end(month: date) -> date:
    return month_firsts(month, month)[-1] - timedelta(days=1)


def _issued_per_account(merchant_id: str, span: Period) -> Any:
    """The top accounts by points issued in the period, summed from every entry."""
    total = func.sum(LedgerEntry.points)
    return (
        select(LedgerEntry.account_id.label("account_id"), total.label("issued"))
        .where(
            LedgerEntry.merchant_id == merchant_id,
            points_only(LedgerEntry),
            in_period(span),
            issuing(),
        )
        .group_by(LedgerEntry.account_id)
        .order_by(total.desc(), LedgerEntry.account_id)
        .limit(TOP)
    )


def _named(ranked: Any) -> Any:
    """The ranked accounts' customers and balances."""
    return (
        select(Customer, ranked.c.issued, Account.balance)
        .join(Account, Account.customer_id == Customer.id)
        .join(ranked, ranked.c.account_id == Account.id)
        .order_by(ranked.c.issued.desc(), Account.id)
    )
