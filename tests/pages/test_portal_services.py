"""The portal's services on every backend: links, the overview, the log, coupons, converting."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import (
    IdempotencyConflict,
    InsufficientPoints,
    InvalidOperation,
    NotFound,
    ValidationError,
)
from loyalty_plugin.domain.expiry import end_of_day
from loyalty_plugin.email.links import links_for, unsubscribe_token
from loyalty_plugin.models import Account, Coupon, Customer, LedgerEntry, Merchant
from loyalty_plugin.services.customers import portal
from loyalty_plugin.services.customers.merge import merge_customers
from loyalty_plugin.services.earning.programs import create_program
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.spending.settings import update_settings
from loyalty_plugin.services.transaction import run_in_transaction

SECRET = "portal-test-secret"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
TIERS = [
    {"key": "bronze", "name": "Bronze", "threshold": "0"},
    {"key": "silver", "name": "Silver", "threshold": "1000", "multiplier": "1.5"},
    {"key": "gold", "name": "Gold", "threshold": "5000"},
]


@pytest.fixture
def ana(session: Session) -> Customer:
    """Ana, of Tokyo shop (UTC+9), with an account holding nothing yet."""
    session.add(Merchant(id="shop", name="Shop", currency="EUR", timezone="Asia/Tokyo"))
    session.flush()
    customer = Customer(merchant_id="shop", host_customer_id="42", first_name="Ana")
    session.add(customer)
    session.flush()
    session.add(Account(merchant_id="shop", customer_id=customer.id))
    session.commit()
    return customer


def account(session: Session, customer: Customer) -> Account:
    return session.scalars(select(Account).where(Account.customer_id == customer.id)).one()


def give(session: Session, customer: Customer, points: int, **more: object) -> None:
    ledger.earn(
        session, account_id=account(session, customer).id, points=points, now=NOW, actor="test",
        **more,
    )  # fmt: skip
    session.commit()


def spent(session: Session, customer: Customer) -> int:
    return session.scalar(
        select(func.count())
        .select_from(LedgerEntry)
        .where(LedgerEntry.account_id == account(session, customer).id, LedgerEntry.points < 0)
    )


# -- links ---------------------------------------------------------------------------------


def test_token_names_the_customer_until_it_expires(ana: Customer) -> None:
    """A token reads back as its merchant and customer, and stops at its expiry."""
    expiry = NOW + timedelta(days=3)
    token = portal.make_token(SECRET, merchant_id="shop", customer_id=ana.id, expires_at=expiry)
    access = portal.read_token(SECRET, token, now=NOW)
    assert (access.merchant_id, access.customer_id, access.expires_at) == ("shop", ana.id, expiry)
    with pytest.raises(portal.PortalLinkExpired):
        portal.read_token(SECRET, token, now=expiry)


@pytest.mark.parametrize(
    "forge",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # damaged signature
        lambda t: portal.make_token(
            "another-secret", merchant_id="shop", customer_id=1, expires_at=NOW + timedelta(days=1)
        ),
        lambda t: unsubscribe_token(SECRET, merchant_id="shop", customer_id=1),  # other salt
        lambda t: "not-a-token",
    ],
)
def test_forged_tokens_are_refused(forge, ana: Customer) -> None:
    """Only a token we signed with the portal's salt opens the portal."""
    token = portal.make_token(
        SECRET, merchant_id="shop", customer_id=ana.id, expires_at=NOW + timedelta(days=1)
    )
    with pytest.raises(portal.PortalLinkInvalid) as raised:
        portal.read_token(SECRET, forge(token), now=NOW)
    assert not isinstance(raised.value, portal.PortalLinkExpired)


def test_a_link_to_an_unknown_customer_opens_nothing(session: Session, ana: Customer) -> None:
    """A valid token naming no customer, or one of another merchant, is just invalid."""
    for merchant_id, customer_id in (("shop", ana.id + 1000), ("other", ana.id)):
        access = portal.PortalAccess(
            merchant_id=merchant_id, customer_id=customer_id, expires_at=NOW + timedelta(days=1)
        )
        with pytest.raises(portal.PortalLinkInvalid):
            portal.open_portal(session, access)


def test_a_link_of_a_merged_customer_opens_the_survivor(session: Session, ana: Customer) -> None:
    """Ana's second record was merged into her first: its link shows the first, points there."""
    second = Customer(merchant_id="shop", host_customer_id="43", first_name="Ana")
    session.add(second)
    session.commit()
    merge_customers(
        session, merchant_id="shop", customer_id="43", into_customer_id="42", now=NOW, actor="t"
    )
    session.commit()
    access = portal.PortalAccess(
        merchant_id="shop", customer_id=second.id, expires_at=NOW + timedelta(days=1)
    )
    assert portal.open_portal(session, access).id == ana.id


def test_portal_link_for_a_host_customer(session: Session, ana: Customer) -> None:
    """The API's link opens Ana's portal until the expiry it answers; unknown ids are 404."""
    link = portal.portal_link(
        session, secret=SECRET, base_url="https://l.example/loyalty", merchant_id="shop",
        host_customer_id="42", now=NOW, valid_for=timedelta(hours=2),
    )  # fmt: skip
    assert link.url.startswith("https://l.example/loyalty/portal/link/")
    assert link.expires_at == NOW + timedelta(hours=2)
    access = portal.read_token(SECRET, link.url.rsplit("/", 1)[1], now=NOW)
    assert portal.open_portal(session, access).id == ana.id
    with pytest.raises(NotFound):
        portal.portal_link(
            session, secret=SECRET, base_url="x", merchant_id="shop", host_customer_id="nobody",
            now=NOW, valid_for=timedelta(hours=2),
        )  # fmt: skip


def test_email_links_carry_a_fresh_portal_token(ana: Customer) -> None:
    """``links.portal`` in e-mails is a signed link valid for LOYALTY_PORTAL_LINK_DAYS."""
    config = {
        "LOYALTY_PUBLIC_URL": "https://l.example/",
        "LOYALTY_URL_PREFIX": "/loyalty",
        "LOYALTY_SECRET_KEY": SECRET,
        "LOYALTY_PORTAL_LINK_DAYS": 7,
    }
    links = links_for(config, merchant_id="shop", customer_id=ana.id, now=NOW)
    token = links["portal"].removeprefix("https://l.example/loyalty/portal/link/")
    assert portal.read_token(SECRET, token, now=NOW + timedelta(days=7) - timedelta(seconds=1))
    with pytest.raises(portal.PortalLinkExpired):
        portal.read_token(SECRET, token, now=NOW + timedelta(days=7))


# -- what the customer sees ----------------------------------------------------------------


def test_points_log_pages_newest_first(session: Session, ana: Customer) -> None:
    """25 entries: page 1 holds the 20 newest, page 2 the 5 oldest; beyond is the last page."""
    for n in range(25):
        give(session, ana, n + 1, reason=f"order {n + 1}")
    first = portal.points_log(session, account(session, ana), page=1)
    second = portal.points_log(session, account(session, ana), page=2)
    assert (first.pages, first.total) == (2, 25)
    assert [line.points for line in first.lines] == list(range(25, 5, -1))
    assert [line.points for line in second.lines] == [5, 4, 3, 2, 1]
    assert first.lines[0].label == "Points earned"
    assert portal.points_log(session, account(session, ana), page=9).page == 2


def test_log_lines_say_what_happened(session: Session, ana: Customer) -> None:
    """Each kind gets a human label, the reference reads as words, and earnings their expiry."""
    expiry = NOW + timedelta(days=30)
    give(session, ana, 500, reference=ledger.Reference("invoice", "INV-7"), expires_at=expiry)
    portal.convert(session, ana, points=200, form_key="k1", now=NOW)
    session.commit()
    spend, earn = portal.points_log(session, account(session, ana), page=1).lines
    assert (earn.label, earn.reference, earn.number) == ("Points earned", "Invoice", "INV-7")
    assert earn.expires_at == expiry
    assert (spend.label, spend.points, spend.balance_after) == ("Points spent", -200, 300)
    assert spend.reference == "Coupon" and spend.number


def test_expiring_soon_is_summed_per_day_in_the_merchants_zone(
    session: Session, ana: Customer
) -> None:
    """Lots expiring at 20:00 and 22:00 UTC on 10 June are 11 June in Tokyo: one line."""
    for hour, points in ((20, 100), (22, 50)):
        give(session, ana, points, expires_at=datetime(2026, 6, 10, hour, tzinfo=UTC))
    give(session, ana, 70, expires_at=NOW + timedelta(days=200))  # not soon
    soon = portal.expiring_soon(session, account(session, ana), now=NOW)
    assert soon == [portal.Expiring(day=date(2026, 6, 11), points=150)]


def test_expiring_soon_names_the_last_day_as_the_emails_do(session: Session, ana: Customer) -> None:
    """A policy's date ends at midnight in the merchant's zone: points valid through 10 June
    (Tokyo) expire at the first instant of 11 June, and the overview says 10 June, as the
    reminder e-mail does (``last_valid_day``), not 11 June."""
    tokyo = ZoneInfo("Asia/Tokyo")
    give(session, ana, 80, expires_at=end_of_day(date(2026, 6, 10), tokyo))
    soon = portal.expiring_soon(session, account(session, ana), now=NOW)
    assert soon == [portal.Expiring(day=date(2026, 6, 10), points=80)]


def test_overview_shows_level_progress(session: Session, ana: Customer) -> None:
    """With levels counting points, 400 earned of Silver's 1000 is 40 % and 600 to go."""
    definition = {
        "key": "main", "name": "Main", "status": "active",
        "rules": [{"kind": "per_amount", "points": "1", "per": "1"}],
        "levels": {"tiers": TIERS, "measure": "points"},
        "effective_from": (NOW - timedelta(days=1)).isoformat(),
    }  # fmt: skip
    create_program(session, merchant_id="shop", definition=definition, now=NOW, actor="t")
    session.commit()
    give(session, ana, 400)
    view = portal.overview(session, ana, now=NOW)
    assert view.standing.balance == 400
    level = view.level
    assert (level.current.name, level.next.name) == ("Bronze", "Silver")
    assert (level.needed, level.progress, level.measure) == (Decimal(600), 40, "points")


def test_coupons_are_grouped(session: Session, ana: Customer) -> None:
    """Active, used and expired coupons land in their own groups."""
    give(session, ana, 3000)
    made = [portal.convert(session, ana, points=500, form_key=f"k{n}", now=NOW) for n in range(3)]
    made[1].status = "redeemed"
    made[2].expires_at = NOW - timedelta(days=1)
    session.commit()
    groups = portal.customer_coupons(session, ana, now=NOW)
    assert [c.code for c in groups.active] == [made[0].code]
    assert [c.code for c in groups.used] == [made[1].code]
    assert [c.code for c in groups.expired] == [made[2].code]


# -- converting ------------------------------------------------------------------------------


def test_the_same_form_key_spends_once(session: Session, ana: Customer) -> None:
    """A second submit of one form returns the first coupon and spends nothing more."""
    give(session, ana, 1000)
    first = portal.convert(session, ana, points=400, form_key="form-1", now=NOW)
    session.commit()
    again = portal.convert(session, ana, points=400, form_key="form-1", now=NOW)
    session.commit()
    assert again.id == first.id
    assert account(session, ana).balance == 600 and spent(session, ana) == 1
    other = portal.convert(session, ana, points=400, form_key="form-2", now=NOW)
    session.commit()
    assert other.id != first.id and account(session, ana).balance == 200


def test_a_form_key_reused_for_other_points_is_refused(session: Session, ana: Customer) -> None:
    """Replaying a key with a different amount is a conflict, never a second coupon."""
    give(session, ana, 1000)
    portal.convert(session, ana, points=400, form_key="form-1", now=NOW)
    session.commit()
    with pytest.raises(IdempotencyConflict):
        portal.convert(session, ana, points=500, form_key="form-1", now=NOW)


@pytest.mark.parametrize(
    ("changes", "points", "error"),
    [
        ({"coupon_min_points": 500}, 300, ValidationError),
        ({"coupon_packages": [{"points": 500, "amount": "5.00"}]}, 300, ValidationError),
        ({}, 5000, InsufficientPoints),
        ({"coupon_conversion": False}, 500, InvalidOperation),
    ],
)
def test_refused_conversions_spend_nothing(
    session: Session, ana: Customer, changes: dict, points: int, error: type
) -> None:
    """Below the minimum, off-package, too many points or not allowed: nothing is spent."""
    give(session, ana, 1000)
    update_settings(session, merchant_id="shop", changes=changes, now=NOW, actor="t")
    session.commit()
    with pytest.raises(error):
        portal.convert(session, ana, points=points, form_key="f", now=NOW)
    session.rollback()
    assert account(session, ana).balance == 1000 and spent(session, ana) == 0


def test_offer_follows_the_merchants_settings(session: Session, ana: Customer) -> None:
    """The offer shows the rate and minimum, and disappears when converting is not allowed."""
    update_settings(session, merchant_id="shop", changes={"coupon_min_points": 300}, now=NOW,
                    actor="t")  # fmt: skip
    offer = portal.coupon_offer(session, ana, available=50)
    assert (offer.rate_points, offer.rate_amount, offer.min_points) == (100, Decimal("1.00"), 300)
    update_settings(session, merchant_id="shop", changes={"coupon_conversion": False}, now=NOW,
                    actor="t")  # fmt: skip
    assert portal.coupon_offer(session, ana, available=50) is None


def test_simultaneous_submits_of_one_form_spend_once(
    clean_engine: sa.Engine, session: Session, ana: Customer
) -> None:
    """Two connections converting with the same form key at once: one coupon, one debit."""
    give(session, ana, 1000)
    customer_id = ana.id
    barrier, results, errors = threading.Barrier(2), [], []

    def submit() -> None:
        def work(s: Session) -> Coupon:
            customer = s.get(Customer, customer_id)
            return portal.convert(s, customer, points=300, form_key="same", now=NOW)

        with Session(clean_engine, expire_on_commit=False) as own:
            barrier.wait()
            try:
                results.append(run_in_transaction(own, work, attempts=5).code)
            except Exception as error:  # pragma: no cover - reported below
                errors.append(error)

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert len(results) == 2 and results[0] == results[1]
    session.expire_all()
    assert account(session, ana).balance == 700 and spent(session, ana) == 1
    assert session.scalar(select(func.count()).select_from(Coupon)) == 1
