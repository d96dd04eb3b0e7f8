"""After-commit effects run once after the outermost commit, never for a rollback."""

from sqlalchemy import text

from loyalty_plugin.services.transaction import after_commit, run_in_transaction


def test_effect_runs_after_commit_not_at_savepoint_release(session) -> None:
    """Releasing a savepoint does not run effects; the outer commit does, once."""
    ran: list[str] = []
    session.execute(text("SELECT 1"))
    after_commit(session, lambda: ran.append("outer"))
    with session.begin_nested():
        after_commit(session, lambda: ran.append("inner"))
    assert ran == []
    session.commit()
    assert ran == ["outer", "inner"]
    session.commit()
    assert ran == ["outer", "inner"]


def test_rolled_back_savepoint_drops_only_its_effects(session) -> None:
    """A savepoint rollback forgets its own effects and keeps the outer ones."""
    ran: list[str] = []
    session.execute(text("SELECT 1"))
    after_commit(session, lambda: ran.append("outer"))
    nested = session.begin_nested()
    after_commit(session, lambda: ran.append("inner"))
    nested.rollback()
    session.commit()
    assert ran == ["outer"]


def test_outer_rollback_drops_every_effect(session) -> None:
    """Nothing runs for a transaction that rolled back."""
    ran: list[str] = []
    session.execute(text("SELECT 1"))
    with session.begin_nested():
        after_commit(session, lambda: ran.append("inner"))
    after_commit(session, lambda: ran.append("outer"))
    session.rollback()
    session.commit()
    assert ran == []


def test_failing_effect_is_logged_and_later_effects_still_run(session, caplog) -> None:
    """An effect that raises does not stop the others and does not undo the commit."""
    ran: list[str] = []

    def work(s):
        after_commit(s, lambda: 1 / 0)
        after_commit(s, lambda: ran.append("second"))
        return "done"

    assert run_in_transaction(session, work) == "done"
    assert ran == ["second"]
    assert "after-commit effect" in caplog.text
