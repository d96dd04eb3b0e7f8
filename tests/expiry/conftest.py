"""Fixtures for expiry tests: accounts with lots earned in the past."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from loyalty_plugin.models import Account
from loyalty_plugin.services.ledger import entries as ledger

#: When the test lots were earned.
EARNED = datetime(2026, 1, 1, 9, tzinfo=UTC)


@pytest.fixture
def give(session: Session) -> Callable[..., int]:
    """``give(account, points, days=N)``: a lot earned at EARNED expiring N days later."""

    def give(
        account: Account, points: int, *, days: int | None = None, at: datetime = EARNED
    ) -> int:
        entry = ledger.earn(
            session,
            account_id=account.id,
            points=points,
            now=at,
            actor="test",
            expires_at=None if days is None else at + timedelta(days=days),
        )
        session.commit()
        return entry.id

    return give
