"""`ledger verify` finds drift planted in the database; `ledger rebuild` repairs balances."""

from datetime import timedelta

from sqlalchemy import text

from loyalty_plugin.cli import main
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.integrity import rebuild_balances, verify_ledger


def history(session, account, now) -> None:
    earned = ledger.earn(
        session,
        account_id=account.id,
        points=100,
        now=now,
        actor="t",
        expires_at=now + timedelta(days=30),
    )
    ledger.earn(session, account_id=account.id, points=50, now=now, actor="t")
    ledger.spend(session, account_id=account.id, points=70, now=now, actor="t")
    ledger.reverse(session, entry_id=earned.id, points=10, now=now, actor="t")
    session.commit()


def test_clean_ledger_has_no_violations(session, make_account, now) -> None:
    """A history written through the service verifies clean."""
    history(session, make_account(), now)
    assert verify_ledger(session) == []


def test_verify_finds_planted_drift_and_rebuild_repairs_it(session, make_account, now) -> None:
    """A balance and a lot changed behind the ledger's back are both reported, then fixed."""
    account = make_account()
    history(session, account, now)
    session.execute(
        text("UPDATE accounts SET balance = balance + 5 WHERE id = :id"), {"id": account.id}
    )
    session.execute(
        text("UPDATE lots SET remaining = remaining - 1 WHERE account_id = :id AND remaining > 0"),
        {"id": account.id},
    )
    session.commit()
    checks = sorted({v.check for v in verify_ledger(session)})
    assert checks == [
        "balance = last entry's balance after",
        "balance = sum of entries",
        "balance = sum of lot remainders",
        "lot remainder = points + allocations",
    ]
    assert rebuild_balances(session) == (2, 1)  # both open lots, one account
    session.commit()
    assert verify_ledger(session) == []


def test_verify_finds_an_entry_without_its_allocations(session, make_account, now) -> None:
    """An entry inserted without moving any lot is caught."""
    account = make_account()
    history(session, account, now)
    session.execute(
        text(
            "INSERT INTO ledger_entries (merchant_id, account_id, kind, points, balance_after,"
            " actor, created_at)"
            " VALUES ('shop', :id, 'redeem', -5, 65, 'intruder', CURRENT_TIMESTAMP)"
        ),
        {"id": account.id},
    )
    session.commit()
    found = {v.check for v in verify_ledger(session)}
    assert "entry points = allocations + lot created" in found
    assert "balance = sum of entries" in found


def test_cli_verify_exits_nonzero_on_drift(app, now) -> None:
    """`loyalty ledger verify` prints each violation and exits 1; 0 once rebuilt."""
    runner = app.test_cli_runner()
    assert runner.invoke(main, ["merchants", "create", "shop", "--name", "Shop"]).exit_code == 0
    with app.app_context():
        from loyalty_plugin.extensions import get_session
        from loyalty_plugin.services.ledger.accounts import open_account, upsert_customer

        session = get_session()
        customer = upsert_customer(
            session, merchant_id="shop", host_customer_id=42, first_name="Ann"
        )
        account = open_account(session, merchant_id="shop", customer_id=customer.id)
        ledger.earn(session, account_id=account.id, points=30, now=now, actor="t")
        session.execute(text("UPDATE accounts SET balance = 999"))
        session.commit()
    result = runner.invoke(main, ["ledger", "verify"])
    assert result.exit_code == 1
    assert "balance = sum of entries: account" in result.output
    assert runner.invoke(main, ["ledger", "rebuild"]).exit_code == 0
    result = runner.invoke(main, ["ledger", "verify"])
    assert (result.exit_code, "ledger OK" in result.output) == (0, True)
