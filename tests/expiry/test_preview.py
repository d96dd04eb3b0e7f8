"""The expiry preview: what the ``expire-points`` job then does, to the point and account."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from loyalty_plugin.domain.expiry import ExpiryPolicy
from loyalty_plugin.jobs.expiry import run_date_expiry, run_inactivity_expiry
from loyalty_plugin.models import Account
from loyalty_plugin.services.ledger import expiry
from tests.expiry.conftest import EARNED
from tests.expiry.test_batch_expiry import LATER, build_history


def test_the_preview_is_what_the_job_then_expires(session, make_account, give) -> None:
    build_history(make_account, give, session, "shop")
    build_history(make_account, give, session, "other")  # not counted for shop
    preview = expiry.preview_expiry(session, merchant_id="shop", at=LATER)
    session.rollback()
    assert (preview.points, preview.customers, preview.lots) == (190, 3, 4)
    dated = run_date_expiry(session, now=LATER)
    assert dated.points == preview.points * 2  # both merchants
    assert dated.accounts == preview.customers * 2
    assert expiry.preview_expiry(session, merchant_id="shop", at=LATER).points == 0


def test_the_preview_counts_idle_accounts_once(session, make_account, give) -> None:
    """Inactivity takes what date expiry leaves of an idle account: counted once."""
    idle, active = make_account("shop"), make_account("shop")
    session.execute(sa.update(Account).values(created_at=EARNED))
    give(idle, 300)
    give(idle, 20, days=390)
    give(active, 50, days=390)
    give(active, 7, at=EARNED + timedelta(days=300))
    expiry.set_expiry_policy(
        session,
        merchant_id="shop",
        policy=ExpiryPolicy(inactivity_months=12),
        now=EARNED,
        actor="staff:ana",
    )
    session.commit()
    moment = EARNED + timedelta(days=400)
    preview = expiry.preview_expiry(session, merchant_id="shop", at=moment)
    session.rollback()
    assert (preview.points, preview.customers, preview.lots) == (370, 2, 3)
    assert (preview.idle_points, preview.idle_customers) == (300, 1)
    dated = run_date_expiry(session, now=moment)
    idle_run = run_inactivity_expiry(session, now=moment)
    assert dated.points + idle_run.points == preview.points
    assert idle_run.points == preview.idle_points
    assert idle_run.accounts == preview.idle_customers
