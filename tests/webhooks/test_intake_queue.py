"""The high-load intake: store and answer 202 at once, apply later in batches, exactly once."""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from loyalty_plugin import hookimpl
from loyalty_plugin.cli.intake import Loop, intake
from loyalty_plugin.models import InboxStatus, WebhookEvent
from loyalty_plugin.services.earning.bonus_campaigns import create_bonus_campaign
from loyalty_plugin.services.intake.queue import apply_queued, queue_backlog
from loyalty_plugin.services.intake.webhooks import IntakeSettings, retry_due
from loyalty_plugin.services.ledger.integrity import verify_ledger
from loyalty_plugin.services.merchants.registration import create_merchant
from tests.webhooks.conftest import customer, event, invoice, ledger_points, signed, stored
from tests.webhooks.generate import generate_events
from tests.webhooks.test_exactly_once import deliver, ledger_of

QUEUE = IntakeSettings(default_merchant="shop", queue=True, batch_size=10, max_attempts=3)
PAID = event("invoice.paid", {"invoice": invoice(customer=customer())})


@pytest.fixture
def queued_host(host):
    """The app with ``LOYALTY_WEBHOOK_INTAKE=queue``."""
    host.config["LOYALTY_WEBHOOK_INTAKE"] = "queue"
    return host


def drain(app) -> str:
    """Run ``loyalty intake work --drain``; returns its output."""
    result = app.test_cli_runner().invoke(intake, ["work", "--drain"])
    assert result.exit_code == 0, result.output
    return result.output


def statuses(session: Session) -> dict[str, str]:
    session.expire_all()
    rows = session.execute(
        select(WebhookEvent.webhook_id, WebhookEvent.status).order_by(WebhookEvent.id)
    )
    return {webhook_id: status.value for webhook_id, status in rows}


def test_a_queued_webhook_is_answered_202_and_applied_by_a_worker(queued_host, post) -> None:
    """Queue mode: 202 ``accepted`` with nothing applied; a copy is a duplicate; the
    worker applies it once, as the synchronous path would have."""
    response = post(PAID)
    assert response.status_code == 202
    assert response.json["status"] == "accepted"
    assert response.json["event_status"] == "queued"
    assert stored(queued_host) == [("msg_1", "queued", "invoice.paid")]
    assert ledger_points(queued_host) == []
    again = post(PAID)
    assert (again.status_code, again.json["status"]) == (200, "duplicate")

    assert "applied 1 host events" in drain(queued_host)
    assert stored(queued_host) == [("msg_1", "processed", "invoice.paid")]
    assert ledger_points(queued_host) == [("earn", 50), ("earn", 12)]
    assert drain(queued_host).strip() == "applied 0 host events"


def test_the_queue_still_checks_the_signature(queued_host, post) -> None:
    """A bad signature is refused (401) and nothing is stored, as without the queue."""
    response = post(PAID, secret="whsec_" + "A" * 32)
    assert response.status_code == 401
    assert stored(queued_host) == []


def test_an_invalid_queued_event_is_rejected_by_the_worker(queued_host, post) -> None:
    """The worker rejects what the synchronous path would have answered 422."""
    bad = event("invoice.paid", {"invoice": invoice(total="-5")})
    assert post(bad).status_code == 202
    drain(queued_host)
    with queued_host.app_context():
        row = queued_host.extensions["loyalty"].db.session.scalars(select(WebhookEvent)).one()
        assert row.status == InboxStatus.REJECTED
        assert row.result["http_status"] == 422
        assert row.result["error"]["code"] == "invalid_event"


class FailOn:
    """A plugin whose database work fails for one invoice until ``fixed``."""

    def __init__(self, invoice_id: str) -> None:
        self.invoice_id = invoice_id
        self.fixed = False

    @hookimpl
    def host_event_received(self, session, event):
        invoice_data = getattr(event.data, "invoice", None)
        if not self.fixed and invoice_data is not None and invoice_data.id == self.invoice_id:
            session.execute(text("SELECT * FROM table_that_is_not_there"))


def queue_invoices(session: Session, pm, now, ids: list[str]) -> None:
    deliver_settings = QUEUE
    from loyalty_plugin.services.intake.webhooks import process_host_event

    for number, invoice_id in enumerate(ids):
        body = event("invoice.paid", {"invoice": invoice(invoice_id, customer=customer())})
        answer = process_host_event(
            session, body, event_id=f"q-{number}", hooks=pm.hook, settings=deliver_settings, now=now
        )
        assert answer.status == 202, answer.body


def test_a_failing_event_is_retried_and_does_not_undo_its_batch(shop, pm, now) -> None:
    """One event of a batch fails: the others are applied in the same batch; it is pending
    with the synchronous path's backoff, dead after the attempt limit, and the retry job
    applies it once the failure has passed."""
    plugin = FailOn("INV-2")
    pm.register(plugin)
    queue_invoices(shop, pm, now, ["INV-1", "INV-2", "INV-3"])

    batch = apply_queued(shop, hooks=pm.hook, settings=QUEUE, now=now)
    assert batch.statuses == {"processed": 2, "pending": 1}
    assert statuses(shop) == {"q-0": "processed", "q-1": "pending", "q-2": "processed"}
    row = shop.scalars(select(WebhookEvent).where(WebhookEvent.webhook_id == "q-1")).one()
    assert row.attempts == 1
    assert row.next_attempt_at is not None
    assert "table_that_is_not_there" in row.last_error
    assert ledger_points(shop) == [("earn", 50), ("earn", 12), ("earn", 12)]

    plugin.fixed = True
    later = row.next_attempt_at
    assert retry_due(shop, hooks=pm.hook, settings=QUEUE, now=later) == {"processed": 1}
    assert statuses(shop)["q-1"] == "processed"
    assert verify_ledger(shop) == []


def test_an_event_failing_every_time_ends_dead(shop, pm, now) -> None:
    """After ``max_attempts`` failures (the worker's and the retries') it is dead."""
    pm.register(FailOn("INV-1"))
    queue_invoices(shop, pm, now, ["INV-1"])
    apply_queued(shop, hooks=pm.hook, settings=QUEUE, now=now)
    for _ in range(QUEUE.max_attempts):
        row = shop.scalars(select(WebhookEvent)).one()
        if row.next_attempt_at is None:
            break
        retry_due(shop, hooks=pm.hook, settings=QUEUE, now=row.next_attempt_at)
        shop.expire_all()
    assert statuses(shop) == {"q-0": "dead"}


@pytest.mark.backends("postgresql", "mariadb")
def test_a_lane_held_by_another_worker_waits_its_turn(shop, pm, now, clean_engine) -> None:
    """While one worker holds a customer's first event, another worker skips it, leaves
    that customer's later event queued and applies another customer's event."""
    from loyalty_plugin.services.intake.webhooks import process_host_event

    sends = [("a-1", "c1", "INV-1"), ("a-2", "c1", "INV-2"), ("b-1", "c2", "INV-3")]
    for webhook_id, host_id, invoice_id in sends:
        body = event(
            "invoice.paid",
            {"invoice": invoice(invoice_id, customer_id=host_id, customer=customer(host_id))},
        )
        answer = process_host_event(
            shop, body, event_id=webhook_id, hooks=pm.hook, settings=QUEUE, now=now
        )
        assert answer.status == 202
    lanes = shop.scalars(select(WebhookEvent.lane).order_by(WebhookEvent.id)).all()
    assert lanes == ["customer:c1", "customer:c1", "customer:c2"]

    with Session(clean_engine) as holder:
        held = holder.scalars(
            select(WebhookEvent)
            .order_by(WebhookEvent.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        ).one()
        assert held.webhook_id == "a-1"
        other = apply_queued(shop, hooks=pm.hook, settings=QUEUE, now=now)
        assert (other.claimed, other.deferred, other.done) == (2, 1, 1)
        holder.rollback()
    assert statuses(shop) == {"a-1": "queued", "a-2": "queued", "b-1": "processed"}
    apply_queued(shop, hooks=pm.hook, settings=QUEUE, now=now)
    assert set(statuses(shop).values()) == {"processed"}


def test_a_refund_takes_its_invoices_customer_as_lane(shop, pm, now) -> None:
    """An event naming only an invoice is ordered with that invoice's customer when the
    invoice is known, else with the invoice."""
    from loyalty_plugin.services.intake.webhooks import process_host_event

    def send(webhook_id: str, body: dict[str, Any]) -> None:
        answer = process_host_event(
            shop, body, event_id=webhook_id, hooks=pm.hook, settings=QUEUE, now=now
        )
        assert answer.status == 202

    send("early", event("invoice.cancelled", {"invoice_id": "INV-9"}))
    queue_invoices(shop, pm, now, ["INV-1"])
    apply_queued(shop, hooks=pm.hook, settings=QUEUE, now=now)
    send("late", event("invoice.cancelled", {"invoice_id": "INV-1"}))
    lanes = dict(shop.execute(select(WebhookEvent.webhook_id, WebhookEvent.lane)).all())
    assert lanes == {"early": "invoice:INV-9", "q-0": "customer:c1", "late": "customer:c1"}


def test_backlog_counts_queued_events_and_the_oldest_age(shop, pm, now) -> None:
    """``queue_backlog``: how many are queued and how long the oldest has waited."""
    assert queue_backlog(shop, now=now) == (0, 0.0)
    queue_invoices(shop, pm, now, ["INV-1", "INV-2"])
    assert queue_backlog(shop, now=now + timedelta(seconds=90)) == (2, 90.0)


class Order:
    """Records the order host events are handled in, across threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: list[tuple[int, str]] = []

    @hookimpl
    def host_event_received(self, session, event):
        with self.lock:
            self.seen.append((event.event_id, threading.current_thread().name))


@pytest.mark.concurrency
@pytest.mark.backends("postgresql", "mariadb")
def test_two_workers_apply_every_event_once_in_order_per_customer(
    session, clean_engine, pm, now
) -> None:
    """Two workers in threads share a queue of 600 shuffled copies of 200 events: each
    event is applied once (the ledger equals one ordered synchronous pass), each
    customer's events in arrival order, and the ledger verifies clean."""
    for merchant_id in ("ordered", "queued"):
        create_merchant(session, merchant_id=merchant_id, name=merchant_id, currency="EUR")
    session.commit()
    deliver(session, generate_events(200, merchant_id="ordered"), pm.hook, now)
    copies = generate_events(200, merchant_id="queued") * 3
    random.Random(5).shuffle(copies)
    settings = IntakeSettings(queue=True, batch_size=10)
    for item in copies:
        body = {k: v for k, v in item.items() if k != "webhook_id"}
        from loyalty_plugin.services.intake.webhooks import process_host_event

        answer = process_host_event(
            session, body, event_id=item["webhook_id"], hooks=pm.hook, settings=settings, now=now
        )
        assert answer.status in (200, 202)
    order = Order()
    pm.register(order)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with Session(clean_engine, expire_on_commit=False) as mine:
                barrier.wait()
                idle = 0
                while idle < 3:
                    batch = apply_queued(mine, hooks=pm.hook, settings=settings, now=now)
                    idle = idle + 1 if batch.claimed == 0 else 0
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=worker, name=f"worker-{n}") for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []

    session.expire_all()
    left = session.scalar(select(func.count()).where(WebhookEvent.status == InboxStatus.QUEUED))
    assert left == 0
    # An event that waited for an invoice another worker was applying at that moment is
    # rechecked by the retry job (as on the synchronous path under concurrent requests).
    retry_due(session, hooks=pm.hook, settings=settings, now=now + timedelta(days=1))
    session.expire_all()
    unfinished = session.scalar(
        select(func.count()).where(
            WebhookEvent.merchant_id == "queued",
            WebhookEvent.status.not_in((InboxStatus.PROCESSED, InboxStatus.REJECTED)),
        )
    )
    assert unfinished == 0
    got, expected = ledger_of(session, "queued"), ledger_of(session, "ordered")
    differing = {
        (part, key): (got[part].get(key), expected[part].get(key))
        for part in ("accounts", "references")
        for key in got[part].keys() | expected[part].keys()
        if got[part].get(key) != expected[part].get(key)
    }
    assert differing == {}
    assert verify_ledger(session) == []
    assert {name for _, name in order.seen} >= {"worker-1", "worker-2"}
    # The last handling of each event is the committed one (a retried batch handles twice).
    last: dict[int, int] = {}
    for position, (event_id, name) in enumerate(order.seen):
        if name != "MainThread":  # not the retry job's recheck of waiting events
            last[event_id] = position
    lanes = dict(
        session.execute(
            select(WebhookEvent.id, WebhookEvent.lane).where(WebhookEvent.merchant_id == "queued")
        ).all()
    )
    by_lane: dict[str, list[int]] = defaultdict(list)
    for event_id, _position in sorted(last.items(), key=lambda item: item[1]):
        if lanes.get(event_id):
            by_lane[lanes[event_id]].append(event_id)
    assert by_lane
    for lane, ids in by_lane.items():
        assert ids == sorted(ids), lane


@pytest.mark.backends("postgresql", "mariadb")
def test_worker_threads_share_the_queue(queued_host, post) -> None:
    """``loyalty intake work --drain --threads 3``: every queued event applied once."""
    for number in range(12):
        body = event("invoice.paid", {"invoice": invoice(f"INV-{number}", customer=customer())})
        assert post(body, msg_id=f"msg_{number}").status_code == 202
    result = queued_host.test_cli_runner().invoke(
        intake, ["work", "--drain", "--threads", "3", "--batch", "2"]
    )
    assert result.exit_code == 0, result.output
    assert "applied 12 host events" in result.output
    assert {status for _, status, _ in stored(queued_host)} == {"processed"}
    assert ledger_points(queued_host)[0] == ("earn", 50)
    assert len(ledger_points(queued_host)) == 13


@pytest.mark.concurrency
@pytest.mark.backends("postgresql", "mariadb")
def test_twenty_copies_at_once_are_queued_once(queued_host) -> None:
    """The same delivery 20 times at once in queue mode: one 202 accepted, 19 duplicates,
    one row; the worker then earns once."""
    from tests.conftest import serving
    from tests.webhooks.test_concurrency import THREADS, post_all

    queued_host.config["SQLALCHEMY_ENGINE_OPTIONS"] = queued_host.config[
        "SQLALCHEMY_ENGINE_OPTIONS"
    ] | {"pool_size": THREADS + 2}
    with serving(queued_host) as base:
        answers = post_all(f"{base}/loyalty/webhooks", [signed(PAID)] * THREADS)
    statuses = sorted((code, body.get("status")) for code, body in answers)
    assert statuses == [(200, "duplicate")] * (THREADS - 1) + [(202, "accepted")]
    assert stored(queued_host) == [("msg_1", "queued", "invoice.paid")]
    drain(queued_host)
    assert ledger_points(queued_host) == [("earn", 50), ("earn", 12)]


def test_a_running_worker_sees_a_campaign_started_after_its_first_batch(
    queued_host, post, clean_engine, now
) -> None:
    """A worker that keeps running reads each batch afresh: a bonus campaign made in another
    session after the worker's first event gives the second event its 100 points. Before,
    the worker's one long-lived session kept the merchant row it first read (no campaign)."""
    stop = threading.Event()
    loop = Loop(queued_host, stop=stop, batch=10, idle=0.05, once=False, drain=False)
    worker = threading.Thread(target=loop.run, args=(None,))
    worker.start()
    try:
        assert post(PAID).status_code == 202
        _wait_until(lambda: loop.applied == 1)
        with Session(clean_engine) as other:
            create_bonus_campaign(
                other, merchant_id="default", now=now, actor="api",
                definition={"key": "now", "name": "Now", "points": 100,
                            "starts_at": (now - timedelta(days=1)).isoformat(),
                            "ends_at": (now + timedelta(days=30)).isoformat()},
            )  # fmt: skip
            other.commit()
        second = event("invoice.paid", {"invoice": invoice("INV-2", customer=customer())})
        assert post(second, msg_id="msg_2").status_code == 202
        _wait_until(lambda: loop.applied == 2)
    finally:
        stop.set()
        worker.join()
    assert ledger_points(queued_host) == [("earn", 50), ("earn", 12), ("earn", 112)]


def _wait_until(done, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, "the worker did not get there in time"
        time.sleep(0.02)


def test_a_queued_delivery_is_verified_and_stored_in_one_statement(queued_host, post) -> None:
    """With the merchant's signing keys kept from an earlier delivery, the queue verifies
    and stores a delivery in one statement (the insert, which checks the keys' stamp); the
    first delivery read them with the merchant, in two."""
    import sqlalchemy as sa

    with queued_host.app_context():
        engine = queued_host.extensions["loyalty"].db.engine
    counts = []
    for number in (1, 2, 3):
        seen: list[int] = []

        def count(*_: object, seen: list[int] = seen) -> None:
            seen.append(1)

        sa.event.listen(engine, "before_cursor_execute", count)
        try:
            body = event("invoice.paid", {"invoice": invoice(f"INV-{number}")})
            assert post(body, msg_id=f"msg_{number}").status_code == 202
        finally:
            sa.event.remove(engine, "before_cursor_execute", count)
        counts.append(len(seen))
    # SQLite's BEGIN IMMEDIATE is sent as a statement of its own (loyalty_plugin/database.py).
    begin = engine.dialect.name == "sqlite"
    assert counts[1:] == [1 + begin, 1 + begin], counts


def test_a_secret_revoked_after_its_keys_were_kept_is_refused(queued_host, post, now) -> None:
    """A secret revoked (committed elsewhere) after the queue kept the merchant's keys no
    longer verifies: the insert finds the merchant's settings stamp changed, and the
    delivery is checked again against the database's secrets (401, nothing stored); a
    secret created meanwhile verifies at once."""
    from loyalty_plugin.services.merchants.secrets import create_secret, revoke_secret

    assert post(PAID, msg_id="msg_1").status_code == 202
    with queued_host.app_context():
        session = queued_host.extensions["loyalty"].db.session
        fresh = create_secret(session, merchant_id="default", now=now)
        session.commit()
        secret, old_id = fresh.secret, fresh.id - 1
    second = event("invoice.paid", {"invoice": invoice("INV-2", customer=customer())})
    assert post(second, secret=secret, msg_id="msg_2").status_code == 202
    with queued_host.app_context():
        session = queued_host.extensions["loyalty"].db.session
        revoke_secret(session, secret_id=old_id, now=now)
        session.commit()
    third = event("invoice.paid", {"invoice": invoice("INV-3", customer=customer())})
    refused = post(third, msg_id="msg_3")
    assert refused.status_code == 401, refused.json
    assert [row[0] for row in stored(queued_host)] == ["msg_1", "msg_2"]
    assert post(third, secret=secret, msg_id="msg_3").status_code == 202


def test_a_rotated_secret_stops_verifying_at_its_end_in_the_queue(shop, pm, now) -> None:
    """A rotated secret's keys are kept with their end (``revoked_at``): the old secret
    verifies during the overlap and is refused after it, with nothing written in between."""
    from loyalty_plugin.services.intake.webhooks import receive_webhook
    from loyalty_plugin.services.merchants.secrets import rotate_secret

    rotate_secret(shop, merchant_id="shop", overlap_until=now + timedelta(hours=1), now=now)
    shop.commit()

    def deliver_at(moment, number: int) -> int:
        body = event("invoice.paid", {"invoice": invoice(f"INV-{number}", customer=customer())})
        raw, headers = signed(
            body | {"merchant_id": "shop"},
            msg_id=f"msg_{number}",
            timestamp=int(moment.timestamp()),
        )
        answer = receive_webhook(
            shop, body=raw, headers=headers, hooks=pm.hook, settings=QUEUE, now=moment
        )
        return answer.status

    assert deliver_at(now, 1) == 202
    assert deliver_at(now + timedelta(minutes=30), 2) == 202
    assert deliver_at(now + timedelta(hours=2), 3) == 401
    assert statuses(shop) == {"msg_1": "queued", "msg_2": "queued"}


def test_a_merge_in_a_batch_sends_the_merged_customers_later_invoices_to_the_survivor(
    shop, pm, now
) -> None:
    """A batch reads its customers and locks their accounts ahead; a ``customer.merged``
    in the batch still sends the merged customer's later invoice of the same batch to the
    survivor, as the synchronous path does (c1 12 and c2 5, merged into c2: 17, then 10
    for c1's invoice and 5 for c2's)."""
    from loyalty_plugin.services.intake.webhooks import process_host_event
    from tests.webhooks.conftest import balance, replace_default_program

    replace_default_program(shop, now=now)
    shop.commit()
    bodies = [
        event("customer.created", {"customer": customer("c1")}),
        event("customer.created", {"customer": customer("c2", first_name="Ana B")}),
        event("invoice.paid", {"invoice": invoice("INV-1", "125.00")}),
        event("invoice.paid", {"invoice": invoice("INV-2", "50.00", customer_id="c2")}),
        event("customer.merged", {"customer_id": "c1", "into_customer_id": "c2"}),
        event("invoice.paid", {"invoice": invoice("INV-3", "100.00")}),
        event("invoice.paid", {"invoice": invoice("INV-4", "50.00", customer_id="c2")}),
    ]
    for number, body in enumerate(bodies):
        answer = process_host_event(
            shop, body, event_id=f"m-{number}", hooks=pm.hook, settings=QUEUE, now=now
        )
        assert answer.status == 202, answer.body
    first = apply_queued(shop, hooks=pm.hook, settings=QUEUE, now=now, limit=4)
    assert first.statuses == {"processed": 4}
    assert (balance(shop, "c1"), balance(shop, "c2")) == (12, 5)
    second = apply_queued(shop, hooks=pm.hook, settings=QUEUE, now=now)
    assert second.statuses == {"processed": 3}, second
    shop.expire_all()
    assert (balance(shop, "c1"), balance(shop, "c2")) == (0, 32)
    assert verify_ledger(shop) == []


def test_a_queued_delivery_on_postgresql_is_stored_in_a_statement_of_its_own(
    queued_host, post
) -> None:
    """On PostgreSQL a delivery verified with kept keys is stored by its insert alone, in
    autocommit: no ``BEGIN`` and no ``COMMIT`` round trips around it (issue 20). The insert
    is atomic and durable by itself; a copy, a stale key or a refusal takes the
    transaction's path (the answers are the same)."""
    import sqlalchemy as sa

    with queued_host.app_context():
        engine = queued_host.extensions["loyalty"].db.engine
    if engine.dialect.name != "postgresql":
        pytest.skip("the one-statement intake is PostgreSQL's (MariaDB has no BEGIN to save)")
    modes: list[tuple[str, bool]] = []

    def note(conn, _cursor, statement, *_: object) -> None:
        modes.append((statement.split()[0], conn.connection.dbapi_connection.autocommit))

    assert post(PAID, msg_id="msg_1").status_code == 202  # reads and keeps the keys
    sa.event.listen(engine, "before_cursor_execute", note)
    try:
        second = event("invoice.paid", {"invoice": invoice("INV-2", customer=customer())})
        assert post(second, msg_id="msg_2").status_code == 202
        copy = post(second, msg_id="msg_2")
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)
    assert modes[0] == ("INSERT", True), modes
    assert copy.status_code == 200 and copy.json["status"] == "duplicate", copy.json
    assert [row[0] for row in stored(queued_host)] == ["msg_1", "msg_2"]


def test_a_database_error_in_the_autocommit_insert_takes_the_transactions_path(
    queued_host, post
) -> None:
    """The one-statement insert failing on a database error (here a lock it may not wait
    for) loses nothing: the transactional path stores the delivery, once."""
    import sqlalchemy as sa

    with queued_host.app_context():
        engine = queued_host.extensions["loyalty"].db.engine
    if engine.dialect.name != "postgresql":
        pytest.skip("the one-statement intake is PostgreSQL's")
    assert post(PAID, msg_id="msg_1").status_code == 202  # reads and keeps the keys

    def impatient(conn, cursor, statement, *_: object) -> None:
        # The autocommit insert may not wait; a transaction (maybe on the same pooled
        # connection, where a SET stays) waits as usual.
        if statement.startswith("INSERT"):
            patient = not conn.connection.dbapi_connection.autocommit
            cursor.execute("SET lock_timeout = 0" if patient else "SET lock_timeout = '50ms'")

    locker = engine.connect()
    locker.exec_driver_sql("LOCK TABLE webhook_events IN ACCESS EXCLUSIVE MODE")
    threading.Timer(0.5, locker.rollback).start()
    sa.event.listen(engine, "before_cursor_execute", impatient)
    try:
        second = event("invoice.paid", {"invoice": invoice("INV-2", customer=customer())})
        answer = post(second, msg_id="msg_2")
    finally:
        sa.event.remove(engine, "before_cursor_execute", impatient)
        locker.close()
    assert answer.status_code == 202, answer.get_data(as_text=True)
    assert [row[0] for row in stored(queued_host)] == ["msg_1", "msg_2"]
