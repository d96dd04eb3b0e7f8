"""What the rules know of each customer of a replay, loaded in bulk: a few queries a batch.

A dry run (:mod:`loyalty_plugin.services.earning.simulation`) evaluates hundreds of
invoices, under one or two versions. Looking each invoice's customer up on its own costs
four queries per invoice and version; :class:`ReplayCustomers` loads the customers of a
whole batch of invoices at once (following merges), their levels and whether they bought
before, and answers the same :class:`CustomerView` that
:func:`loyalty_plugin.services.earning.rule_engine.customer_view` gives.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import islice

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.rules import CustomerView
from loyalty_plugin.models import Account, Customer, Invoice, InvoiceStatus, Membership

#: Ids per ``IN (...)`` list, well under every backend's limit on bound parameters.
CHUNK = 500


@dataclass(frozen=True, slots=True)
class _Known:
    """A stored customer, as the rules see them (without ``first_purchase``)."""

    id: int
    host_id: str
    group: str | None
    enrolled: bool
    level: str | None
    tags: frozenset[str] = frozenset()
    registered_at: datetime | None = None


class ReplayCustomers:
    """The merchant's customers of the replayed invoices, by host customer id."""

    def __init__(self, session: Session, merchant_id: str, *, now: datetime) -> None:
        self.session, self.merchant_id, self.now = session, merchant_id, now
        self._known: dict[str, _Known | None] = {}
        #: Paid invoices per stored customer id.
        self._paid: dict[int, int] = {}
        #: When each stored customer last paid an invoice.
        self._last_paid: dict[int, datetime | None] = {}
        #: Host invoice id -> the stored customer it was paid by (replayed invoices only).
        self._paid_by: dict[str, int] = {}
        self._invoices: set[str] = set()

    def load(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Fetch what is not loaded yet of these ``(host customer id, host invoice id)``."""
        pairs = list(pairs)
        customers = sorted({c for c, _ in pairs} - self._known.keys())
        invoices = sorted({i for _, i in pairs} - self._invoices)
        for chunk in _chunks(customers):
            self._load_customers(chunk)
        for chunk in _chunks(invoices):
            rows = self.session.execute(
                select(Invoice.host_invoice_id, Invoice.customer_id).where(
                    Invoice.merchant_id == self.merchant_id,
                    Invoice.status == InvoiceStatus.PAID,
                    Invoice.host_invoice_id.in_(chunk),
                )
            )
            self._paid_by.update({host_id: customer_id for host_id, customer_id in rows})
        self._invoices.update(invoices)

    def view(
        self, host_customer_id: str, invoice_id: str, *, first: bool, at: datetime | None = None
    ) -> CustomerView:
        """The customer of this invoice; ``first``: their first invoice in the replay;
        ``at``: when it was paid (a purchase stored before then counts for win-backs)."""
        if host_customer_id not in self._known or invoice_id not in self._invoices:
            self.load([(host_customer_id, invoice_id)])
        known = self._known[host_customer_id]
        if known is None:
            return CustomerView(id=host_customer_id, first_purchase=first)
        others = self._paid.get(known.id, 0) - (self._paid_by.get(invoice_id) == known.id)
        return CustomerView(
            id=known.host_id,
            group=known.group,
            enrolled=known.enrolled,
            level=known.level,
            first_purchase=first and others == 0,
            tags=known.tags,
            registered_at=known.registered_at,
            last_purchase_at=_before(self._last_paid.get(known.id), at),
        )

    def _load_customers(self, host_ids: Sequence[str]) -> None:
        rows = list(
            self.session.execute(
                select(Customer.host_customer_id, Customer.id, Customer.merged_into_id).where(
                    Customer.merchant_id == self.merchant_id,
                    Customer.host_customer_id.in_(host_ids),
                )
            )
        )
        # A merged record names its survivor (one step: a merge points every merged
        # record straight at the survivor), as ``find_customer`` follows it.
        target = {host: merged or own for host, own, merged in rows}
        ids = sorted(set(target.values()))
        stored = {
            c.id: c
            for c in self.session.execute(
                select(
                    Customer.id,
                    Customer.host_customer_id,
                    Customer.customer_group,
                    Customer.enrolled,
                    Customer.tags,
                    Customer.created_at,
                ).where(Customer.id.in_(ids))
            )
        }
        levels = self._levels(ids)
        for customer_id, (paid, last) in self._paid_counts(ids).items():
            self._paid[customer_id], self._last_paid[customer_id] = paid, last
        for host in host_ids:
            row = stored.get(target[host]) if host in target else None
            self._known[host] = (
                None
                if row is None
                else _Known(
                    row.id,
                    row.host_customer_id,
                    row.customer_group,
                    row.enrolled,
                    levels.get(row.id),
                    frozenset(row.tags or ()),
                    row.created_at,
                )
            )

    def _levels(self, ids: Sequence[int]) -> dict[int, str | None]:
        """The level each customer holds in the merchant's oldest program with levels
        (a given or bought level past its end counts as the earned one)."""
        rows = self.session.execute(
            select(
                Account.customer_id,
                Membership.level,
                Membership.earned_level,
                Membership.expires_at,
            )
            .join(Account, Account.id == Membership.account_id)
            .where(Account.merchant_id == self.merchant_id, Account.customer_id.in_(ids))
            .order_by(Account.customer_id, Membership.program_id)
        )
        levels: dict[int, str | None] = {}
        for customer_id, level, earned, expires_at in rows:
            if customer_id not in levels:
                ended = expires_at is not None and expires_at <= self.now
                levels[customer_id] = earned if ended else level
        return levels

    def _paid_counts(self, ids: Sequence[int]) -> dict[int, tuple[int, datetime | None]]:
        moment = func.coalesce(Invoice.paid_occurred_at, Invoice.paid_at)
        rows = self.session.execute(
            select(Invoice.customer_id, func.count(), func.max(moment))
            .where(
                Invoice.merchant_id == self.merchant_id,
                Invoice.status == InvoiceStatus.PAID,
                Invoice.customer_id.in_(ids),
            )
            .group_by(Invoice.customer_id)
        )
        return {customer_id: (count, last) for customer_id, count, last in rows}


def _before(moment: datetime | None, at: datetime | None) -> datetime | None:
    """``moment`` if it is before ``at`` (or ``at`` is not known), else ``None``."""
    return moment if moment is not None and (at is None or moment < at) else None


def _chunks(items: Sequence[str]) -> Iterable[list[str]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, CHUNK)):
        yield chunk
