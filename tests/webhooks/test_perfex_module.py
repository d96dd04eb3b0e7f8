"""The Perfex CRM module (hooks/perfex/loyalty_bridge), run by a real PHP on Perfex's tables
in a real MariaDB database: its PHPUnit suite, then end to end against the service served
on loopback. The only stand-in for Perfex is tests/perfex/bootstrap.php."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from loyalty_plugin.domain.signatures import signature_headers
from loyalty_plugin.models import Customer
from loyalty_plugin.services.merchants.api_keys import create_api_key
from tests.conftest import ADMIN_URLS, database_name
from tests.webhooks.conftest import SECRET, ledger_points, stored

PERFEX = Path(__file__).parents[1] / "perfex"


@pytest.fixture(scope="module")
def perfex_dsn() -> Iterator[str]:
    """An empty MariaDB database for Perfex's tables; a PDO DSN."""
    name = database_name("perfex")
    admin = sa.create_engine(ADMIN_URLS["mariadb"], isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        connection.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    yield f"mysql:host=127.0.0.1;port=3306;dbname={name};charset=utf8mb4"
    with admin.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
    admin.dispose()


def binary(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} is not installed: .ci/install-missing installs it"
    return found


def test_phpunit_suite(perfex_dsn: str) -> None:
    """tests/perfex/php: each hook's mapping, the queue, the install, the signatures."""
    done = subprocess.run(
        [binary("phpunit"), "-c", str(PERFEX / "phpunit.xml")],
        env={"PERFEX_TEST_DSN": perfex_dsn, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK (" in done.stdout


def test_the_module_signs_a_fixed_body_as_python_does() -> None:
    body = '{"type":"invoice.paid","data":{"invoice":{"id":7,"total":"125.00"}}}'
    expected = signature_headers(
        [SECRET], msg_id="perfex-invoice-7-paid", timestamp=1_700_000_000, body=body.encode()
    )["webhook-signature"]
    call = {
        "op": "sign",
        "secret": SECRET,
        "id": "perfex-invoice-7-paid",
        "timestamp": 1_700_000_000,
        "body": body,
    }
    done = subprocess.run(
        [binary("php"), str(PERFEX / "host.php")],
        input=json.dumps(call),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(done.stdout)["result"] == expected


class Perfex:
    """Perfex actions, each run by PHP in its own process (as each is a request in Perfex)."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.seconds = 0.0
        self.currency = 0

    def __call__(self, op: str, **call: Any) -> Any:
        done = subprocess.run(
            [binary("php"), str(PERFEX / "host.php")],
            input=json.dumps({"op": op} | call),
            env={"PERFEX_TEST_DSN": self.dsn, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        answer = json.loads(done.stdout)
        self.seconds = answer["seconds"]
        return answer["result"]

    def statuses(self) -> list[tuple[str, str]]:
        return [(row["webhook_id"], row["status"]) for row in self("queue")]

    def delivered(self) -> set[str]:
        """The queue's statuses once cron has sent the pending rows again: on a loaded
        machine a send may outlive the module's 2 s timeout and wait for cron, as it would
        in a shop (the plugin then answers the resend as a duplicate)."""
        for _ in range(3):
            if all(status != "pending" for _, status in self.statuses()):
                break
            self("later")
            self("cron")
        return {status for _, status in self.statuses()}


@pytest.fixture
def perfex(perfex_dsn: str, served: str) -> Perfex:
    """Perfex with the module active, connected to the served plugin's ``default`` merchant."""
    host = Perfex(perfex_dsn)
    host.currency = host("setup")
    url = served.removesuffix("/webhooks")
    host("options", options={"loyalty_bridge_url": url, "loyalty_bridge_secret": SECRET})
    return host


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_paid_in_two_payments_earns_once_and_a_deleted_payment_takes_its_share(
    perfex: Perfex, host: Any
) -> None:
    assert perfex("test_connection")["ok"] is True
    ana = perfex("client", first="Ana", last="Horvat", email="ana@example.com")
    lines = [["Beans 1 kg", "2.00", "60.00"], ["Mug", "1.00", "5.00"]]
    invoice = perfex("invoice", client=ana, currency=perfex.currency, lines=lines)
    perfex("payment", invoice=invoice, amount="100.00")
    second = perfex("payment", invoice=invoice, amount="25.00")
    assert ledger_points(host) == [("earn", 50), ("earn", 12)]  # 125.00 at 1 per 10.00

    perfex("fire", hook="after_payment_added", argument=second)  # Perfex fires it again
    perfex("fire", hook="after_client_created", argument={"id": ana})
    assert ledger_points(host) == [("earn", 50), ("earn", 12)]

    perfex("delete_payment", payment=second)  # 25.00 of 125.00: 12.5 exact points keep 10
    assert ledger_points(host) == [("earn", 50), ("earn", 12), ("reverse", -2)]
    assert perfex.delivered() == {"sent"}, perfex("queue")
    events = [(w, t) for w, _, t in stored(host) if not w.startswith("perfex-test-")]
    assert [t for _, t in events] == ["customer.created", "invoice.paid", "invoice.refunded"]
    assert stored(host)[0][1:] == ("rejected", "perfex.connection_test")  # changed no points


def test_a_payment_deleted_and_recorded_again_earns_as_if_never_deleted(
    perfex: Perfex, host: Any
) -> None:
    """#16: 125.00 in two payments earns 12; the 25.00 one deleted takes 2; recorded again
    (the hook fired twice), it gives the 2 back once: 62, as if it had never been deleted."""
    ana = perfex("client", first="Ana", last="Horvat", email="ana@example.com")
    lines = [["Beans 1 kg", "2.00", "60.00"], ["Mug", "1.00", "5.00"]]
    invoice = perfex("invoice", client=ana, currency=perfex.currency, lines=lines)
    perfex("payment", invoice=invoice, amount="100.00")
    second = perfex("payment", invoice=invoice, amount="25.00")
    perfex("delete_payment", payment=second)
    again = perfex("payment", invoice=invoice, amount="25.00")
    perfex("fire", hook="after_payment_added", argument=again)
    assert ledger_points(host) == [("earn", 50), ("earn", 12), ("reverse", -2), ("earn", 2)]
    assert perfex.delivered() == {"sent"}, perfex("queue")
    kinds = [t for _, _, t in stored(host)]
    assert kinds[1:] == ["invoice.paid", "invoice.refunded", "invoice.payment_recorded"]


def test_a_refund_or_credit_deleted_in_perfex_gives_its_points_back(
    perfex: Perfex, host: Any
) -> None:
    """#16: a credit-note refund in money deleted gives back what it took; a credit taken
    off an invoice it paid takes nothing more and gives nothing back until money pays
    that part again."""
    ben = perfex("client", first="Ben", last="Okafor", email="ben@example.com")
    lines = [["Beans 1 kg", "1.00", "100.00"]]
    invoice = perfex("invoice", client=ben, currency=perfex.currency, lines=lines)
    perfex("payment", invoice=invoice, amount="100.00")
    note = perfex(
        "credit_note_from_invoice", invoice=invoice, currency=perfex.currency, lines=lines
    )
    refund = perfex("refund_credit_note", credit_note=note, amount="50.00")
    assert ledger_points(host) == [("earn", 50), ("earn", 10), ("reverse", -5)]
    perfex("delete_credit_note_refund", refund=refund, credit_note=note)
    perfex("cron")
    assert ledger_points(host)[3:] == [("earn", 5)]

    other = perfex("invoice", client=ben, currency=perfex.currency, lines=lines)
    perfex("payment", invoice=other, amount="60.00")
    mug = [["Mug", 1, 40]]
    credit_note = perfex("credit_note", client=ben, currency=perfex.currency, lines=mug)
    credit = perfex("apply_credit", credit_note=credit_note, invoice=other, amount="40.00")
    assert ledger_points(host)[4:] == [("earn", 10), ("reverse", -4)]  # earns on the 60.00
    perfex("delete_applied_credit", credit=credit, invoice=other)
    perfex("cron")
    taken_off = ledger_points(host)[6:]  # as a deleted payment, then its refund undone
    assert sum(points for _, points in taken_off) == 0, "the 40.00 is unpaid again"
    perfex("payment", invoice=other, amount="40.00")
    assert ledger_points(host)[6 + len(taken_off) :] == [("earn", 4)], "paid in money: it earns"
    assert perfex.delivered() == {"sent"}, perfex("queue")


def test_every_customer_group_reaches_the_plugin(perfex: Perfex, host: Any) -> None:
    """#16: a Perfex customer in two groups is stored with both, the first as the group."""
    ana = perfex("client", first="Ana", last="Horvat", email="ana@example.com")
    perfex("customer_group", client=ana, name="Retail")
    perfex("customer_group", client=ana, name="Wholesale")
    perfex("fire", hook="client_updated", argument={"id": ana})
    with host.app_context():
        session = host.extensions["loyalty"].db.session
        row = session.scalars(sa.select(Customer)).one()
        assert (row.customer_group, row.customer_groups) == ("Retail", ["Retail", "Wholesale"])


def test_cancelled_invoice_gives_its_points_back(perfex: Perfex, host: Any) -> None:
    ben = perfex("client", first="Ben", last="Okafor", email="ben@example.com")
    lines = [["Beans 1 kg", "1.00", "80.00"]]
    invoice = perfex("invoice", client=ben, currency=perfex.currency, lines=lines)
    perfex("payment", invoice=invoice, amount="80.00")
    perfex("cancel", invoice=invoice)
    perfex("cancel", invoice=invoice)
    assert ledger_points(host) == [("earn", 50), ("earn", 8), ("reverse", -8)]


def test_an_invoice_paid_partly_in_money_partly_by_credit_earns_on_the_money(
    perfex: Perfex, host: Any
) -> None:
    ben = perfex("client", first="Ben", last="Okafor", email="ben@example.com")
    lines = [["Beans 1 kg", "1.00", "100.00"]]
    invoice = perfex("invoice", client=ben, currency=perfex.currency, lines=lines)
    perfex("payment", invoice=invoice, amount="60.00")
    note = perfex("credit_note", client=ben, currency=perfex.currency, lines=[["Mug", "1", "40"]])
    perfex("apply_credit", credit_note=note, invoice=invoice, amount="40.00")
    assert ledger_points(host) == [("earn", 50), ("earn", 10), ("reverse", -4)]


def test_the_module_gives_the_birthday_bonus_once_a_year(perfex: Perfex, host: Any) -> None:
    perfex("custom_field")
    options = {"loyalty_bridge_dob_field": "customers_date_of_birth"}
    perfex("options", options=options | {"loyalty_bridge_birthdays": "module"})
    born = datetime.now(UTC).strftime("1990-%m-%d")
    perfex("client", first="Ana", last="Horvat", email="ana@example.com", extra={"birthday": born})
    perfex("cron")
    perfex("cron")
    assert ledger_points(host) == [("earn", 50), ("earn", 100)]
    kinds = [t for _, _, t in stored(host)]
    assert kinds == ["customer.created", "customer.birthday"]


def test_plugin_down_perfex_returns_at_once_then_cron_delivers_each_once(
    perfex: Perfex, host: Any, served: str
) -> None:
    perfex("options", options={"loyalty_bridge_url": f"http://127.0.0.1:{closed_port()}/loyalty"})
    ana = perfex("client", first="Ana", last="Horvat", email="ana@example.com")
    assert perfex.seconds < 1
    lines = [["Beans 1 kg", "1.00", "50.00"]]
    invoice = perfex("invoice", client=ana, currency=perfex.currency, lines=lines)
    perfex("payment", invoice=invoice, amount="50.00")
    assert perfex.seconds < 1
    assert [status for _, status in perfex.statuses()] == ["pending", "pending"]
    assert ledger_points(host) == []

    with socket.socket() as silent:  # accepts connections and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        perfex("options", options={"loyalty_bridge_url": f"http://127.0.0.1:{port}/loyalty"})
        perfex("client", first="Bob", last="Stone", email="bob@example.com")
        assert perfex.seconds < 3, "Perfex's request waits at most about two seconds"

    perfex("options", options={"loyalty_bridge_url": served.removesuffix("/webhooks")})
    perfex("cron")
    assert ledger_points(host) == [], "not before the backoff has passed"
    perfex("later")
    perfex("cron")
    perfex("later")
    perfex("cron")
    assert [status for _, status in perfex.statuses()] == ["sent"] * 3
    assert sorted(ledger_points(host)) == [("earn", 5), ("earn", 50), ("earn", 50)]
    kinds = [t for _, _, t in stored(host)]
    assert kinds == ["customer.created", "invoice.paid", "customer.created"]


def write_key(host: Any, scope: str = "write") -> str:
    """A new API key (``write`` unless told) of the ``default`` merchant."""
    with host.app_context():
        session = host.extensions["loyalty"].db.session
        _, key = create_api_key(
            session, merchant_id="default", scope=scope, name="perfex", now=datetime.now(UTC)
        )
        session.commit()
    return key


def test_my_points_opens_the_customers_portal(perfex: Perfex, host: Any) -> None:
    key = write_key(host)
    assert "error" in perfex("portal_link", client=1), "no API key set yet"
    perfex("options", options={"loyalty_bridge_api_key": key})
    assert perfex("test_connection") == {
        "ok": True,
        "messages": [
            "The plugin answered and accepted the signature: URL, merchant, secret and clock "
            "are right.",
            "The API key is accepted.",
        ],
    }
    ana = perfex("client", first="Ana", last="Horvat", email="ana@example.com")
    link = perfex("portal_link", client=ana)
    path = urlsplit(link["url"]).path  # on LOYALTY_PUBLIC_URL, opened here on the test app
    assert path.startswith("/loyalty/portal/link/")
    page = host.test_client().get(path, follow_redirects=True)
    assert page.status_code == 200
    assert "Ana" in page.get_data(as_text=True)
    perfex("options", options={"loyalty_bridge_api_key": "lk_wrong_key"})
    assert perfex("portal_link", client=ana)["error"].startswith("HTTP 401")


def test_paying_with_points_records_the_payment_and_captures_the_hold(
    perfex: Perfex, host: Any, served: str
) -> None:
    perfex("options", options={"loyalty_bridge_api_key": write_key(host)})
    ana = perfex("client", first="Ana", last="Horvat", email="ana@example.com")
    first = perfex("invoice", client=ana, currency=perfex.currency, lines=[["Beans", "1", "500"]])
    perfex("payment", invoice=first, amount="500.00")
    invoice = perfex("invoice", client=ana, currency=perfex.currency, lines=[["Mug", "1", "50"]])
    assert perfex("points_offer", invoice=invoice) == {
        "points": 100,
        "amount": "1.00",
        "currency": "EUR",
        "balance": 100,
    }
    paid = perfex("pay_with_points", invoice=invoice)
    assert (paid["points"], paid["amount"]) == (100, "1.00")
    assert ledger_points(host) == [("earn", 50), ("earn", 50), ("hold", -100)]
    with host.app_context():
        from loyalty_plugin.models import Redemption

        redemption = host.extensions["loyalty"].db.session.scalars(sa.select(Redemption)).one()
        assert (redemption.status.value, redemption.invoice_id) == ("captured", str(invoice))

    perfex("payment", invoice=invoice, amount="49.00")  # the rest in money: 49.00 earns 4
    assert ledger_points(host)[-1] == ("earn", 4)
    url = served.removesuffix("/webhooks")
    perfex("options", options={"loyalty_bridge_url": f"http://127.0.0.1:{closed_port()}/loyalty"})
    perfex("delete_payment", payment=paid["payment_id"])  # while the plugin is down
    assert ledger_points(host)[-1] == ("earn", 4)
    perfex("options", options={"loyalty_bridge_url": url})
    perfex("later")
    perfex("cron")  # captured: the points come back, once
    perfex("later")
    perfex("cron")
    assert ledger_points(host)[-2:] == [("earn", 4), ("adjust", 100)]
    assert perfex.statuses()[-1] == (f"perfex-payment-{paid['payment_id']}-points-back", "sent")


def test_the_loyalty_menu_item_opens_the_admin_pages_signed_in(perfex: Perfex, host: Any) -> None:
    staff = {"first": "Maja", "last": "Kos", "email": "maja@example.com", "role": "manager"}
    perfex("options", options={"loyalty_bridge_api_key": write_key(host)})
    assert perfex("admin_link", **staff)["error"].startswith("HTTP 403")  # a write key
    perfex("options", options={"loyalty_bridge_api_key": write_key(host, "admin")})
    link = perfex("admin_link", **staff)
    path = urlsplit(link["url"]).path
    assert path.startswith("/loyalty/admin/link/")
    client = host.test_client()
    opened = client.get(path)
    assert opened.status_code in (302, 303)
    assert client.get(opened.headers["Location"], follow_redirects=True).status_code == 200
    assert client.get(path).status_code == 410, "the link works once"


class Recorder(BaseHTTPRequestHandler):
    """A slow endpoint that answers 200 and records each webhook-id it receives."""

    received: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        time.sleep(0.05)
        Recorder.received.append(self.headers["webhook-id"])
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"status": "processed"}')

    def log_message(self, *args: Any) -> None:
        pass


def test_two_cron_runs_at_once_send_each_event_once(perfex_dsn: str) -> None:
    perfex = Perfex(perfex_dsn)
    perfex("setup")
    port = closed_port()
    perfex(
        "options",
        options={
            "loyalty_bridge_url": f"http://127.0.0.1:{port}/loyalty",
            "loyalty_bridge_secret": SECRET,
        },
    )
    for n in range(12):  # queued while nothing listens
        perfex("client", first=f"C{n}", last="Queue", email=f"c{n}@example.com")
    perfex("later")
    server = ThreadingHTTPServer(("127.0.0.1", port), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        Recorder.received.clear()
        runs = [threading.Thread(target=perfex, args=("cron",)) for _ in range(2)]
        for run in runs:
            run.start()
        for run in runs:
            run.join()
    finally:
        server.shutdown()
        server.server_close()
    assert sorted(Recorder.received) == sorted(f"perfex-client-{n}-created" for n in range(1, 13))
    assert perfex.delivered() == {"sent"}, perfex("queue")


def test_an_uncancelled_invoice_earns_its_points_again_once(perfex: Perfex, host: Any) -> None:
    """Cancel, then unmark as cancelled: the points come back; the hook fired again adds
    nothing; a second cancellation and reinstatement take and give them once more."""
    ben = perfex("client", first="Ben", last="Okafor", email="ben@example.com")
    lines = [["Beans 1 kg", "1.00", "80.00"]]
    invoice = perfex("invoice", client=ben, currency=perfex.currency, lines=lines)
    perfex("payment", invoice=invoice, amount="80.00")
    perfex("cancel", invoice=invoice)
    perfex("uncancel", invoice=invoice)
    perfex("uncancel", invoice=invoice)
    assert ledger_points(host) == [("earn", 50), ("earn", 8), ("reverse", -8), ("earn", 8)]
    perfex("cancel", invoice=invoice)
    perfex("uncancel", invoice=invoice)
    assert ledger_points(host)[4:] == [("reverse", -8), ("earn", 8)]
