"""Card batches: numbers drawn from a scheme or read from a pre-printed file, and their CSV.

Numbers are unique per merchant by the ``cards`` table's unique key. Generation draws
random numbers, leaves out those already taken, and inserts them in ascending order; two
generations at once that draw the same number meet on the unique key, and the loser's
transaction is retried by :func:`~loyalty_plugin.services.transaction.run_in_transaction`
with fresh numbers (it now sees the winner's). An import is all or nothing: a file with one
bad line imports no card, and the error names every bad line and field.
"""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.cards import MAX_BATCH, NumberScheme, normalise
from loyalty_plugin.domain.errors import InvalidOperation, NotFound, ValidationError
from loyalty_plugin.domain.imports import BadRow, RowError, read_card_numbers
from loyalty_plugin.models import Card, CardBatch, CardSource, CardStatus, Customer
from loyalty_plugin.services.audit import Actor, record_change
from loyalty_plugin.services.ledger.accounts import get_merchant

#: Numbers per ``IN (...)`` look-up and per insert statement.
_CHUNK = 1000
#: Rounds of drawing before a nearly full scheme is given up on.
_MAX_ROUNDS = 50
#: Most numbers drawn in one round.
_MAX_DRAWS = 200_000
#: A scheme this small that is more than half full has its free numbers listed instead.
_ENUMERATE_UP_TO = 200_000
#: Errors an import refusal lists (the count says how many there were).
MAX_ERRORS_SHOWN = 100


class CardImportRefused(ValidationError):
    """A cards file with bad lines: nothing was imported; ``errors`` says where and why."""

    def __init__(self, errors: list[RowError]) -> None:
        lines = len({e.line for e in errors})
        super().__init__(
            f"{lines} line{'s' if lines != 1 else ''} refused; no card was imported",
            field="file",
        )
        self.errors = tuple(errors)

    def to_dict(self) -> dict[str, object]:
        """The refusal, with the first :data:`MAX_ERRORS_SHOWN` errors under ``file``."""
        body = super().to_dict()
        body["fields"] = {"file": [str(e) for e in self.errors[:MAX_ERRORS_SHOWN]]}
        return body


def generate_cards(
    session: Session,
    *,
    merchant_id: str,
    scheme: NumberScheme,
    count: int,
    actor: Actor,
    now: datetime,
    request_key: str | None = None,
) -> CardBatch:
    """Make ``count`` new available cards of ``scheme`` as one batch.

    A repeat with the same ``request_key`` returns the first batch and makes nothing.

    :raises ValidationError: on ``count`` (not 1 to :data:`MAX_BATCH`, or more than the
        scheme has room for).
    """
    if (done := _replayed(session, merchant_id, request_key)) is not None:
        return done
    _check_count(count)
    get_merchant(session, merchant_id)
    numbers = _draw(session, merchant_id, scheme, count)
    batch = _new_batch(
        session, merchant_id, CardSource.GENERATED, scheme, len(numbers), actor, now, request_key
    )
    _insert(session, batch, numbers, now)
    _audit(session, batch, actor, "card_batch.generated", now)
    return batch


def import_cards(
    session: Session,
    *,
    merchant_id: str,
    lines: Iterable[str],
    scheme: NumberScheme | None,
    actor: Actor,
    now: datetime,
    request_key: str | None = None,
) -> CardBatch:
    """Make available cards of the pre-printed numbers in a CSV file (column ``number``).

    Each number must fit ``scheme`` when one is given (prefix, length, check digit), and be
    new: not on another line, not a card already. All or nothing.

    :raises CardImportRefused: listing every bad line and field; nothing is imported.
    """
    if (done := _replayed(session, merchant_id, request_key)) is not None:
        return done
    get_merchant(session, merchant_id)
    numbers, errors = _read_file(lines, scheme)
    errors += _already_cards(session, merchant_id, numbers)
    if not numbers and not errors:
        errors.append(RowError(2, "number", "the file has no card numbers"))
    if errors:
        raise CardImportRefused(sorted(errors, key=lambda e: e.line))
    batch = _new_batch(
        session, merchant_id, CardSource.IMPORTED, scheme, len(numbers), actor, now, request_key
    )
    _insert(session, batch, sorted(numbers), now)
    _audit(session, batch, actor, "card_batch.imported", now)
    return batch


def get_batch(session: Session, merchant_id: str, batch_id: int) -> CardBatch:
    """The merchant's batch.

    :raises NotFound: on ``batch_id`` (also for another merchant's batch).
    """
    batch = session.get(CardBatch, batch_id)
    if batch is None or batch.merchant_id != merchant_id:
        raise NotFound(f"card batch {batch_id} does not exist", field="batch_id")
    return batch


def list_batches(session: Session, merchant_id: str, *, limit: int = 50) -> list[CardBatch]:
    """The merchant's newest batches first."""
    return list(
        session.scalars(
            select(CardBatch)
            .where(CardBatch.merchant_id == merchant_id)
            .order_by(CardBatch.id.desc())
            .limit(limit)
        )
    )


#: The columns of a batch's CSV, in order.
CSV_COLUMNS = ("number", "batch_id", "status", "customer_id")


def batch_csv(session: Session, *, merchant_id: str, batch_id: int) -> Iterator[str]:
    """The batch's cards as CSV text, a chunk at a time, in number order, for printing.

    The batch is checked at once (:class:`NotFound` before any line is produced); the rows
    are read from the database as the caller consumes them.
    """
    batch = get_batch(session, merchant_id, batch_id)
    return _csv_lines(session, batch)


def _csv_lines(session: Session, batch: CardBatch) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    rows = session.execute(
        select(Card.number, Card.status, Customer.host_customer_id)
        .outerjoin(Customer, Customer.id == Card.customer_id)
        .where(Card.merchant_id == batch.merchant_id, Card.batch_id == batch.id)
        .order_by(Card.number)
        .execution_options(yield_per=_CHUNK)
    )
    for number, status, host_id in rows:
        writer.writerow((number, batch.id, status.value, host_id or ""))
        if buffer.tell() > 64_000:
            yield _drain(buffer)
    yield _drain(buffer)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def batch_document(batch: CardBatch) -> dict[str, Any]:
    """A batch as the API and the audit trail show it."""
    return {
        "id": batch.id,
        "source": batch.source.value,
        "prefix": batch.prefix,
        "length": batch.length,
        "check_digit": batch.check_digit,
        "count": batch.count,
        "created_by": batch.created_by,
        "created_at": batch.created_at,
    }


# -- drawing and inserting -------------------------------------------------------------------


def _check_count(count: int) -> None:
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_BATCH:
        raise ValidationError(f"must be a whole number from 1 to {MAX_BATCH}", field="count")


def _draw(session: Session, merchant_id: str, scheme: NumberScheme, count: int) -> list[str]:
    """``count`` numbers of ``scheme`` that are no card of the merchant yet, ascending."""
    free = scheme.capacity - _taken(session, merchant_id, scheme)
    if count > free:
        raise ValidationError(
            f"the scheme has room for {max(free, 0)} more cards; make the numbers longer or "
            "use another prefix",
            field="count",
        )
    if count * 2 > free and scheme.capacity <= _ENUMERATE_UP_TO:
        return _pick_from_all(session, merchant_id, scheme, count)
    # Draw enough that about ``wanted`` of them are free, however full the scheme is.
    factor = scheme.capacity / (free - count // 2)
    chosen: set[str] = set()
    for _ in range(_MAX_ROUNDS):
        wanted = count - len(chosen)
        if not wanted:
            return sorted(chosen)
        draws = min(int(wanted * factor * 1.05) + 8, _MAX_DRAWS)
        fresh = {scheme.draw() for _ in range(draws)} - chosen
        fresh -= _existing(session, merchant_id, fresh)
        chosen.update(list(fresh)[:wanted])
    raise InvalidOperation(
        f"found only {len(chosen)} free numbers of {count}: the scheme is nearly full",
        field="count",
    )


def _pick_from_all(
    session: Session, merchant_id: str, scheme: NumberScheme, count: int
) -> list[str]:
    """A nearly full small scheme: list every free number and pick ``count`` at random."""
    taken = set(
        session.scalars(
            select(Card.number).where(
                Card.merchant_id == merchant_id,
                Card.number.startswith(scheme.prefix, autoescape=True),
                func.length(Card.number) == scheme.length,
            )
        )
    )
    width = scheme.random_digits
    every = (scheme.complete(scheme.prefix + str(i).zfill(width)) for i in range(scheme.capacity))
    free = [number for number in every if number not in taken]
    return sorted(secrets.SystemRandom().sample(free, count))


def _taken(session: Session, merchant_id: str, scheme: NumberScheme) -> int:
    """Cards whose number has the scheme's prefix and length (an upper bound of its use)."""
    return (
        session.scalar(
            select(func.count())
            .select_from(Card)
            .where(
                Card.merchant_id == merchant_id,
                Card.number.startswith(scheme.prefix, autoescape=True),
                func.length(Card.number) == scheme.length,
            )
        )
        or 0
    )


def _existing(session: Session, merchant_id: str, numbers: Iterable[str]) -> set[str]:
    """Which of ``numbers`` are cards of the merchant already."""
    return set(_holders(session, merchant_id, numbers))


def _holders(session: Session, merchant_id: str, numbers: Iterable[str]) -> dict[str, int]:
    """The batch of each of ``numbers`` that is a card of the merchant already."""
    ordered = sorted(numbers)
    found: dict[str, int] = {}
    for start in range(0, len(ordered), _CHUNK):
        rows = session.execute(
            select(Card.number, Card.batch_id).where(
                Card.merchant_id == merchant_id,
                Card.number.in_(ordered[start : start + _CHUNK]),
            )
        )
        found.update((number, batch_id) for number, batch_id in rows)
    return found


def _new_batch(
    session: Session,
    merchant_id: str,
    source: CardSource,
    scheme: NumberScheme | None,
    count: int,
    actor: Actor,
    now: datetime,
    request_key: str | None,
) -> CardBatch:
    batch = CardBatch(
        merchant_id=merchant_id,
        source=source,
        prefix=scheme.prefix if scheme else "",
        length=scheme.length if scheme else None,
        check_digit=scheme.check_digit if scheme else "none",
        count=count,
        created_by=actor.label,
        created_at=now,
        request_key=request_key,
    )
    session.add(batch)
    session.flush()
    return batch


def _insert(session: Session, batch: CardBatch, numbers: list[str], now: datetime) -> None:
    """Insert the cards in ascending order, so that two batches racing lock in one order."""
    for start in range(0, len(numbers), _CHUNK):
        # Core, not the ORM's bulk insert: nothing needs the rows back as objects.
        session.execute(
            insert(Card.__table__),
            [
                {
                    "merchant_id": batch.merchant_id,
                    "number": number,
                    "status": CardStatus.AVAILABLE,
                    "batch_id": batch.id,
                    "created_at": now,
                    "updated_at": now,
                }
                for number in numbers[start : start + _CHUNK]
            ],
        )


def _replayed(session: Session, merchant_id: str, request_key: str | None) -> CardBatch | None:
    if request_key is None:
        return None
    return session.scalars(
        select(CardBatch).where(
            CardBatch.merchant_id == merchant_id, CardBatch.request_key == request_key
        )
    ).one_or_none()


def _audit(session: Session, batch: CardBatch, actor: Actor, action: str, now: datetime) -> None:
    record_change(
        session,
        merchant_id=batch.merchant_id,
        actor=actor,
        action=action,
        target_type="card_batch",
        target_id=str(batch.id),
        before=None,
        after=batch_document(batch),
        now=now,
    )


# -- importing -------------------------------------------------------------------------------


def _read_file(
    lines: Iterable[str], scheme: NumberScheme | None
) -> tuple[dict[str, int], list[RowError]]:
    """The file's numbers with their line, and every bad line (a number twice included)."""
    check = scheme.check if scheme is not None else (lambda n: normalise(n, field="number"))
    numbers: dict[str, int] = {}
    errors: list[RowError] = []
    for row in read_card_numbers(lines, check=check):
        if isinstance(row, BadRow):
            errors.extend(row.errors)
        elif row.number in numbers:
            message = f"{row.number} is on line {numbers[row.number]} already"
            errors.append(RowError(row.line, "number", message))
        else:
            numbers[row.number] = row.line
        if len(numbers) > MAX_BATCH:
            errors.append(RowError(row.line, "number", f"a file holds at most {MAX_BATCH} cards"))
            break
    return numbers, errors


def _already_cards(session: Session, merchant_id: str, numbers: dict[str, int]) -> list[RowError]:
    return [
        RowError(numbers[number], "number", f"{number} is a card already (batch {batch_id})")
        for number, batch_id in _holders(session, merchant_id, numbers).items()
    ]
