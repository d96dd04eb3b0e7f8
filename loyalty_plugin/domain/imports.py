"""Import files from another loyalty system: their CSV columns, and each row read into a
typed record or into errors naming its line and field.

Two files: customers (profile, enrolment, consents, card, date of birth) and opening
balances (points with the dates they were earned and expire). Rows are read one at a time
from any iterable of text lines, so a file of a million rows is never held in memory.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from loyalty_plugin.domain.errors import LoyaltyError

#: Longest cell kept in an error message, so a report never echoes a huge value.
_SHOWN = 40


@dataclass(frozen=True, slots=True)
class RowError:
    """Why one cell (or the header, line 1) of a file was refused."""

    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.message}"


@dataclass(frozen=True, slots=True)
class BadRow:
    """A row with at least one refused cell; ``customer_id`` is its raw id cell."""

    line: int
    customer_id: str
    errors: tuple[RowError, ...]


@dataclass(frozen=True, slots=True)
class CustomerRow:
    """A customer to create or update: only the cells the file filled in."""

    line: int
    customer_id: str
    profile: dict[str, Any]


@dataclass(frozen=True, slots=True)
class BalanceRow:
    """One lot of a customer's opening balance."""

    line: int
    customer_id: str
    points: int
    earned_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class OpeningBalance:
    """Every row of one customer (consecutive in the file), good or bad."""

    customer_id: str
    rows: tuple[BalanceRow, ...]
    bad: tuple[BadRow, ...]

    @property
    def points(self) -> int:
        """The opening balance: the sum of its lots."""
        return sum(row.points for row in self.rows)


@dataclass(frozen=True, slots=True)
class Column:
    """One CSV column: its header name, whether every row needs it, and what it holds."""

    name: str
    required: bool
    description: str


class _Refused(ValueError):
    """A cell that cannot be read; the message says what was expected."""


# -- cells -------------------------------------------------------------------------------


def _text(limit: int) -> Callable[[str], str]:
    def parse(cell: str) -> str:
        if len(cell) > limit:
            raise _Refused(f"at most {limit} characters (this one has {len(cell)})")
        return cell

    return parse


def _email(cell: str) -> str:
    _text(254)(cell)
    if not re.fullmatch(r"[^@\s]+@[^@\s]+", cell):
        raise _Refused(f"{_show(cell)} is not an e-mail address")
    return cell


def _country(cell: str) -> str:
    if not re.fullmatch(r"[A-Za-z]{2}", cell):
        raise _Refused(f"{_show(cell)} is not a two-letter ISO 3166 country code")
    return cell.upper()


_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0"}


def _boolean(cell: str) -> bool:
    word = cell.lower()
    if word in _TRUE | _FALSE:
        return word in _TRUE
    raise _Refused(f"{_show(cell)} is not true/false (or yes/no, 1/0)")


def _points(cell: str) -> int:
    if not re.fullmatch(r"\+?[0-9]{1,15}", cell):
        raise _Refused(f"{_show(cell)} is not a whole number of points")
    points = int(cell)
    if points <= 0:
        raise _Refused("points must be positive")
    return points


def _day(cell: str) -> date:
    try:
        return date.fromisoformat(cell)
    except ValueError:
        raise _Refused(f"{_show(cell)} is not a date (YYYY-MM-DD)") from None


def _moment(cell: str, tz: tzinfo, *, end_of_day: bool) -> datetime:
    """A date (start of that day, or its end) or an ISO datetime, in the merchant's zone."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", cell):
        day = _day(cell) + timedelta(days=1 if end_of_day else 0)
        return datetime.combine(day, time(), tzinfo=tz)
    try:
        moment = datetime.fromisoformat(cell)
    except ValueError:
        raise _Refused(
            f"{_show(cell)} is not a date (YYYY-MM-DD) or date and time (ISO 8601)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def _show(cell: str) -> str:
    return repr(cell if len(cell) <= _SHOWN else cell[:_SHOWN] + "...")


# -- columns -----------------------------------------------------------------------------

#: The customers file, in the order the docs list them.
CUSTOMER_COLUMNS: tuple[Column, ...] = (
    Column("customer_id", True, "the host's id for the customer (up to 64 characters)"),
    Column("first_name", True, "up to 100 characters"),
    Column("last_name", False, "up to 100 characters"),
    Column("email", False, "an e-mail address"),
    Column("phone", False, "up to 32 characters"),
    Column("address_line", False, "up to 200 characters"),
    Column("city", False, "up to 100 characters"),
    Column("state", False, "up to 100 characters"),
    Column("postal_code", False, "up to 20 characters"),
    Column("country", False, "ISO 3166-1 alpha-2 code, e.g. `DE`"),
    Column("date_of_birth", False, "`YYYY-MM-DD`, not in the future"),
    Column("customer_group", False, "the host's customer group (program audiences)"),
    Column("customer_number", False, "the host's customer number, up to 64 characters"),
    Column("card_number", False, "loyalty card number, unique per merchant"),
    Column(
        "enrolled",
        False,
        "`true`/`false` (also `yes`/`no`, `1`/`0`); new: the merchant's `auto_enrol`",
    ),
    Column("email_opt_in", False, "consent to e-mails, `true`/`false`; new: `false`"),
    Column("sms_opt_in", False, "consent to text messages, `true`/`false`; new: `false`"),
)

_PROFILE_PARSERS: dict[str, Callable[[str], Any]] = {
    "first_name": _text(100),
    "last_name": _text(100),
    "email": _email,
    "phone": _text(32),
    "address_line": _text(200),
    "city": _text(100),
    "state": _text(100),
    "postal_code": _text(20),
    "country": _country,
    "date_of_birth": _day,
    "customer_group": _text(64),
    "customer_number": _text(64),
    "card_number": _text(64),
    "enrolled": _boolean,
    "email_opt_in": _boolean,
    "sms_opt_in": _boolean,
}

#: The opening-balances file.
BALANCE_COLUMNS: tuple[Column, ...] = (
    Column("customer_id", True, "the host's id of a customer already imported"),
    Column("points", True, "a positive whole number"),
    Column("earned_at", True, "`YYYY-MM-DD` (start of day) or ISO 8601 date and time"),
    Column("expires_at", False, "`YYYY-MM-DD` (valid through that day) or ISO 8601; empty: never"),
)


#: Where each column's errors come in a row's list ("row" first, then column order).
_ORDER = {c.name: i for i, c in reversed(list(enumerate(CUSTOMER_COLUMNS + BALANCE_COLUMNS)))}


# -- rows --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RawRow:
    """A data row's stripped cells by column, and what was wrong before reading them."""

    line: int
    cells: dict[str, str]
    errors: tuple[RowError, ...] = ()


@dataclass(frozen=True, slots=True)
class CardRow:
    """One pre-printed card number, as the scheme's check normalised it."""

    line: int
    number: str


#: The columns of a pre-printed cards file.
CARD_COLUMNS = (Column("number", True, "the card number as printed on the card"),)


def read_card_numbers(
    lines: Iterable[str], *, check: Callable[[str], str]
) -> Iterator[CardRow | BadRow]:
    """Each data row of a cards file: its number normalised by ``check``, or why not.

    ``check`` raises a :class:`~loyalty_plugin.domain.errors.LoyaltyError` whose message
    says what is wrong with the number.
    """
    for raw in _rows(lines, CARD_COLUMNS):
        if not isinstance(raw, RawRow):
            yield raw
            continue
        errors = list(raw.errors)
        number = _required(raw, "number", _checked(check), errors)
        yield CardRow(raw.line, number) if not errors else BadRow(raw.line, "", tuple(errors))


def _checked(check: Callable[[str], str]) -> Callable[[str], str]:
    def parse(cell: str) -> str:
        try:
            return check(cell)
        except LoyaltyError as error:
            raise _Refused(error.message) from None

    return parse


def read_customers(lines: Iterable[str], *, today: date) -> Iterator[CustomerRow | BadRow]:
    """Each data row of a customers file, read; a bad header is one :class:`BadRow` (line 1)."""
    for raw in _rows(lines, CUSTOMER_COLUMNS):
        yield parse_customer(raw, today=today) if isinstance(raw, RawRow) else raw


def parse_customer(raw: RawRow, *, today: date) -> CustomerRow | BadRow:
    """One customers row: the profile from its non-empty cells, or every refused cell."""
    line, cells, errors = raw.line, raw.cells, list(raw.errors)
    customer_id = _required(raw, "customer_id", _text(64), errors)
    _required(raw, "first_name", _text(100), errors)
    profile: dict[str, Any] = {}
    for name, parse in _PROFILE_PARSERS.items():
        if cells.get(name):
            profile[name] = _cell(line, name, errors, lambda p=parse, c=cells[name]: p(c))
    born = profile.get("date_of_birth")
    if born is not None and not date(1900, 1, 1) <= born <= today:
        errors.append(RowError(line, "date_of_birth", "must be between 1900-01-01 and today"))
    if errors:
        return _bad(raw, errors)
    return CustomerRow(line, customer_id, profile)


def read_balances(
    lines: Iterable[str], *, now: datetime, tz: tzinfo
) -> Iterator[BalanceRow | BadRow]:
    """Each data row of an opening-balances file, read; dates without a zone are in ``tz``."""
    for raw in _rows(lines, BALANCE_COLUMNS):
        yield parse_balance(raw, now=now, tz=tz) if isinstance(raw, RawRow) else raw


def parse_balance(raw: RawRow, *, now: datetime, tz: tzinfo) -> BalanceRow | BadRow:
    """One opening-balance row (a lot), or every refused cell."""
    line, errors = raw.line, list(raw.errors)
    customer_id = _required(raw, "customer_id", _text(64), errors)
    points = _required(raw, "points", _points, errors)
    earned = _required(raw, "earned_at", lambda c: _moment(c, tz, end_of_day=False), errors)
    expires = None
    if cell := raw.cells.get("expires_at"):
        expires = _cell(line, "expires_at", errors, lambda: _moment(cell, tz, end_of_day=True))
    if earned is not None and earned > now:
        errors.append(RowError(line, "earned_at", "is in the future"))
    if expires is not None and earned is not None and expires <= earned:
        errors.append(RowError(line, "expires_at", "must be after earned_at"))
    elif expires is not None and expires <= now:
        errors.append(RowError(line, "expires_at", "has passed: these points already expired"))
    if errors:
        return _bad(raw, errors)
    return BalanceRow(line, customer_id, points, earned, expires)


def group_by_customer(rows: Iterable[BalanceRow | BadRow]) -> Iterator[OpeningBalance | BadRow]:
    """Consecutive rows of one customer as one opening balance; a file error alone."""
    current: list[BalanceRow | BadRow] = []
    for row in rows:
        alone = isinstance(row, BadRow) and not row.customer_id
        if current and (alone or current[0].customer_id != row.customer_id):
            yield _opening(current)
            current = []
        if alone:
            yield row
        else:
            current.append(row)
    if current:
        yield _opening(current)


def _opening(rows: list[BalanceRow | BadRow]) -> OpeningBalance:
    good = tuple(r for r in rows if isinstance(r, BalanceRow))
    bad = tuple(r for r in rows if isinstance(r, BadRow))
    return OpeningBalance(rows[0].customer_id, good, bad)


def _bad(raw: RawRow, errors: list[RowError]) -> BadRow:
    """The row's errors, the first one per field, in the order of the columns."""
    seen: dict[str, RowError] = {}
    for error in errors:
        seen.setdefault(error.field, error)
    ordered = sorted(seen.values(), key=lambda e: _ORDER.get(e.field, -1))
    return BadRow(raw.line, raw.cells.get("customer_id", ""), tuple(ordered))


def _required(raw: RawRow, name: str, parse: Callable[[str], Any], errors: list[RowError]) -> Any:
    cell = raw.cells.get(name, "")
    if not cell:
        if not any(e.field == name for e in errors):
            errors.append(RowError(raw.line, name, "is required"))
        return None
    return _cell(raw.line, name, errors, lambda: parse(cell))


def _cell(line: int, name: str, errors: list[RowError], read: Callable[[], Any]) -> Any:
    try:
        return read()
    except _Refused as refused:
        errors.append(RowError(line, name, str(refused)))
        return None


def _rows(lines: Iterable[str], columns: tuple[Column, ...]) -> Iterator[RawRow | BadRow]:
    """Each non-blank data row; a bad header or broken quoting is a :class:`BadRow` that ends it.

    ``line`` is the file line a row starts on (a quoted cell may span lines).
    """
    reader = csv.reader(lines, strict=True)
    try:
        header = [name.strip().lstrip("\ufeff") for name in next(reader, [])]
        problem = _header_problem(header, columns)
    except csv.Error as error:
        problem = RowError(1, "header", f"not valid CSV: {error}")
    if problem:
        yield BadRow(1, "", (problem,))
        return
    start = reader.line_num + 1
    try:
        for cells in reader:
            line, start = start, reader.line_num + 1
            if any(cell.strip() for cell in cells):
                yield _raw(line, header, cells)
    except csv.Error as error:
        yield BadRow(start, "", (RowError(start, "row", f"not valid CSV: {error}"),))


def _raw(line: int, header: list[str], cells: list[str]) -> RawRow:
    """The row's cells by column; a NUL character or a cell too many is refused."""
    errors: list[RowError] = []
    if len(cells) > len(header):
        errors.append(
            RowError(line, "row", f"{len(cells)} cells where the header has {len(header)}")
        )
    row: dict[str, str] = {}
    for name, cell in zip(header, cells, strict=False):
        if "\x00" in cell:
            errors.append(RowError(line, name, "must not contain a NUL character"))
            cell = ""
        row[name] = cell.strip()
    return RawRow(line, row, tuple(errors))


def _header_problem(header: list[str], columns: tuple[Column, ...]) -> RowError | None:
    known = [c.name for c in columns]
    if not any(header):
        return RowError(1, "header", "the file is empty: its first line names the columns")
    for name in header:
        if name not in known:
            return RowError(1, name, f"unknown column; the columns are {', '.join(known)}")
    if len(set(header)) != len(header):
        twice = next(n for n in header if header.count(n) > 1)
        return RowError(1, twice, "column named twice")
    for column in columns:
        if column.required and column.name not in header:
            return RowError(1, column.name, "required column missing from the header")
    return None
