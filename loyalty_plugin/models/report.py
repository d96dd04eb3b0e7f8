"""The reports' daily totals of ledger entries, rolled up from a watermark.

Entries are append-only and their ids only grow, so the dashboard's sums are split in two:
the entries up to a merchant's watermark (``ReportRollup.entry_id``), already added up per
day of the merchant's calendar, kind and sign in ``ReportDay``, and the live tail of entries
after the watermark, summed from ``ledger_entries`` at each read. Both are read in one
statement, so a report is always exact. Only the ``roll-up-reports`` job writes these
tables (never a ledger write), so no row here is updated by every earning.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, Enum, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from loyalty_plugin.domain.ledger import EntryKind
from loyalty_plugin.models.base import Base, utcnow


class ReportRollup(Base):
    """How far a merchant's daily totals reach: every entry up to ``entry_id`` is in them."""

    __tablename__ = "report_rollups"

    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    #: The time zone the days are counted in; when the merchant's changes, the totals are
    #: ignored and rebuilt.
    zone: Mapped[str] = mapped_column(String(64))
    #: The watermark: the highest entry id (of any merchant) whose entries are rolled up.
    entry_id: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ReportDay(Base):
    """The points and the number of one merchant's entries of one kind and sign in one day."""

    __tablename__ = "report_days"

    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    #: The calendar day in the merchant's time zone (:attr:`ReportRollup.zone`).
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[EntryKind] = mapped_column(
        Enum(
            EntryKind, native_enum=False, length=16, values_callable=lambda e: [k.value for k in e]
        ),
        primary_key=True,
    )
    #: Credits (``points > 0``) and the rest are kept apart: an adjustment counts as issued
    #: or as a correction by its sign.
    credit: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    points: Mapped[int] = mapped_column(BigInteger, default=0)
    entries: Mapped[int] = mapped_column(BigInteger, default=0)


class ReportAccountMonth(Base):
    """The points one account was issued in one month of the merchant's calendar.

    Rolled up with :class:`ReportDay` (same watermark); the dashboard's top customers rank
    the accounts of each month by it, so that only a few hundred accounts are summed
    exactly instead of every account active in the period.
    """

    __tablename__ = "report_account_months"
    __table_args__ = (Index("ix_report_account_months_rank", "merchant_id", "month", "issued"),)

    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    #: The month's first day in the merchant's time zone.
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    #: Points of ``earn`` and ``migration`` entries and credit adjustments.
    issued: Mapped[int] = mapped_column(BigInteger, default=0)


class ReportAccountPoints(Base):
    """The points left in one account's lots, counting every entry up to the watermark.

    Rolled up with :class:`ReportDay` (same watermark) from the append-only side of the
    lots: each lot's points go to the account of the entry that created it, and each
    allocation's points to the account of its entry (a merge empties the lots on the
    merged account and fills them on the survivor, so the lots' current account agrees).
    With the lots created and the allocations written after the watermark, this is every
    account's open points, less the lots past their expiry that the expiry job has not
    expired yet; the aging report ranks the accounts by it.
    """

    __tablename__ = "report_account_points"

    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    #: The sum of the lots' points and of the allocations on them, up to the watermark.
    points: Mapped[int] = mapped_column(BigInteger, default=0)


# The aging report's ranking, biggest first and then by account id: read in index order.
Index(
    "ix_report_account_points_rank",
    ReportAccountPoints.merchant_id,
    ReportAccountPoints.points.desc(),
    ReportAccountPoints.account_id,
)


class ReportLotDay(Base):
    """The points left in one merchant's lots earned on one day and expiring on another.

    Rolled up with :class:`ReportDay` (same watermark) from the lots created and the
    allocations written up to it, by the lots' own earning and expiry days (in the
    merchant's time zone; :data:`NEVER` for lots that never expire). The aging report's
    totals add up these rows, the live tail and the overdue lots per pair of days instead
    of reading every open lot; only the lots earned on the days an age band starts in are
    read one by one.
    """

    __tablename__ = "report_lot_days"

    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    earned_on: Mapped[date] = mapped_column(Date, primary_key=True)
    #: :data:`NEVER` for lots without an expiry date.
    expires_on: Mapped[date] = mapped_column(Date, primary_key=True)
    points: Mapped[int] = mapped_column(BigInteger, default=0)


class ReportGroupLotDay(Base):
    """The points left in the lots of one customer group earned on one day and expiring
    on another: :class:`ReportLotDay` per group.

    Rolled up with :class:`ReportDay` (same watermark); a customer's points count in the
    group the job filed them under (``customers.report_group``). When a customer changes
    group, the job's next run moves their kept points to the new group; until then the
    aging report moves them itself (the customers whose group differs from the one filed,
    found through a partial index). ``grouped`` false: customers without a group (the
    key is ``""`` then, as it must not be null).
    """

    __tablename__ = "report_group_lot_days"

    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    grouped: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    customer_group: Mapped[str] = mapped_column(String(64), primary_key=True)
    earned_on: Mapped[date] = mapped_column(Date, primary_key=True)
    #: :data:`NEVER` for lots without an expiry date.
    expires_on: Mapped[date] = mapped_column(Date, primary_key=True)
    points: Mapped[int] = mapped_column(BigInteger, default=0)


#: ``expires_on`` of the lots that never expire.
NEVER = date(9999, 12, 31)
