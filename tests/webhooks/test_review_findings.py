"""Edge cases found in review: ambiguous ids, out-of-range money, answers that name the row."""

from __future__ import annotations

from tests.webhooks.conftest import customer, event, invoice, ledger_points, stored


def payment(invoice_id: str, payment_id: str) -> dict:
    return event(
        "invoice.payment_recorded",
        {
            "invoice": invoice(invoice_id, total="50.00"),
            "payment": {"id": payment_id, "amount": "50.00"},
        },
    )


def test_colons_in_host_ids_cannot_fake_another_payment(send, shop) -> None:
    """Invoice ``A:B`` paid by ``C`` and invoice ``A`` paid by ``B:C`` are two payments."""
    assert send(event("customer.created", {"customer": customer()})).status == 200
    assert send(payment("A:B", "C")).status == 200
    answer = send(payment("A", "B:C"))
    assert answer.status == 200
    assert "already_counted_by" not in answer.body["result"]
    assert ledger_points(shop)[-2:] == [("earn", 5), ("earn", 5)]


def test_money_beyond_the_columns_is_refused_with_the_field(send) -> None:
    """An amount the database cannot hold is a 422 naming the field, never a retry loop."""
    for total in ("1e30", "123456789012345678.5", "10.00001"):
        answer = send(event("invoice.paid", {"invoice": invoice("INV-9", total=total)}))
        assert answer.status == 422, (total, answer.body)
        assert "data.invoice.total" in answer.body["error"]["fields"]


def test_nul_in_an_event_is_refused_and_stored_as_rejected(send) -> None:
    """A NUL inside a string of a signed event: 422 with the field; it is never retried."""
    answer = send(event("customer.created", {"customer": customer(first_name="A\u0000na")}))
    assert answer.status == 422
    assert answer.body["error"]["fields"] == {
        "data.customer.first_name": ["must not contain NUL characters"]
    }


def test_raw_nul_byte_is_bad_json_and_kept(post, host) -> None:
    """A body with a raw NUL byte is malformed JSON: 400, and the delivery is stored."""
    answer = post(b'{"type": "customer.created", "data": {"x": "\x00"}}')
    assert answer.status_code == 400
    assert [status for _id, status, _type in stored(host)] == ["rejected"]
