"""Reading import files: each row a typed record, or errors naming its line and field."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from loyalty_plugin.domain.imports import (
    BadRow,
    BalanceRow,
    CustomerRow,
    OpeningBalance,
    RowError,
    group_by_customer,
    read_balances,
    read_customers,
)

TODAY = date(2026, 1, 15)
NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")


def customers(text: str) -> list[CustomerRow | BadRow]:
    return list(read_customers(text.splitlines(keepends=True), today=TODAY))


def balances(text: str) -> list[BalanceRow | BadRow]:
    return list(read_balances(text.splitlines(keepends=True), now=NOW, tz=BERLIN))


def test_a_customer_row_keeps_only_the_cells_filled_in() -> None:
    """Empty cells are not part of the profile (an update leaves those fields alone)."""
    (row,) = customers(
        "customer_id,first_name,last_name,email,country,enrolled,sms_opt_in,date_of_birth\n"
        "42, Ada ,,ada@example.com,de,yes,0,1990-02-28\n"
    )
    assert row == CustomerRow(
        2,
        "42",
        {
            "first_name": "Ada",
            "email": "ada@example.com",
            "country": "DE",
            "enrolled": True,
            "sms_opt_in": False,
            "date_of_birth": date(1990, 2, 28),
        },
    )


def test_every_bad_cell_of_a_row_is_reported_with_its_line_and_field() -> None:
    """One error per refused field, on the line the row starts (a quoted cell may span two)."""
    rows = customers(
        "customer_id,first_name,email,date_of_birth,enrolled\n"
        '1,"Ada\nLovelace",ada@example.com,,\n'
        "2,,not-an-email,2030-01-01,perhaps\n"
    )
    assert isinstance(rows[0], CustomerRow)
    assert rows[0].profile["first_name"] == "Ada\nLovelace"
    assert rows[1] == BadRow(
        4,
        "2",
        (
            RowError(4, "first_name", "is required"),
            RowError(4, "email", "'not-an-email' is not an e-mail address"),
            RowError(4, "date_of_birth", "must be between 1900-01-01 and today"),
            RowError(4, "enrolled", "'perhaps' is not true/false (or yes/no, 1/0)"),
        ),
    )


def test_too_long_cells_extra_cells_and_nul_characters_are_refused() -> None:
    """Lengths are those of the database columns; a NUL can never be stored."""
    rows = customers(
        f"customer_id,first_name,postal_code\n1,Ada,{'9' * 21}\n2,Alan,12345,extra\n3,Gr\x00ace,\n"
    )
    assert [(e.line, e.field) for row in rows for e in row.errors] == [
        (2, "postal_code"),
        (3, "row"),
        (4, "first_name"),
    ]
    assert rows[0].errors[0].message == "at most 20 characters (this one has 21)"


def test_a_bad_header_is_one_error_on_line_1_and_nothing_is_read() -> None:
    """Unknown or missing required columns stop the file before any row."""
    assert customers("customer_id,first_name,nickname\n1,Ada,A\n") == [
        BadRow(
            1,
            "",
            (
                RowError(
                    1,
                    "nickname",
                    "unknown column; the columns are customer_id, first_name, last_name, "
                    "email, phone, address_line, city, state, postal_code, country, "
                    "date_of_birth, customer_group, customer_number, card_number, enrolled, "
                    "email_opt_in, sms_opt_in",
                ),
            ),
        )
    ]
    (bad,) = customers("customer_id,last_name\n1,L\n")
    assert bad.errors == (RowError(1, "first_name", "required column missing from the header"),)
    (empty,) = customers("")
    assert empty.errors[0].field == "header"


def test_a_byte_order_mark_and_blank_lines_are_ignored() -> None:
    """Spreadsheets save UTF-8 with a BOM and often end with empty rows."""
    rows = customers("\ufeffcustomer_id,first_name\n\n1,Ada\n,\n")
    assert rows == [CustomerRow(3, "1", {"first_name": "Ada"})]


def test_balance_dates_are_in_the_merchants_zone_and_expiry_dates_last_the_whole_day() -> None:
    """``2026-03-31`` as an expiry keeps the points through March 31st, Berlin time."""
    (row,) = balances("customer_id,points,earned_at,expires_at\n1,+500,2025-03-01,2026-03-31\n")
    assert row == BalanceRow(
        2,
        "1",
        500,
        datetime(2025, 3, 1, tzinfo=BERLIN),
        datetime(2026, 4, 1, tzinfo=BERLIN),
    )
    (timed,) = balances("customer_id,points,earned_at\n1,5,2025-03-01T10:00:00Z\n")
    assert timed.earned_at == datetime(2025, 3, 1, 10, tzinfo=UTC) and timed.expires_at is None


def test_bad_balance_rows_name_their_field() -> None:
    """Points are positive whole numbers; dates are real, in order and not yet past."""
    rows = balances(
        "customer_id,points,earned_at,expires_at\n"
        "1,12.5,2025-01-01,\n"
        "1,0,2025-13-01,\n"
        "2,10,2027-01-01,\n"
        "3,10,2025-06-01,2025-05-01\n"
        "4,10,2025-01-01,2025-12-31\n"
    )
    assert [(e.line, e.field, e.message) for row in rows for e in row.errors] == [
        (2, "points", "'12.5' is not a whole number of points"),
        (3, "points", "points must be positive"),
        (3, "earned_at", "'2025-13-01' is not a date (YYYY-MM-DD)"),
        (4, "earned_at", "is in the future"),
        (5, "expires_at", "must be after earned_at"),
        (6, "expires_at", "has passed: these points already expired"),
    ]


def test_consecutive_rows_of_a_customer_are_one_opening_balance() -> None:
    """A customer's lots travel together, bad ones included, so they are refused together."""
    groups = list(
        group_by_customer(
            balances(
                "customer_id,points,earned_at,expires_at\n"
                "1,100,2025-01-01,\n"
                "1,50,2025-02-01,2027-01-01\n"
                "2,10,2025-01-01,\n"
                "2,x,2025-01-01,\n"
                ",5,2025-01-01,\n"
            )
        )
    )
    assert [type(g) for g in groups] == [OpeningBalance, OpeningBalance, BadRow]
    first, second, alone = groups
    assert (first.customer_id, first.points, first.bad) == ("1", 150, ())
    assert (len(second.rows), second.bad[0].line) == (1, 5)
    assert alone.errors[0] == RowError(6, "customer_id", "is required")
