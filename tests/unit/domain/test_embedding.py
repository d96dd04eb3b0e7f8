"""Origins a merchant lets frame the portal: https origins only (http on loopback)."""

from __future__ import annotations

import pytest

from loyalty_plugin.domain.embedding import parse_origin, parse_origins
from loyalty_plugin.domain.errors import ValidationError


@pytest.mark.parametrize(
    ("typed", "origin"),
    [
        ("https://Shop.Example/", "https://shop.example"),
        ("https://crm.shop.example:8443", "https://crm.shop.example:8443"),
        ("https://crm.shop.example:443", "https://crm.shop.example"),
        ("http://localhost:8080", "http://localhost:8080"),
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("http://[::1]:9000", "http://[::1]:9000"),
        (" https://203.0.113.7 ", "https://203.0.113.7"),
    ],
)
def test_an_origin_is_normalised(typed: str, origin: str) -> None:
    """Scheme and host in lower case, no trailing slash, no default port."""
    assert parse_origin(typed) == origin


@pytest.mark.parametrize(
    "typed",
    [
        "http://shop.example",  # http only for loopback
        "https://shop.example/account",  # a path
        "https://shop.example/?a=1",
        "*",
        "https://*.shop.example",
        "'self'",
        "'none'",
        "https://shop.example; script-src *",  # header injection
        "https://shop.example https://evil.example",
        "ftp://shop.example",
        "shop.example",
        "https://user@shop.example",
        "https://shop.example:99999",
        "https://-shop.example",
        "",
        "data:",
    ],
)
def test_anything_but_an_origin_is_refused_at_the_field(typed: str) -> None:
    with pytest.raises(ValidationError) as refused:
        parse_origin(typed)
    assert refused.value.field == "portal_frame_ancestors"


def test_a_list_keeps_its_order_without_duplicates() -> None:
    given = ["https://b.example", "https://a.example", "https://B.example/"]
    assert parse_origins(given) == ["https://b.example", "https://a.example"]
    assert parse_origins(None) == []
    with pytest.raises(ValidationError):
        parse_origins("https://a.example")
    with pytest.raises(ValidationError):
        parse_origins([f"https://s{i}.example" for i in range(21)])
