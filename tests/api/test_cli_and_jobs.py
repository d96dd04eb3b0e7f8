"""``loyalty keys`` and the spending jobs (stale holds, expired coupons, old idempotency keys)."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import func, select

from loyalty_plugin.cli.keys import keys
from loyalty_plugin.jobs import JobContext
from loyalty_plugin.jobs.spending import (
    expire_coupons,
    purge_idempotency_keys,
    release_stale_holds,
)
from loyalty_plugin.models import ApiKey, IdempotencyRecord, Redemption
from loyalty_plugin.models.base import utcnow
from tests.api.conftest import PREFIX, invoice


def test_keys_create_prints_the_key_once_and_it_works(app, shop, customer, db) -> None:
    """`loyalty keys create --json` prints a working key; `list` never shows it."""
    customer("42", 10)
    runner = app.test_cli_runner()
    made = runner.invoke(keys, ["create", "--merchant", "shop", "--scope", "read", "--json"])
    assert made.exit_code == 0, made.output
    token = json.loads(made.output)["key"]
    answer = app.test_client().get(
        f"{PREFIX}/customers/42", headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 200
    listed = runner.invoke(keys, ["list", "--json"])
    assert token not in listed.output and json.loads(listed.output)[0]["scope"] == "read"
    revoked = runner.invoke(keys, ["revoke", token[:11]])
    assert revoked.exit_code == 0
    assert db.scalar(select(func.count(ApiKey.id)).where(ApiKey.revoked_at.is_not(None))) == 1


def test_keys_create_refuses_an_unknown_merchant_or_scope(app, shop) -> None:
    """Bad input to `keys create` is a usage error naming the option."""
    runner = app.test_cli_runner()
    unknown = runner.invoke(keys, ["create", "--merchant", "nope", "--scope", "read"])
    assert unknown.exit_code == 2 and "nope" in unknown.output
    scope = runner.invoke(keys, ["create", "--merchant", "shop", "--scope", "root"])
    assert scope.exit_code == 2


def test_host_key_from_the_cli_covers_several_merchants(app, shop) -> None:
    """Repeating --merchant makes one key for several merchants."""
    runner = app.test_cli_runner()
    made = runner.invoke(
        keys, ["create", "--merchant", "shop", "--merchant", "other", "--scope", "admin", "--json"]
    )
    assert json.loads(made.output)["merchants"] == ["shop", "other"]


def test_jobs_release_stale_holds_expire_coupons_and_purge_keys(
    app, api, customer, configure, db
) -> None:
    """Each job does its work once, in batches, and a second run finds nothing."""
    configure(hold_minutes=10, coupon_valid_days=1)
    customer("42", 1000)
    api.post("/redemptions", {"customer_id": "42", "points": 100, "invoice": invoice()})
    api.post("/coupons", {"customer_id": "42", "points": 100})
    later = utcnow() + timedelta(days=8)
    context = JobContext(app=app, session=db, now=later)
    assert release_stale_holds(context) == 1 and release_stale_holds(context) == 0
    assert db.scalars(select(Redemption.status)).one() == "expired"
    assert expire_coupons(context) == 1 and expire_coupons(context) == 0
    assert purge_idempotency_keys(context) == 2
    assert db.scalar(select(func.count(IdempotencyRecord.id))) == 0
