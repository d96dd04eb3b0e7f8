"""``/cards`` and ``/card-batches``: make numbers, give them out, block, replace, look up."""

from __future__ import annotations

import csv
import io
from typing import Any

from sqlalchemy import func, select
from stdnum import luhn

from loyalty_plugin.models import AuditEntry, Card
from tests.api.conftest import PREFIX


def _generate(api: Any, count: int = 3, **scheme: Any) -> dict[str, Any]:
    answer = api.post("/card-batches", {"count": count, **scheme}, scope="admin")
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def _numbers(api: Any, batch_id: int) -> list[str]:
    answer = api.client.get(
        f"{PREFIX}/card-batches/{batch_id}/cards.csv", headers=api.headers("admin", None)
    )
    assert answer.status_code == 200
    assert answer.mimetype == "text/csv"
    return [row["number"] for row in csv.DictReader(io.StringIO(answer.get_data(as_text=True)))]


def test_generate_download_assign_and_look_up(api, customer) -> None:
    """A batch of Luhn numbers, its CSV, a card given to customer 42 and found by number."""
    customer("42", 100)
    batch = _generate(api, 3, prefix="2977", length=13)
    assert (batch["count"], batch["source"], batch["check_digit"]) == (3, "generated", "luhn")
    assert batch["created_by"].startswith("api:")
    numbers = _numbers(api, batch["id"])
    assert len(numbers) == 3 and all(luhn.is_valid(n) for n in numbers)
    given = api.post(f"/cards/{numbers[0]}/assign", {"customer_id": 42})
    assert given.status_code == 200, given.get_json()
    assert (given.get_json()["status"], given.get_json()["customer_id"]) == ("assigned", "42")
    spaced = f"{numbers[0][:4]} {numbers[0][4:]}"
    found = api.get(f"/cards/{spaced}")
    assert found.status_code == 200
    assert found.get_json()["customer_id"] == "42"


def test_replace_blocks_the_old_card_and_the_new_one_finds_the_customer(api, customer, db) -> None:
    customer("42", 100)
    old, new = _numbers(api, _generate(api, 2)["id"])
    api.post(f"/cards/{old}/assign", {"customer_id": "42"})
    answer = api.post(f"/cards/{old}/replace", {"new_number": new, "reason": "lost"})
    assert answer.status_code == 200, answer.get_json()
    assert (answer.get_json()["number"], answer.get_json()["customer_id"]) == (new, "42")
    was = api.get(f"/cards/{old}").get_json()
    assert (was["status"], was["replaced_by"], was["block_reason"]) == ("replaced", new, "lost")
    assert api.get("/customers/42").get_json()["accounts"][0]["balance"] == 100
    rows = db.scalars(
        select(AuditEntry).where(AuditEntry.action.startswith("card")).order_by(AuditEntry.id)
    ).all()
    assert [r.action for r in rows] == ["card_batch.generated", "card.assigned", "card.replaced"]
    assert {r.actor_kind for r in rows} == {"api_key"}


def test_a_retried_request_changes_nothing_twice(api, customer, db) -> None:
    """The same Idempotency-Key replays the first answer; the batch is made once."""
    first = api.post("/card-batches", {"count": 2}, scope="admin", key="gen-1")
    again = api.post("/card-batches", {"count": 2}, scope="admin", key="gen-1")
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert db.scalar(select(func.count()).select_from(Card)) == 2


def test_errors_name_their_field(api, customer) -> None:
    customer("42")
    number = _numbers(api, _generate(api, 1)["id"])[0]
    cases = [
        (api.post("/card-batches", {"count": 0}, scope="admin"), 422, "count"),
        (api.post("/card-batches", {"count": 5, "check_digit": "md5"}, scope="admin"), 422,
         "check_digit"),
        (api.post("/card-batches", {"count": 5, "prefix": "12345678901", "length": 13},
                  scope="admin"), 422, "length"),
        (api.post("/cards/0000000000000/assign", {"customer_id": "42"}), 404, "number"),
        (api.post(f"/cards/{number}/assign", {"customer_id": "nobody"}), 404, "customer_id"),
        (api.post(f"/cards/{number}/block", {"reason": ""}), 422, "reason"),
        (api.get("/cards/12*34"), 422, "number"),
    ]  # fmt: skip
    for answer, status, field in cases:
        body = answer.get_json()
        assert answer.status_code == status, body
        assert field in body["error"]["fields"], body


def test_a_card_given_away_cannot_be_given_again(api, customer) -> None:
    customer("42")
    customer("43")
    number = _numbers(api, _generate(api, 1)["id"])[0]
    api.post(f"/cards/{number}/assign", {"customer_id": "42"})
    answer = api.post(f"/cards/{number}/assign", {"customer_id": "43"})
    assert answer.status_code == 409
    assert answer.get_json()["error"]["code"] == "invalid_operation"


def test_import_is_all_or_nothing_and_names_each_bad_line(api, db) -> None:
    body = "number\n2977 0000 0000 7\n2977000000001\n12\n"
    answer = api.client.post(
        f"{PREFIX}/card-batches/import?length=13&prefix=2977&check_digit=luhn",
        data=body,
        headers={**api.headers("admin", None), "Content-Type": "text/csv"},
    )
    assert answer.status_code == 422
    error = answer.get_json()["error"]
    assert error["fields"]["file"] == [
        "line 3: number: the check digit does not match (luhn); is a digit mistyped?",
        "line 4: number: must be 13 digits, not 2",
    ]
    assert db.scalar(select(func.count()).select_from(Card)) == 0
    good = api.client.post(
        f"{PREFIX}/card-batches/import?length=13&prefix=2977",
        data="number\n2977 0000 0000 7\n",
        headers={**api.headers("admin", None), "Content-Type": "text/csv"},
    )
    assert good.status_code == 201, good.get_json()
    assert good.get_json()["count"] == 1
    assert api.get("/cards/2977000000007").get_json()["status"] == "available"


def test_making_cards_needs_an_admin_key_and_tenants_stay_apart(api, keys) -> None:
    assert api.post("/card-batches", {"count": 1}, scope="write").status_code == 403
    batch = _generate(api, 1)
    number = _numbers(api, batch["id"])[0]
    other = {"Authorization": f"Bearer {keys['other']}"}
    assert api.client.get(f"{PREFIX}/cards/{number}", headers=other).status_code == 404
    csv_of_other = api.client.get(f"{PREFIX}/card-batches/{batch['id']}/cards.csv", headers=other)
    assert csv_of_other.status_code == 404
