"""Plugins: loading, each hook called where documented, notifications only after commit."""

from __future__ import annotations

import logging
import textwrap
from datetime import timedelta

import pluggy
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from loyalty_plugin import hookimpl
from loyalty_plugin.domain.errors import InsufficientPoints
from loyalty_plugin.models import LedgerEntry
from loyalty_plugin.plugins import bind_session, describe_plugins, make_plugin_manager
from loyalty_plugin.services.earning.programs import DEFAULT_PROGRAM, update_program
from loyalty_plugin.services.earning.rule_engine import plugin_rule_kinds
from loyalty_plugin.services.intake.webhooks import IntakeSettings, process_host_event
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.accounts import account_for_host_customer
from loyalty_plugin.services.merchants.registration import create_merchant

SETTINGS = IntakeSettings(default_merchant="shop")
TEN = {"points": "1", "per": "10.00"}
SATURDAY, MONDAY = "2026-01-17", "2026-01-19"


class Recorder:
    """Records every notification it receives."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, int | str]] = []

    @hookimpl
    def points_earned(self, event):
        self.seen.append(("earned", event.points))

    @hookimpl
    def points_redeemed(self, event):
        self.seen.append(("redeemed", event.points))

    @hookimpl
    def points_reversed(self, event):
        self.seen.append(("reversed", event.points))

    @hookimpl
    def points_expired(self, event):
        self.seen.append(("expired", event.points))

    @hookimpl
    def customer_registered(self, event):
        self.seen.append(("registered", event.customer_id))


def shop_session(session, pm: pluggy.PluginManager):
    create_merchant(session, merchant_id="shop", name="Shop", currency="EUR")
    session.commit()
    return bind_session(session, pm)


def send(session, pm, kind: str, data: dict, event_id: str, now):
    body = {"type": kind, "occurred_at": "2026-01-17T10:00:00Z", "data": data}
    return process_host_event(
        session, body, event_id=event_id, hooks=pm.hook, settings=SETTINGS, now=now
    )


def ledger_details(session, invoice_id: str) -> list[dict]:
    """The breakdown lines of the invoice's earn entry."""
    entry = session.scalars(
        select(LedgerEntry).where(
            LedgerEntry.reference_type == "invoice", LedgerEntry.reference_id == invoice_id
        )
    ).one()
    return entry.details["breakdown"]


def paid(invoice_id: str, day: str, total: str = "100.00") -> dict:
    customer = {"id": "c1", "first_name": "Ana"}
    return {
        "invoice": {
            "id": invoice_id,
            "customer": customer,
            "currency": "EUR",
            "total": total,
            "date": day,
        }
    }


def test_hook_register_earning_rules(session, now, examples) -> None:
    """The weekend example's rule kind, added to the default program, doubles a Saturday
    invoice and leaves a Monday one alone."""
    pm = make_plugin_manager(modules=["loyalty_weekend_points"], entry_points=False)
    s = shop_session(session, pm)
    rules = [*DEFAULT_PROGRAM["rules"], {"id": "weekend", "kind": "weekend_bonus", **TEN}]
    update_program(
        s,
        merchant_id="shop",
        key="default",
        changes={"rules": rules, "effective_from": "2026-01-01T00:00:00+00:00"},
        now=now,
        actor="t",
        extra_kinds=plugin_rule_kinds(pm.hook),
    )
    s.commit()
    saturday = send(s, pm, "invoice.paid", paid("I1", SATURDAY), "e1", now).body["result"]
    monday = send(s, pm, "invoice.paid", paid("I2", MONDAY), "e2", now).body["result"]
    assert saturday["points_earned"] == 20
    assert [line["rule"] for line in ledger_details(s, "I1")] == ["base", "weekend"]
    assert monday["points_earned"] == 10


def test_a_bonus_object_of_the_retired_interim_rule_is_refused() -> None:
    """register_earning_rules takes rule kinds only: an old bonus object is a TypeError, so
    the event stays queued for a retry instead of earning without the plugin."""

    class OldBonus:
        name = "old"

        def bonus(self, invoice, base_points):
            return 1

    class OldPlugin:
        @hookimpl
        def register_earning_rules(self):
            return [OldBonus()]

    pm = make_plugin_manager(entry_points=False)
    pm.register(OldPlugin())
    with pytest.raises(TypeError, match="must return Rule subclasses"):
        plugin_rule_kinds(pm.hook)


def test_hook_points_earned(session, now, examples, caplog) -> None:
    """The log example plugin logs committed points, and nothing for a rolled-back earn."""
    pm = make_plugin_manager(modules=["loyalty_log_points"], entry_points=False)
    s = shop_session(session, pm)
    caplog.set_level(logging.INFO, logger="loyalty.points")
    send(s, pm, "invoice.paid", paid("I1", MONDAY), "e1", now)
    assert [r.getMessage() for r in caplog.records] == [
        "c1 earned 50 points with shop (balance 50, registration:registration:c1)",
        "c1 earned 10 points with shop (balance 60, invoice:I1)",
    ]
    account = account_for_host_customer(s, "shop", "c1")
    ledger.earn(s, account_id=account.id, points=7, now=now, actor="t")
    s.rollback()
    assert len(caplog.records) == 2


def test_notifications_follow_commits_only(session, now) -> None:
    """Earned, redeemed, reversed, expired and registered arrive after commit, never on rollback."""
    pm = make_plugin_manager(entry_points=False)
    recorder = Recorder()
    pm.register(recorder)
    s = shop_session(session, pm)
    send(s, pm, "customer.created", {"customer": {"id": "c1", "first_name": "Ana"}}, "e1", now)
    account = account_for_host_customer(s, "shop", "c1")
    lot = ledger.earn(
        s, account_id=account.id, points=30, now=now, actor="t", expires_at=now + timedelta(days=1)
    )
    assert ("earned", 30) not in recorder.seen
    s.commit()
    spent = ledger.spend(s, account_id=account.id, points=20, now=now, actor="t")
    ledger.reverse(s, entry_id=spent.id, now=now, actor="t", points=5)
    s.commit()
    ledger.expire_due_lots(s, account_id=account.id, now=now + timedelta(days=2))
    s.commit()
    with pytest.raises(InsufficientPoints):
        ledger.spend(s, account_id=account.id, points=10_000, now=now, actor="t")
    ledger.earn(s, account_id=account.id, points=1, now=now, actor="t")
    s.rollback()
    assert recorder.seen == [
        ("registered", "c1"),
        ("earned", 50),
        ("earned", 30),
        ("redeemed", 20),
        ("reversed", 5),
        ("expired", 15),
    ]
    assert lot.points == 30


def test_a_failing_notification_is_logged_and_undoes_nothing(session, now, caplog) -> None:
    """A plugin raising in points_earned is logged; the points stay and other plugins run."""

    class Broken:
        @hookimpl
        def points_earned(self, event):
            raise RuntimeError("mail server down")

    pm = make_plugin_manager(entry_points=False)
    recorder = Recorder()
    pm.register(recorder)
    pm.register(Broken())
    s = shop_session(session, pm)
    answer = send(s, pm, "invoice.paid", paid("I1", MONDAY), "e1", now)
    assert answer.status == 200
    assert ("earned", 10) in recorder.seen
    assert "mail server down" in caplog.text
    assert account_for_host_customer(s, "shop", "c1").balance == 60


def test_a_plugin_implementing_the_retired_calculate_invoice_points_fails_loudly() -> None:
    """The hook went with the interim rule: a plugin still implementing it stops the start-up
    rather than being silently ignored."""

    class FlatFive:
        @hookimpl(tryfirst=True)
        def calculate_invoice_points(self, invoice, merchant_currency):
            return 5

    pm = make_plugin_manager(entry_points=False)
    pm.register(FlatFive())
    with pytest.raises(pluggy.PluginValidationError, match="calculate_invoice_points"):
        pm.check_pending()


def test_hook_host_event_received(session, now) -> None:
    """A plugin handles event.custom inside the event's transaction: a review earns 25."""

    class Reviews:
        @hookimpl
        def host_event_received(self, session, event):
            if event.type != "event.custom" or event.data.name != "review":
                return None
            account = account_for_host_customer(session, event.merchant_id, event.data.customer_id)
            ledger.earn(
                session,
                account_id=account.id,
                points=25,
                now=now,
                actor="reviews",
                idempotency_key=f"review:{event.webhook_id}",
            )
            return {"review_points": 25}

    pm = make_plugin_manager(entry_points=False)
    pm.register(Reviews())
    s = shop_session(session, pm)
    send(s, pm, "customer.created", {"customer": {"id": "c1", "first_name": "Ana"}}, "e1", now)
    custom = {"customer_id": "c1", "name": "review", "properties": {"stars": 5}}
    answer = send(s, pm, "event.custom", custom, "e2", now)
    assert answer.body["result"]["plugins"] == [{"review_points": 25}]
    assert account_for_host_customer(s, "shop", "c1").balance == 75


def test_hook_register_jobs(app) -> None:
    """Jobs a plugin registers join the built-in ones (the webhook jobs among them)."""
    from loyalty_plugin.jobs import Job, all_jobs

    class Nightly:
        @hookimpl
        def register_jobs(self):
            return [Job(name="nightly-report", run=lambda ctx: None, every_seconds=86400)]

    app.extensions["loyalty"].plugin_manager.register(Nightly())
    jobs = all_jobs(app)
    assert {"retry-host-events", "deliver-webhooks", "nightly-report"} <= set(jobs)
    assert jobs["nightly-report"].every_seconds == 86400


def test_hook_extra_email_context_and_admin_menu_items() -> None:
    """Both UI hooks collect every plugin's contribution."""

    class Branding:
        @hookimpl
        def extra_email_context(self, template, merchant_id, context):
            return {"brand": f"{merchant_id}-{template}"}

        @hookimpl
        def extra_admin_menu_items(self, merchant_id):
            return [{"label": "Reports", "href": "/reports"}]

    pm = make_plugin_manager(entry_points=False)
    pm.register(Branding())
    assert pm.hook.extra_email_context(
        template="points_earned", merchant_id="shop", context={}
    ) == [{"brand": "shop-points_earned"}]
    assert pm.hook.extra_admin_menu_items(merchant_id=None) == [
        [{"label": "Reports", "href": "/reports"}]
    ]


def test_hook_customer_registered(session, now) -> None:
    """Registration is announced once per customer, whichever event created them."""
    pm = make_plugin_manager(entry_points=False)
    recorder = Recorder()
    pm.register(recorder)
    s = shop_session(session, pm)
    send(s, pm, "invoice.paid", paid("I1", MONDAY), "e1", now)
    send(s, pm, "customer.updated", {"customer": {"id": "c1", "phone": "1"}}, "e2", now)
    assert recorder.seen.count(("registered", "c1")) == 1


def test_a_misspelled_hook_fails_loudly() -> None:
    """check_pending refuses an implementation of a hook that does not exist."""

    class Typo:
        @hookimpl
        def points_earnd(self, event):
            pass

    pm = make_plugin_manager(entry_points=False)
    pm.register(Typo())
    with pytest.raises(pluggy.PluginValidationError):
        pm.check_pending()


def test_entry_point_plugins_are_loaded(tmp_path, monkeypatch, examples) -> None:
    """A distribution declaring the ``loyalty_plugin`` entry point is loaded with its version."""
    dist = tmp_path / "loyalty_weekend_points-1.0.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: loyalty-weekend-points\nVersion: 1.0.0\n"
    )
    (dist / "entry_points.txt").write_text(
        textwrap.dedent("""\
            [loyalty_plugin]
            weekend_points = loyalty_weekend_points
        """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    described = describe_plugins(make_plugin_manager())
    weekend = next(p for p in described if p["name"] == "weekend_points")
    assert weekend == {
        "name": "weekend_points",
        "source": "entry point",
        "version": "1.0.0",
        "hooks": ["register_earning_rules"],
    }
    assert not any(
        p["name"] == "weekend_points"
        for p in describe_plugins(make_plugin_manager(entry_points=False))
    )


def test_loyalty_plugins_command_lists_plugins_and_hooks(database_url, tmp_path, examples):
    """``loyalty plugins`` shows built-in and configured plugins with their hooks."""
    from loyalty_plugin.cli import main

    env = {
        "LOYALTY_DATABASE_URL": database_url,
        "LOYALTY_INSTANCE_PATH": str(tmp_path),
        "LOYALTY_PLUGINS": "loyalty_log_points,loyalty_weekend_points",
    }
    result = CliRunner().invoke(main, ["plugins"], env=env)
    assert result.exit_code == 0, result.output
    assert "loyalty_log_points (LOYALTY_PLUGINS)\n    points_earned" in result.output
    assert "loyalty_weekend_points (LOYALTY_PLUGINS)\n    register_earning_rules" in result.output
