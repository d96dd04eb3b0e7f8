"""The staff services without Flask: passwords, sessions, throttling, set-password tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher

from loyalty_plugin.domain.errors import InvalidOperation, NotFound, ValidationError
from loyalty_plugin.models import AdminSession, StaffRole
from loyalty_plugin.services.merchants.registration import create_merchant
from loyalty_plugin.services.staff import (
    StaffPolicy,
    TooManyAttempts,
    accounts,
    passwords,
    sessions,
)
from loyalty_plugin.services.staff.sign_in import sign_in_with_password
from tests.conftest import SERVICE_HASHER

POLICY = StaffPolicy(max_attempts_account=3, max_attempts_address=5, attempt_minutes=10)
GOOD = "a long enough password"


@pytest.fixture
def owner(session, now):
    create_merchant(session, merchant_id="shop", name="Shop", currency="EUR", now=now)
    staff = accounts.create_staff(
        session, email=" Ana@Example.COM ", name="Ana", password=GOOD, now=now
    )
    accounts.add_to_merchant(session, staff, merchant_id="shop", role=StaffRole.OWNER, now=now)
    session.commit()
    return staff


def attempt(session, now, password, *, email="ana@example.com", address="10.0.0.1"):
    outcome = sign_in_with_password(
        session,
        email=email,
        password=password,
        address=address,
        user_agent="test",
        policy=POLICY,
        now=now,
    )
    session.commit()
    return outcome


def test_roles_are_ordered() -> None:
    """staff < manager < owner, and each grants what the lower ones may do."""
    assert StaffRole.STAFF < StaffRole.MANAGER < StaffRole.OWNER
    assert StaffRole.OWNER.grants(StaffRole.MANAGER)
    assert not StaffRole.STAFF.grants(StaffRole.MANAGER)


def test_passwords_are_argon2id_and_rehashed_when_parameters_change(monkeypatch) -> None:
    """Hashes are argon2id at argon2-cffi's recommended cost; a hash made with weaker
    parameters is replaced on success (the rest of the suite hashes at the least cost)."""
    monkeypatch.setattr(passwords, "_HASHER", SERVICE_HASHER)
    recommended = PasswordHasher()
    assert (SERVICE_HASHER.time_cost, SERVICE_HASHER.memory_cost, SERVICE_HASHER.parallelism) == (
        recommended.time_cost, recommended.memory_cost, recommended.parallelism)  # fmt: skip
    stored = passwords.hash_password(GOOD)
    assert stored.startswith("$argon2id$")
    assert passwords.verify_password(stored, GOOD) == (True, None)
    assert passwords.verify_password(stored, "wrong")[0] is False
    weak = PasswordHasher(time_cost=1, memory_cost=8192).hash(GOOD)
    ok, new_hash = passwords.verify_password(weak, GOOD)
    assert ok and new_hash is not None and new_hash.startswith("$argon2id$")
    with pytest.raises(ValidationError):
        passwords.hash_password("short")


def test_emails_are_unique_and_lower_case(session, owner, now) -> None:
    """The address is stored lower-cased, and a second account for it is refused."""
    assert owner.email == "ana@example.com"
    with pytest.raises(InvalidOperation):
        accounts.create_staff(session, email="ANA@example.com", name="Other", now=now)


def test_sign_in_makes_a_stored_session(session, owner, now) -> None:
    """A right password gives a token whose hash (only) is stored."""
    outcome = attempt(session, now, GOOD)
    assert outcome.refusal is None
    row = session.get(AdminSession, outcome.session.id)
    assert row.token_hash == sessions.token_hash(outcome.token)
    assert sessions.read_session(session, outcome.token, policy=POLICY, now=now) is row


def test_sessions_end_when_idle_expired_or_revoked(session, owner, now) -> None:
    """A session ends after the idle time, at its end, and when signed out."""
    token = attempt(session, now, GOOD).token
    idle = now + timedelta(minutes=POLICY.idle_minutes)
    assert sessions.read_session(session, token, policy=POLICY, now=idle) is None
    later = now + timedelta(minutes=POLICY.idle_minutes - 1)
    assert sessions.read_session(session, token, policy=POLICY, now=later) is not None
    assert sessions.sign_out_everywhere(session, owner.id, now=later) == 1
    assert sessions.read_session(session, token, policy=POLICY, now=later) is None


def test_too_many_wrong_passwords_refuse_even_the_right_one(session, owner, now) -> None:
    """After N wrong passwords the right one is refused until the wait has passed."""
    for minute in range(POLICY.max_attempts_account):
        assert attempt(session, now + timedelta(minutes=minute), "wrong").refusal is not None
    with pytest.raises(TooManyAttempts) as refused:
        attempt(session, now + timedelta(minutes=3), GOOD)
    assert refused.value.message == "too many attempts, try again in 7 minutes"
    assert attempt(session, now + timedelta(minutes=10, seconds=1), GOOD).refusal is None


def test_the_address_is_throttled_across_accounts(session, owner, now) -> None:
    """Wrong passwords from one address for many accounts lock that address."""
    for n in range(POLICY.max_attempts_address):
        attempt(session, now, "wrong", email=f"guess{n}@example.com")
    with pytest.raises(TooManyAttempts):
        attempt(session, now, GOOD)
    assert attempt(session, now, GOOD, address="10.0.0.2").refusal is None


def test_a_success_resets_the_account_count(session, owner, now) -> None:
    """Wrong passwords before a successful sign-in no longer count."""
    for _ in range(POLICY.max_attempts_account - 1):
        attempt(session, now, "wrong")
    attempt(session, now + timedelta(seconds=1), GOOD)
    for _ in range(POLICY.max_attempts_account - 1):
        attempt(session, now + timedelta(seconds=2), "wrong")
    assert attempt(session, now + timedelta(seconds=3), GOOD).refusal is None


def test_a_password_token_works_once(session, owner, now) -> None:
    """Setting the password changes the hash the token names: the token stops working."""
    token, _ = accounts.password_token("k", owner, now=now, valid=timedelta(hours=1))
    assert accounts.staff_for_password_token(session, "k", token, now=now) is owner
    accounts.set_password(session, owner, password="another good one")
    with pytest.raises(NotFound):
        accounts.staff_for_password_token(session, "k", token, now=now)
    with pytest.raises(NotFound):
        accounts.staff_for_password_token(session, "other key", token, now=now)
