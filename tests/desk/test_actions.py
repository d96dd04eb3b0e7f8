"""Staff actions from the customer desk on every backend: role rules, approvals, audit."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import IdempotencyConflict, InvalidOperation, ValidationError
from loyalty_plugin.models import (
    Account,
    AdjustmentStatus,
    AuditEntry,
    Customer,
    LedgerEntry,
    Membership,
    StaffRole,
)
from loyalty_plugin.services.audit import Actor
from loyalty_plugin.services.customers import actions, portal
from loyalty_plugin.services.earning.programs import create_program
from loyalty_plugin.services.merchants.registration import create_merchant
from loyalty_plugin.services.spending.settings import update_settings
from loyalty_plugin.services.transaction import run_in_transaction
from tests.conftest import make_engine

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ANA = Actor.staff(1, "Ana")  # a manager
BO = Actor.staff(2, "Bo")  # a second manager
CY = Actor.staff(3, "Cy")  # staff
MANAGER, STAFF = StaffRole.MANAGER, StaffRole.STAFF


@pytest.fixture
def dee(session: Session) -> Customer:
    """Dee of shop, whose merchant asks for approval above 500 points and has levels."""
    create_merchant(session, merchant_id="shop", name="Shop", currency="EUR", now=NOW)
    create_merchant(session, merchant_id="other", name="Other", currency="EUR", now=NOW)
    update_settings(
        session, merchant_id="shop", changes={"adjustment_approval_above": 500}, now=NOW,
        actor="test",
    )  # fmt: skip
    create_program(
        session,
        merchant_id="shop",
        definition={
            "key": "tiers", "name": "Tiers", "status": "active",
            "rules": [{"id": "base", "kind": "per_amount", "points": "1", "per": "10"}],
            "levels": {"tiers": [{"key": "bronze", "name": "Bronze", "threshold": "0"},
                                 {"key": "gold", "name": "Gold", "threshold": "1000"}],
                       "measure": "points"},
        },
        now=NOW - timedelta(days=30),
        actor="test",
    )  # fmt: skip
    customer = Customer(merchant_id="shop", host_customer_id="42", first_name="Dee")
    session.add(customer)
    session.commit()
    return customer


def adjust(
    session: Session,
    customer: Customer,
    points: int,
    *,
    actor: Actor = ANA,
    role: StaffRole = MANAGER,
    key: str | None = None,
    reason: str = "goodwill",
) -> Any:
    return run_in_transaction(
        session,
        lambda s: actions.adjust(
            s, merchant_id="shop", customer_id=customer.id, points=points, reason=reason,
            expires_at=None, actor=actor, role=role, form_key=key or f"k{points}{actor.id}",
            now=NOW,
        ),
    )  # fmt: skip


def decide(
    session: Session,
    adjustment_id: int,
    *,
    actor: Actor = BO,
    approve: bool = True,
    role: StaffRole = MANAGER,
) -> Any:
    return run_in_transaction(
        session,
        lambda s: actions.decide(
            s, merchant_id="shop", adjustment_id=adjustment_id, approve=approve, actor=actor,
            role=role, note="ok", now=NOW,
        ),
    )  # fmt: skip


def balance(session: Session, customer: Customer) -> int:
    session.expire_all()
    return session.scalar(select(Account.balance).where(Account.customer_id == customer.id)) or 0


def audit_actions(session: Session) -> list[tuple[str, str, str]]:
    return [
        (row.action, row.actor_kind, row.actor_id)
        for row in session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        if row.action.startswith(("adjustment", "level", "consent", "portal"))
    ]


@pytest.mark.parametrize(
    ("role", "points", "status"),
    [
        (MANAGER, 500, AdjustmentStatus.APPLIED),
        (MANAGER, -100, AdjustmentStatus.APPLIED),
        (MANAGER, 501, AdjustmentStatus.PENDING),
        (StaffRole.OWNER, 501, AdjustmentStatus.PENDING),
        (STAFF, 10, AdjustmentStatus.PENDING),
    ],
)
def test_role_rules_decide_what_waits(
    session: Session, dee: Customer, role: StaffRole, points: int, status: AdjustmentStatus
) -> None:
    """Staff's adjustments always wait; a manager's or owner's wait above the limit."""
    if points < 0:
        adjust(session, dee, 200)
    before = balance(session, dee)
    made = adjust(session, dee, points, role=role)
    assert made.status == status
    moved = points if status == AdjustmentStatus.APPLIED else 0
    assert balance(session, dee) == before + moved


def test_a_second_person_approves_and_the_audit_trail_says_who(
    session: Session, dee: Customer
) -> None:
    """Over the limit it waits in the approvals list; another manager approves; the
    requester can neither approve nor reject, staff cannot decide; all is audited."""
    waiting = adjust(session, dee, 800)
    listed = actions.pending_approvals(session, merchant_id="shop")
    assert [(i.adjustment.id, i.customer.id, i.requester.name) for i in listed.items] == [
        (waiting.id, dee.id, "Ana")
    ]
    renamed = Actor.staff(1, "Ana Maria")  # the same person under a new name
    for who, role in ((ANA, MANAGER), (renamed, MANAGER), (CY, STAFF)):
        with pytest.raises(InvalidOperation) as refused:
            decide(session, waiting.id, actor=who, role=role)
        assert refused.value.field == "staff"
    assert balance(session, dee) == 0
    done = decide(session, waiting.id, actor=BO)
    assert done.status == AdjustmentStatus.APPLIED
    assert balance(session, dee) == 800
    assert actions.pending_approvals(session, merchant_id="shop").items == []
    assert audit_actions(session) == [
        ("adjustment.requested", "staff", "1"),
        ("adjustment.approved", "staff", "2"),
    ]
    entry = session.scalars(select(LedgerEntry).where(LedgerEntry.points == 800)).one()
    assert entry.actor == "staff:1 Ana"
    assert "approved by staff:2 Bo" in entry.reason


def test_a_rejected_adjustment_moves_nothing(session: Session, dee: Customer) -> None:
    """Rejecting leaves the ledger alone; deciding twice is refused."""
    waiting = adjust(session, dee, 900)
    assert decide(session, waiting.id, approve=False).status == AdjustmentStatus.REJECTED
    with pytest.raises(InvalidOperation):
        decide(session, waiting.id, actor=Actor.staff(4, "Di"))
    assert balance(session, dee) == 0


def test_the_form_key_makes_a_double_submit_ask_once(session: Session, dee: Customer) -> None:
    """The same one-time key asks once; reused for other points it is refused."""
    first = adjust(session, dee, 300, key="form-1")
    again = adjust(session, dee, 300, key="form-1")
    assert again.id == first.id
    assert balance(session, dee) == 300
    with pytest.raises(IdempotencyConflict):
        adjust(session, dee, 301, key="form-1")


def test_another_merchants_customer_cannot_be_adjusted(session: Session, dee: Customer) -> None:
    """A customer id of another merchant is not found."""
    from loyalty_plugin.domain.errors import NotFound

    with pytest.raises(NotFound):
        run_in_transaction(
            session,
            lambda s: actions.adjust(
                s, merchant_id="other", customer_id=dee.id, points=5, reason="x",
                expires_at=None, actor=ANA, role=MANAGER, form_key="k", now=NOW,
            ),
        )  # fmt: skip


def test_give_level_consent_and_portal_link_are_audited(session: Session, dee: Customer) -> None:
    """A given level holds until its end date; consents switch; a portal link opens the
    customer's portal; each is in the audit trail under the staff member."""
    until = actions.read_day_end("2026-07-31", timezone="UTC", field="until", required=True)
    run_in_transaction(
        session,
        lambda s: actions.give_level(
            s, merchant_id="shop", customer_id=dee.id, level="gold", until=until,
            reason="complaint", actor=ANA, now=NOW,
        ),
    )  # fmt: skip
    membership = session.scalars(select(Membership)).one()
    assert (membership.level, membership.expires_at) == ("gold", until)
    run_in_transaction(
        session,
        lambda s: actions.set_consent(
            s, merchant_id="shop", customer_id=dee.id, channel="email", given=True, actor=ANA,
            now=NOW,
        ),
    )  # fmt: skip
    session.expire_all()
    assert session.get(Customer, dee.id).email_opt_in is True
    link = run_in_transaction(
        session,
        lambda s: actions.portal_link(
            s, merchant_id="shop", customer_id=dee.id, secret="s3cret",
            base_url="https://loyalty.example/loyalty", valid_for=timedelta(days=1), actor=ANA,
            now=NOW,
        ),
    )  # fmt: skip
    token = link.url.rsplit("/", 1)[1]
    assert portal.read_token("s3cret", token, now=NOW).customer_id == dee.id
    assert audit_actions(session) == [
        ("level.given", "staff", "1"),
        ("consent.changed", "staff", "1"),
        ("portal_link.issued", "staff", "1"),
    ]


@pytest.mark.parametrize(
    ("text", "field"),
    [("", "points"), ("12.5", "points"), ("0", "points"), ("abc", "points"), ("٣", "points")],
)
def test_bad_points_name_the_field(text: str, field: str) -> None:
    """Points typed in a form must be whole, signed, not zero."""
    with pytest.raises(ValidationError) as error:
        actions.read_points(text)
    assert error.value.field == field


def test_points_and_dates_read_from_forms() -> None:
    """Separators and signs are read; a day ends at midnight in the merchant's zone."""
    assert [actions.read_points(t) for t in ("1,250", "-100", "+7")] == [1250, -100, 7]
    end = actions.read_day_end("2026-03-01", timezone="Europe/Berlin", field="d", required=True)
    assert end == datetime(2026, 3, 1, 23, 0, tzinfo=UTC)
    assert actions.read_day_end("", timezone="UTC", field="d", required=False) is None
    with pytest.raises(ValidationError):
        actions.read_day_end("01/03/2026", timezone="UTC", field="d", required=False)


# -- two approvers at once -----------------------------------------------------------------


@pytest.fixture
def wide_engine(clean_engine: sa.Engine, database_url: str):
    engine = make_engine(database_url, pool_size=10)
    yield engine
    engine.dispose()


def race(engine: sa.Engine, work: list[Callable[[Session], object]]) -> list[object]:
    """Run each ``work`` in its own thread and connection, released together."""
    barrier = threading.Barrier(len(work))

    def one(job: Callable[[Session], object]) -> object:
        with Session(engine, expire_on_commit=False) as session:
            barrier.wait()
            try:
                return run_in_transaction(session, job)
            except Exception as error:
                return error

    with ThreadPoolExecutor(len(work)) as pool:
        return list(pool.map(one, work))


@pytest.mark.backends("postgresql", "mariadb")
def test_two_approvers_at_once_credit_once(
    session: Session, dee: Customer, wide_engine: sa.Engine
) -> None:
    """Two managers approve the same adjustment at the same moment: one wins, the other is
    told it is already applied, and the points are credited once."""
    waiting = adjust(session, dee, 2000)

    def approve(who: Actor) -> Callable[[Session], object]:
        return lambda s: actions.decide(
            s, merchant_id="shop", adjustment_id=waiting.id, approve=True, actor=who,
            role=MANAGER, note=None, now=NOW,
        ).status  # fmt: skip

    outcomes = race(wide_engine, [approve(BO), approve(Actor.staff(4, "Di"))])
    assert sorted(map(type, outcomes), key=str) == sorted(
        [AdjustmentStatus, InvalidOperation], key=str
    )
    assert balance(session, dee) == 2000
    credits = session.scalar(
        select(func.count()).select_from(LedgerEntry).where(LedgerEntry.points == 2000)
    )
    assert credits == 1


def test_a_page_past_the_end_answers_the_last_page(session: Session, dee: Customer) -> None:
    """Asked for page 9 of two pages, the approvals list answers page 2 with its items."""
    waiting = [adjust(session, dee, 600 + n) for n in range(3)]
    past = actions.pending_approvals(session, merchant_id="shop", page=9, per_page=2)
    assert (past.page, past.pages, past.total) == (2, 2, 3)
    assert [i.adjustment.id for i in past.items] == [waiting[2].id]
    for made in waiting:
        decide(session, made.id, actor=BO)
    empty = actions.pending_approvals(session, merchant_id="shop", page=9, per_page=2)
    assert (empty.page, empty.total, empty.items) == (1, 0, [])
